"""Shared fixtures: a small real dataset (from the bundled SciFact sample), a workspace in a
temporary data folder, and a tiny locally built cross-encoder (real CrossEncoder, untrained
weights: fine for plumbing and speed, never for quality claims)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The encoders' ONNX exports (cascade_core/models/fast_encoder.py), keyed by model content: shared by every
# test's fresh data folder and by CLI subprocesses, so MiniLM is exported once, not once per folder.
os.environ.setdefault("CASCADE_ONNX_CACHE", os.path.join(tempfile.gettempdir(), "cascade-test-onnx"))

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "scifact-mini"
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

TINY_QUERIES = 12
TINY_OTHER_DOCS = 48


def pytest_collection_modifyitems(config, items):
    """The slow tests first (each group in its own order): spread over several workers
    (``./run.sh test`` runs ``-n auto``), the longest start at once instead of ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory) -> Path:
    """A BEIR folder: the first 12 sample queries, their relevant documents and 48 others."""
    out = tmp_path_factory.mktemp("tiny-beir")
    corpus = [json.loads(line) for line in (SAMPLE / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (SAMPLE / "queries.jsonl").open(encoding="utf-8")]
    qrels = [line.rstrip("\n").split("\t") for line in (SAMPLE / "qrels" / "test.tsv").open()][1:]
    queries = queries[:TINY_QUERIES]
    qids = {q["_id"] for q in queries}
    qrels = [r for r in qrels if r[0] in qids]
    keep = {r[1] for r in qrels}
    keep |= set([d["_id"] for d in corpus if d["_id"] not in keep][:TINY_OTHER_DOCS])
    (out / "qrels").mkdir()
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in corpus:
            if d["_id"] in keep:
                f.write(json.dumps(d) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for r in qrels:
            f.write("\t".join(r) + "\n")
    return out


@pytest.fixture(scope="session")
def tiny_dataset(tiny_beir):
    from cascade_core.data import load_dataset

    return load_dataset(tiny_beir, split="test")


@pytest.fixture
def workspace(tmp_path):
    from cascade_core.scoring.workspace import Workspace

    ws = Workspace(tmp_path / "home")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A real ``CrossEncoder`` folder: a 2-layer BERT with MiniLM's tokenizer, seeded weights."""
    from cascade_core.models.loading import build_tiny_cross_encoder

    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder") / "model")


IRDS_NAME = "cascade-explorer-test/tiny"          # registered by irds_collection
IRDS_MISSING = "cascade-explorer-test/missing-files"


@pytest.fixture(scope="session")
def irds_collection(tiny_beir, tmp_path_factory):
    """The tiny BEIR collection, written as ir_datasets' TSV docs and queries and TREC qrels, and
    registered under IRDS_NAME (and IRDS_MISSING, whose files are not there)."""
    ir_datasets = pytest.importorskip("ir_datasets")   # the irds extra (./run.sh installs it)
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    folder = tmp_path_factory.mktemp("irds")
    docs = [json.loads(line) for line in (tiny_beir / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (tiny_beir / "queries.jsonl").open(encoding="utf-8")]
    qrels = [line.rstrip("\n").split("\t") for line in (tiny_beir / "qrels" / "test.tsv").open()][1:]
    clean = lambda s: " ".join(s.split())   # noqa: E731 - a TSV field holds no tab or newline
    (folder / "docs.tsv").write_text("".join(f"{d['_id']}\t{clean(d.get('title', '') + ' ' + d['text'])}\n"
                                             for d in docs), encoding="utf-8")
    (folder / "queries.tsv").write_text("".join(f"{q['_id']}\t{clean(q['text'])}\n" for q in queries), encoding="utf-8")
    (folder / "qrels.txt").write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in qrels))

    def make(base):
        return Dataset(TsvDocs(LocalDownload(base / "docs.tsv")), TsvQueries(LocalDownload(base / "queries.tsv")),
                       TrecQrels(LocalDownload(base / "qrels.txt"), {0: "not relevant", 1: "relevant"}))

    for name, base in ((IRDS_NAME, folder), (IRDS_MISSING, folder / "nowhere")):
        if name not in ir_datasets.registry._registered:
            ir_datasets.registry.register(name, make(base))
    return folder
