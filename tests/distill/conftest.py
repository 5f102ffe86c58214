"""Fixtures for distillation: a small BEIR folder with a train and a test split (disjoint queries,
real SciFact claims and abstracts from the bundled sample), and tiny settings that train in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

# A student that trains in a few seconds: one layer, short pairs, 8 steps of 2 lists of 4.
TINY = ["--layers", "1", "--max-length", "48", "--pairs", "64", "--per-query", "4", "--batch-queries", "2"]
TEACHER = ["--pool-size", "20", "--stage", "bm25@10"]     # cheap: BM25 rescoring BM25 (no vector index)


@pytest.fixture(scope="session")
def split_beir(tmp_path_factory) -> Path:
    """24 sample queries: the first 12 in ``test``, the next 12 in ``train``; their relevant
    documents and 36 others."""
    out = tmp_path_factory.mktemp("split-beir")
    corpus = [json.loads(line) for line in (SAMPLE / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (SAMPLE / "queries.jsonl").open(encoding="utf-8")][:24]
    qrels = [line.rstrip("\n").split("\t") for line in (SAMPLE / "qrels" / "test.tsv").open()][1:]
    test_ids, train_ids = {q["_id"] for q in queries[:12]}, {q["_id"] for q in queries[12:]}
    qrels = [r for r in qrels if r[0] in test_ids | train_ids]
    keep = {r[1] for r in qrels}
    keep |= set([d["_id"] for d in corpus if d["_id"] not in keep][:36])
    (out / "qrels").mkdir()
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d) + "\n" for d in corpus if d["_id"] in keep)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q) + "\n" for q in queries)
    for split, ids in (("test", test_ids), ("train", train_ids)):
        with open(out / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            f.writelines("\t".join(r) + "\n" for r in qrels if r[0] in ids)
    return out
