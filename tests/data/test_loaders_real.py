"""The real collections in <repo>/../shared/data load with their published counts."""

from __future__ import annotations

import time

from cascade_core.data import detect_format, load_dataset


def test_scifact_test_split(shared_data):
    folder = shared_data / "scifact"
    assert detect_format(folder) == "beir"
    start = time.perf_counter()
    ds = load_dataset(folder)
    assert time.perf_counter() - start < 2.0
    assert ds.split == "test"
    assert (len(ds.corpus), len(ds.queries), ds.qrels.n_pairs) == (5183, 300, 339)
    assert len(ds.judged_queries) == 300
    assert ds.report.counts["queries without judgments in split test (ignored)"] == 809
    assert ds.report.findings == []
    assert ds.corpus.ids[0] == "4983"
    assert ds.corpus["4983"].title.startswith("Microstructural development of human newborn")
    assert ds.queries.text_of("1") == "0-dimensional biomaterials show inductive properties."
    assert ds.qrels.judgments["1"] == {"31715818": 1}


def test_scifact_train_split(shared_data):
    ds = load_dataset(shared_data / "scifact", split="train")
    assert (len(ds.queries), ds.qrels.n_pairs) == (809, 919)


def test_cranfield(shared_data):
    folder = shared_data / "cranfield"
    assert detect_format(folder) == "smart"
    ds = load_dataset(folder)
    c = ds.report.counts
    assert (c["documents"], c["queries"], c["judged queries"]) == (1400, 225, 225)
    assert (c["relevant pairs"], c["judged pairs"]) == (1612, 1612 + 225)
    assert c["judgments graded -1 or 5 (kept as non-relevant, grade 0)"] == 225
    assert ds.queries.text_of("3").startswith("what problems of heat conduction")  # '.I 004' in cran.qry
    assert ds.qrels.grade("1", "184") == 3  # Cleverdon 2 -> 3
    assert (
        ds.corpus["1"].title == "experimental investigation of the aerodynamics of a wing in a slipstream ."
    )
    assert ds.corpus["1"].metadata == {
        "authors": "brenckman,m.",
        "bibliography": "j. ae. scs. 25, 1958, 324.",
    }
    # documents 471 and 995 are empty in the collection: kept (995 is judged relevant for query 125)
    assert ds.corpus["995"].full_text == "" and ds.qrels.grade("125", "995") == 2
    assert [f.count for f in ds.report.warnings] == [2]


def test_cisi(shared_data):
    folder = shared_data / "cisi"
    assert detect_format(folder) == "smart"
    ds = load_dataset(folder)
    assert (len(ds.corpus), len(ds.queries), len(ds.judged_queries)) == (1460, 112, 76)
    assert ds.qrels.n_pairs == 3114 and ds.report.counts["relevant pairs"] == 3114
    assert ds.corpus["1"].title == "18 Editions of the Dewey Decimal Classifications"
    assert ds.corpus["1"].metadata["authors"] == "Comaromi, J.P."
    assert ds.report.findings == []
