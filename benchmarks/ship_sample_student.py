"""Package a distilled student with the sample: half-precision weights, manifest, and its scores.

    python benchmarks/ship_sample_student.py --student DIR [--fp16-eval A.json --fp16-fused F.json]
                                             [--scores-only | --no-scores]

``DIR`` is a student made by ``cascade distill`` (its ``distilled.json`` holds the teacher, the
training queries, the settings and the held-out report). This writes
``sample_data/models/scifact-student/``:

* the weights in float16 (``model.safetensors``; computed in float32 on a CPU, see
  ``cascade_core.models.loading``), config and tokenizer: a ``cross:PATH`` folder;
* ``distilled.json``: the student's own record, plus ``serves`` (the sample's corpus
  fingerprint: the sample is a subset of SciFact's corpus and its queries are SciFact *test*
  queries, which the student never trained on) and ``domain``;
* ``manifest.json``: the command that made it, the teacher, the training data's fingerprint, the
  held-out metrics in float32 (from the distillation report) and float16 (``--fp16-eval`` and
  ``--fp16-fused``: the JSON of ``cascade eval --dataset ../shared/data/scifact --pool-size 100
  --stage cross:OUT@10``, and of the same fused with BM25), and the licences.

Then it scores the sample with the seed-001 preset through the tool's own scoring path (a fresh
data folder) and ships the cross-encoder's scores beside the corpus
(``sample_data/scifact-mini/scores/``, :mod:`cascade_core.store.shipped`), so the demo needs no
ten-minute scoring pass; every machine checks them on its first queries before using them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE = REPO / "sample_data" / "scifact-mini"
OUT = REPO / "sample_data" / "models" / "scifact-student"
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
COMMAND = "cascade distill --dataset ../shared/data/scifact --out student --json distilled.json"
DOMAIN = "scientific claims and abstracts (SciFact)"
LICENCES = {
    "base_model": "all-MiniLM-L6-v2 (sentence-transformers): Apache-2.0",
    "training_data": "SciFact (Wadden et al., EMNLP 2020), BEIR layout: CC BY-NC 2.0 (non-commercial use only)",
    "this_student": "trained here by cascade-explorer from the two above; use it within both licences",
}


def training_fingerprint(scifact: Path) -> str:
    """SHA-256 of what the student learned from: the train qrels and the queries file and corpus."""
    h = hashlib.sha256()
    for name in ("qrels/train.tsv", "queries.jsonl", "corpus.jsonl"):
        h.update(name.encode())
        h.update((scifact / name).read_bytes())
    return h.hexdigest()


def write_half(student: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from cascade_core.distill.student import quiet_transformers

    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(student, dtype=torch.float32)
        model.half().save_pretrained(out, safe_serialization=True)
        AutoTokenizer.from_pretrained(student).save_pretrained(out)


def ship_scores(out: Path) -> Path:
    """Score the sample with the seed-001 preset (the shipped student as its cross-encoder) in a
    fresh data folder, and ship the cross-encoder's scores beside the sample's corpus."""
    from cascade_core.analysis.experiment import Experiment
    from cascade_core.cascade.presets import SEED_PRESET, preset_spec
    from cascade_core.cascade.spec import CascadeSpec
    from cascade_core.data import load_dataset
    from cascade_core.progress import terminal_progress
    from cascade_core.scoring.workspace import Workspace
    from cascade_core.store.provenance import step_provenance
    from cascade_core.store.scores import query_key
    from cascade_core.store.shipped import shipped_scores_path, write_shipped_scores

    dataset = load_dataset(SAMPLE, split="test")
    raw = preset_spec(SEED_PRESET)
    ce = [s for s in raw["stages"] if s["scorer"]["kind"] == "cross-encoder"][0]
    assert Path(ce["scorer"]["model"]).resolve() == out.resolve(), ce["scorer"]["model"]
    spec = CascadeSpec.from_dict(raw)
    old = shipped_scores_path(dataset.corpus.source, "")   # any file there is about to be remade
    for f in old.parent.glob("*"):
        f.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        exp = Experiment(dataset, spec, ws)
        t0 = time.perf_counter()
        exp.ensure_scores(spec, progress=terminal_progress(sys.stderr))
        print(f"scored the sample in {time.perf_counter() - t0:.0f} s")
        scorer = exp.plan.scorers[-1]   # the cross-encoder, the last stage
        keys = [query_key(dataset.queries.text_of(q)) for q in dataset.queries.ids]
        by_query = {k: v for k, v in ws.store.get_many(scorer.id, dataset.corpus.fingerprint, keys).items() if v}
        path = write_shipped_scores(dataset.corpus, scorer.id, by_query, step_provenance(scorer),
                                    how=f"benchmarks/ship_sample_student.py: the {SEED_PRESET!r} preset's "
                                        "cross-encoder over every candidate reaching it on the sample")
        ws.close()
    print(f"wrote {path} ({sum(len(v) for v in by_query.values()):,} pairs, {path.stat().st_size / 1e3:.0f} kB)")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", help="the student folder cascade distill wrote (float32)")
    ap.add_argument("--fp16-eval", help="cascade eval --json of the float16 student alone on SciFact test (BM25@100)")
    ap.add_argument("--fp16-fused", help="... and of it fused with BM25 (norm-sum 0.5; --from-store: no scoring)")
    ap.add_argument("--scores-only", action="store_true", help="only re-make the shipped scores")
    ap.add_argument("--no-scores", action="store_true", help="only the model folder (weights unchanged: the "
                                                              "shipped scores stay valid)")
    args = ap.parse_args()
    os.environ.setdefault("CASCADE_HOME", tempfile.mkdtemp())   # no user student may stand in for it
    if not args.scores_only:
        student = Path(args.student)
        info = json.loads((student / "distilled.json").read_text())
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        write_half(student, OUT)
        from cascade_core.data import load_dataset

        sample_fp = load_dataset(SAMPLE, split="test").corpus.fingerprint
        info.update({"name": OUT.name, "serves": [sample_fp], "domain": DOMAIN, "use_as": f"cross:{OUT.relative_to(REPO)}",
                     "precision": "float16 weights (computed in float32 on a CPU)", "trained_as": student.name})
        (OUT / "distilled.json").write_text(json.dumps(info, indent=2, default=str))
        rows = {r["name"]: r["metrics"] for r in (info.get("report") or {}).get("rows", [])}
        manifest = {
            "name": OUT.name, "command": COMMAND, "made_on": info.get("machine"), "created": info.get("created"),
            "teacher": info["teacher"]["described"], "training_queries": info["training_queries"],
            "training_data_sha256": training_fingerprint(SCIFACT), "settings": info["settings"],
            "training": info.get("training"),
            "held_out": {"queries": info.get("held_out"), "float32": rows},
            "licences": LICENCES,
            "files_bytes": {f.name: f.stat().st_size for f in sorted(OUT.iterdir())},
        }
        if args.fp16_eval:
            half = {}
            for row, path in (("student", args.fp16_eval), ("student + first pass", args.fp16_fused)):
                if path:
                    metrics = json.loads(Path(path).read_text())["metrics"]
                    half[row] = {m: metrics[m] for m in ("ndcg@10", "mrr@10", "recall@10")}
            manifest["held_out"]["float16"] = {**half, "how": "cascade eval --dataset ../shared/data/scifact "
                                               "--pool-size 100 --stage cross:sample_data/models/scifact-student@10 "
                                               "(and the same fused with BM25, norm-sum 0.5)"}
        (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        print(f"wrote {OUT} ({sum(f.stat().st_size for f in OUT.iterdir()) / 1e6:.1f} MB)")
    if not args.no_scores:
        ship_scores(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
