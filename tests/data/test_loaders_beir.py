"""BEIR folders: splits, query selection, gzip."""

from __future__ import annotations

import json

import pytest

from cascade_core.data import Document, detect_format, load_dataset
from cascade_core.errors import DataError

CORPUS = (
    "\n".join(
        json.dumps(r)
        for r in [
            {"_id": "d1", "title": "Cats", "text": "Cats purr.", "metadata": {"url": "u1"}},
            {"_id": "d2", "title": "", "text": "Dogs bark.", "metadata": {}},
            {"_id": "d3", "title": "Birds", "text": "Birds sing."},
        ]
    )
    + "\n"
)
QUERIES = "".join(
    json.dumps({"_id": q, "text": t, "metadata": {}}) + "\n"
    for q, t in [("q1", "purr"), ("q2", "bark"), ("q3", "sing"), ("q4", "unjudged")]
)
HEADER = "query-id\tcorpus-id\tscore\n"


@pytest.fixture
def beir(write, tmp_path):
    def make(splits: dict[str, str], gz: bool = False):
        write("corpus.jsonl", CORPUS, gz=gz)
        write("queries.jsonl", QUERIES, gz=gz)
        for name, body in splits.items():
            write(f"qrels/{name}.tsv", HEADER + body, gz=gz)
        return tmp_path

    return make


def test_beir_default_test_split(beir):
    folder = beir({"test": "q1\td1\t1\nq2\td2\t2\nq2\td3\t0\n", "train": "q3\td3\t1\n"})
    assert detect_format(folder) == "beir"
    ds = load_dataset(folder)
    assert ds.split == "test"
    assert ds.corpus["d1"] == Document("d1", "Cats purr.", "Cats", {"url": "u1"})
    assert ds.queries.queries == {"q1": "purr", "q2": "bark"}
    assert ds.qrels.judgments == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert ds.report.counts == {
        "documents": 3,
        "queries": 2,
        "judged queries": 2,
        "judged pairs": 3,
        "relevant pairs": 2,
        "queries without judgments in split test (ignored)": 2,
    }
    assert ds.report.findings == []


def test_beir_explicit_split_and_gzip(beir):
    folder = beir({"test": "q1\td1\t1\n", "train": "q3\td3\t1\n"}, gz=True)
    ds = load_dataset(folder, split="train")
    assert ds.split == "train" and ds.queries.queries == {"q3": "sing"}
    assert ds.qrels.judgments == {"q3": {"d3": 1}}


def test_beir_only_split_is_used(beir):
    ds = load_dataset(beir({"dev": "q2\td2\t1\n"}))
    assert ds.split == "dev" and ds.queries.ids == ["q2"]


def test_beir_missing_or_ambiguous_split(beir):
    folder = beir({"dev": "q2\td2\t1\n", "train": "q3\td3\t1\n"})
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    assert "dev, train" in info.value.message and info.value.file.endswith("qrels")
    with pytest.raises(DataError) as info:
        load_dataset(folder, split="test")
    assert "'test'" in info.value.message and "available splits: dev, train" in info.value.message


def test_beir_qrels_line_numbers_count_the_header(beir):
    folder = beir({"test": "q1\td1\t1\nq1\tzz\t1\n"})
    ds = load_dataset(folder)
    (f,) = ds.report.warnings
    assert f.file == str(folder / "qrels" / "test.tsv") and f.line == 3 and "'zz'" in f.message


def test_beir_forced_on_a_folder_without_qrels(write, tmp_path):
    write("corpus.jsonl", CORPUS)
    write("queries.jsonl", QUERIES)
    assert detect_format(tmp_path) == "jsonl"
    ds = load_dataset(tmp_path, fmt="beir")
    assert ds.split is None and len(ds.queries) == 4 and len(ds.qrels) == 0
