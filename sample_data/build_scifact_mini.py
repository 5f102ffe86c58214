"""Rebuild sample_data/scifact-mini from the full SciFact collection (BEIR layout).

Usage (from the repository root; the full collection is not needed to *use* the sample):

    python sample_data/build_scifact_mini.py ../shared/data/scifact

What it keeps, and why: every SciFact *test* query and the documents judged relevant to it, plus
each query's hardest distractors -- the top non-relevant documents of BM25 and of
all-MiniLM-L6-v2 over the full corpus -- so that both the lexical and the dense stage have real
decisions to make, plus a seeded random sample of other abstracts as background. Deterministic.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.progress import terminal_progress
from cascade_core.scoring.workspace import Workspace

HARD_PER_QUERY = 3       # top non-relevant documents per query from each first pass
BACKGROUND = 400         # random other documents
SEED = 13
OUT = Path(__file__).resolve().parent / "scifact-mini"


def top_lists(dataset, first_pass: dict, ws) -> dict[str, list[str]]:
    spec = CascadeSpec.from_dict({"first_pass": first_pass, "pool_size": 20, "final_k": 20})
    exp = Experiment(dataset, spec, ws)
    exp.ensure_scores(progress=terminal_progress())
    run = exp.run().run
    return {q: run.final_doc_ids(i) for i, q in enumerate(run.matrix.query_ids)}


def main(source: str) -> None:
    dataset = load_dataset(source, split="test")
    ws = Workspace()
    keep: set[str] = set()
    for qid in dataset.queries.ids:
        keep.update(dataset.qrels.relevant(qid))
    for fp in ({"kind": "bm25"}, {"kind": "dense", "model": "all-MiniLM-L6-v2"}):
        for qid, ranked in top_lists(dataset, fp, ws).items():
            rel = dataset.qrels.relevant(qid)
            keep.update([d for d in ranked if d not in rel][:HARD_PER_QUERY])
    others = sorted(set(dataset.corpus.ids) - keep)
    keep.update(random.Random(SEED).sample(others, BACKGROUND))

    OUT.mkdir(exist_ok=True)
    (OUT / "qrels").mkdir(exist_ok=True)
    with open(OUT / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc in dataset.corpus:  # original order
            if doc.id in keep:
                f.write(json.dumps({"_id": doc.id, "title": doc.title, "text": doc.text}) + "\n")
    with open(OUT / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid in dataset.queries.ids:
            f.write(json.dumps({"_id": qid, "text": dataset.queries.text_of(qid)}) + "\n")
    with open(OUT / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid in dataset.queries.ids:
            for doc, grade in dataset.qrels.judgments[qid].items():
                f.write(f"{qid}\t{doc}\t{grade}\n")
    print(f"wrote {len(keep)} documents, {len(dataset.queries)} queries to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/scifact")
