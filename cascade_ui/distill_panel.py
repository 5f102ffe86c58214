"""The Build page's distillation panel: train a cross-encoder from the current cascade, here.

Teacher: the session's cascade. Training queries: another split of the dataset, a query file,
or queries generated from documents; never the session's evaluation queries (refused). The time
is estimated first (a few timed steps), the training shows a progress bar with time left, and
the report compares first pass, teacher and student on the held-out queries; one click puts the
student into the cascade. Everything is :mod:`cascade_core.distill`; this module only lays it out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from cascade_core.data.beir import available_splits
from cascade_core.distill import (DistillSettings, build_training_set, distill, estimate, exclude_held_out,
                                  file_queries, generated_queries, split_queries)
from cascade_core.distill.registry import StudentInfo
from cascade_core.distill.report import student_spec
from cascade_core.distill.train import LOSSES
from cascade_core.errors import CascadeError

from . import access, state
from .presets import student_note
from .text import code, literal

SPLIT, FILE, GENERATED = "a split of this dataset", "a query file", "queries generated from documents"
RESULT = "distill-result"      # session key: the last student trained here (folder, distilled.json)
PREPARED = "distill-prepared"  # session key: (what it was built from, TrainingSet) for estimate then train


def _other_splits(src: dict) -> list[str]:
    path = Path(src["path"])
    try:
        splits = available_splits(path) if path.is_dir() else {}
    except CascadeError:
        return []
    return [s for s in splits if s != src.get("split")]


def _training_queries(source: str, src: dict, dataset, split: str | None, upload, n_generate: int, seed: int):
    if source == SPLIT:
        if not split:
            raise CascadeError("this dataset has no other split to train on: use a query file or generated queries")
        return split_queries(src["path"], split, src.get("fmt", "auto"))
    if source == FILE:
        if upload is None:
            raise CascadeError("choose a query file first (.jsonl with _id and text, or .tsv/.csv with a header)")
        data = upload.getvalue()
        name = Path(upload.name).name
        # Within the uploads quota, like the Data page's uploads (cascade_core.serving.UploadArea).
        folder = access.uploads().store(hashlib.sha256(data).hexdigest()[:16], {name: data})
        return file_queries(folder / name)
    return generated_queries(dataset.corpus, n_generate, seed=seed)


def _prepared(sig: tuple, build):
    """The training set for ``sig`` (teacher, queries), built once per session."""
    kept = st.session_state.get(PREPARED)
    if kept is not None and kept[0] == sig:
        return kept[1]
    ts = build()
    st.session_state[PREPARED] = (sig, ts)
    return ts


def distill_panel() -> None:
    """The panel, at the end of the Build page (an expander, closed until used)."""
    spec, dataset, src = state.spec(), state.dataset(), st.session_state.get(state.DATASET)
    with st.expander("Distil a cross-encoder from this cascade (a real precision stage, trained here)",
                     expanded=RESULT in st.session_state):
        if spec is None or dataset is None:
            st.info("Load a dataset and set a cascade first: the cascade is the teacher.")
            return
        if access.read_only():
            st.info("This dashboard is read-only: it trains nothing.")
            return
        st.caption(f"**Teacher:** {literal(spec.describe())}. The student, a small cross-encoder started from the "
                   "packaged MiniLM weights, learns the teacher's ranking of each training query's first-pass candidates; "
                   "then both rank the held-out queries (this dataset's judged ones). Runs on the CPU.")
        for model in dict.fromkeys(s.scorer.model for s in spec.stages if s.scorer.model):
            note = student_note(model, dataset.corpus.fingerprint)
            if note:
                st.caption(literal(note))
        splits = _other_splits(src)
        c1, c2 = st.columns(2)
        source = c1.radio("Training queries", [SPLIT, FILE, GENERATED], index=0 if splits else 2, key="distill-source")
        split = upload = None
        n_generate = 200
        if source == SPLIT:
            split = c2.selectbox("Split", splits, key="distill-split", help="Never the split being evaluated")
        elif source == FILE:
            upload = c2.file_uploader("Query file", type=["jsonl", "tsv", "csv"], key="distill-file")
        else:
            n_generate = int(c2.number_input("Queries to generate", 2, 100_000, 200, key="distill-generate",
                                             help="One sentence of a random document each; that document is "
                                                  "judged relevant to it"))
        d = DistillSettings()
        c1, c2, c3, c4 = st.columns(4)
        pairs = int(c1.number_input("Pairs to train on", 1, 10_000_000, d.pairs, step=1000, key="distill-pairs"))
        layers = int(c2.number_input("Layers (of MiniLM's 6)", 1, 6, d.layers, key="distill-layers"))
        max_length = int(c3.number_input("Tokens per pair (training)", 16, 512, d.max_length, key="distill-len"))
        serve = int(c4.number_input("Tokens per pair (when ranking)", 16, 512, d.serve_length, key="distill-serve"))
        c1, c2, c3, c4 = st.columns(4)
        loss = c1.selectbox("Loss", LOSSES, index=LOSSES.index(d.loss), key="distill-loss")
        temperature = c2.number_input("Temperature", 0.001, 10.0, d.temperature, key="distill-temp",
                                      help="Teacher score units per student logit")
        labels = c3.number_input("Judged-relevant boost", 0.0, 10.0, d.labels, key="distill-labels",
                                 help="Added to the teacher score of judged-relevant training pairs (0: the "
                                      "teacher alone)")
        n_held = int(c4.number_input("Held-out queries (0: all)", 0, 1_000_000, 0, key="distill-held",
                                     help="How many of this dataset's judged queries to compare on"))
        try:
            settings = DistillSettings(layers=layers, max_length=max_length, serve_length=serve, loss=loss,
                                       temperature=float(temperature), pairs=pairs, labels=float(labels))
        except CascadeError as exc:
            st.error(literal(exc))
            return
        held = dataset.judged_queries
        if n_held:
            held = held.subset(held.ids[:n_held])
        c1, c2 = st.columns(2)
        estimate_clicked = c1.button("Estimate the time", key="distill-estimate")
        train_clicked = c2.button("Train the student", type="primary", key="distill-train")
        if estimate_clicked or train_clicked:
            try:
                training = _training_queries(source, src, dataset, split, upload, n_generate, 0)
                training = exclude_held_out(training, held)
                exp_ws = state.workspace()
                sig = (spec.to_json(), source, split, training.source, tuple(training.queries.ids))
                with access.job_slot("scoring the teacher"), \
                        st.status("Scoring the teacher on the training queries (stored: never again)...") as status:
                    ts = _prepared(sig, lambda: build_training_set(dataset, training, spec, exp_ws,
                                                                   progress=state.progress_callback(status)))
                    status.update(label=f"Teacher ready: {len(ts)} training queries, up to {ts.depth} candidates "
                                        "each", state="complete", expanded=False)
                if estimate_clicked:
                    seconds = estimate(ts, dataset.corpus, settings, spec.device)
                    st.info(f"Training {settings.pairs:,} pairs should take about **{_duration(seconds)}** here "
                            f"({settings.pairs / seconds:.1f} pairs/s, measured now on a few steps), plus the "
                            f"held-out comparison ({len(held)} queries).")
                else:
                    with access.job_slot("training a student"), \
                            st.status("Training the student (a killed run resumes from its last checkpoint when "
                                      "started again)...", expanded=True) as status:
                        result = distill(dataset, training, spec, exp_ws, settings=settings, held_out=held,
                                         progress=state.progress_callback(status), training_set=ts,
                                         held_out_label=f"{len(held)} judged queries of {state.dataset_label()}")
                        status.update(label="Student trained and compared", state="complete", expanded=False)
                    st.session_state[RESULT] = {"out": str(result.out), "info": result.info}
            except CascadeError as exc:
                st.error(literal(exc))
        if RESULT in st.session_state:
            _report(st.session_state[RESULT], spec)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def _report(kept: dict, spec) -> None:
    """The last student: how it was trained, teacher against student, and buttons to use it."""
    info, out = kept["info"], kept["out"]
    student = StudentInfo(Path(out), info)
    tr = info.get("training", {})
    st.success(f"{literal(student.describe())}. Trained in {_duration(tr.get('train_s', 0))} "
               f"({tr.get('cpu_s', 0):.0f} s of CPU). Folder: {code(out)}")
    report = info.get("report")
    if report:
        rows = [{"ranking": r["name"], "cascade": r["cascade"], "nDCG@10": r["metrics"]["ndcg@10"],
                 "MRR@10": r["metrics"]["mrr@10"], "recall@10": r["metrics"]["recall@10"],
                 "ms per query (stages)": r["stages_ms"] if r["name"] != "first pass" else None,
                 "ms per pair": r["ms_per_pair"]} for r in report["rows"]]
        st.dataframe(pd.DataFrame(rows).set_index("ranking"), width="stretch")
        st.caption(f"{report['queries']} held-out queries; each ranking reranks the first pass {report['depth']} "
                   "deep; nDCG with linear gain (trec_eval). Cost measured while scoring, on this machine.")
    c1, c2 = st.columns(2)
    for col, fused, label, key in ((c1, False, "Use: first pass -> student", "distill-use"),
                                   (c2, True, "Use: first pass -> student fused with it", "distill-use-fused")):
        if col.button(label, key=key):
            state.set_spec(student_spec(spec, out, fused=fused))
            st.session_state["build-flash"] = f"Cascade set: {state.spec().describe()}"
            st.rerun()
