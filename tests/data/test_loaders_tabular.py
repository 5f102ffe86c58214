"""Plain JSONL / CSV corpora and folders: exact values, gzip, BOM, line ends."""

from __future__ import annotations

import json

import pytest

from cascade_core.data import Document, detect_format, load_corpus_file, load_dataset
from cascade_core.errors import DataError

CORPUS_JSONL = (
    "\n".join(
        json.dumps(r)
        for r in [
            {"_id": "d1", "title": "Cats", "text": "Cats purr.", "metadata": {"year": 2020}},
            {"id": 2, "text": "Dogs bark.", "source": "wiki"},
            {"_id": "d3", "title": None, "text": "Birds sing."},
        ]
    )
    + "\n"
)


def test_jsonl_corpus_file_exact_values(write):
    path = write("corpus.jsonl", CORPUS_JSONL)
    corpus, report = load_corpus_file(path)
    assert corpus.ids == ["d1", "2", "d3"]
    assert corpus["d1"] == Document("d1", "Cats purr.", "Cats", {"year": 2020})
    assert corpus["2"] == Document("2", "Dogs bark.", "", {"source": "wiki"})
    assert corpus["d3"].title == ""
    assert report.counts == {"documents": 3}
    assert report.findings == []


def test_csv_and_tsv_corpus_extra_columns_become_metadata(write):
    csv_path = write("c.csv", 'id,title,text,year\nd1,Cats,"Cats purr, loudly.",2020\nd2,,Dogs bark.,\n')
    corpus, _ = load_corpus_file(csv_path)
    assert corpus["d1"] == Document("d1", "Cats purr, loudly.", "Cats", {"year": "2020"})
    assert corpus["d2"] == Document("d2", "Dogs bark.", "", {"year": ""})
    tsv_path = write("c.tsv", "_id\ttext\nd1\tCats purr.\n")
    corpus, _ = load_corpus_file(tsv_path)
    assert corpus["d1"].text == "Cats purr."


def test_csv_multiline_quoted_field_keeps_line_numbers(write):
    path = write("c.csv", 'id,text\nd1,"two\nlines"\nd1,dup\n')
    corpus, report = load_corpus_file(path)
    assert corpus["d1"].text == "two\nlines"
    (f,) = report.warnings
    assert f.line == 4 and "first at line 2" in f.message


def test_folder_with_corpus_queries_and_qrels(write, tmp_path):
    write("corpus.jsonl", CORPUS_JSONL)
    write("queries.csv", "id,text\nq1,purring cats\nq2,barking\n")
    write("qrels.csv", "query_id,doc_id,grade\nq1,d1,2\nq1,d3,0\nq2,2,1\n")
    assert detect_format(tmp_path) == "jsonl"
    ds = load_dataset(tmp_path)
    assert ds.name == tmp_path.name and ds.split is None
    assert ds.queries.queries == {"q1": "purring cats", "q2": "barking"}
    assert ds.qrels.judgments == {"q1": {"d1": 2, "d3": 0}, "q2": {"2": 1}}
    assert ds.report.counts == {
        "documents": 3,
        "queries": 2,
        "judged queries": 2,
        "judged pairs": 3,
        "relevant pairs": 2,
    }
    assert ds.report.findings == []


def test_qrels_tsv_without_header_and_trec_four_columns(write, tmp_path):
    write("corpus.csv", "id,text\nd1,a\nd2,b\n")
    write("queries.jsonl", '{"_id": "q1", "text": "x"}\n')
    write("qrels.tsv", "q1\td1\t1\nq1 0 d2 -1\n")
    assert detect_format(tmp_path) == "csv"
    ds = load_dataset(tmp_path)
    assert ds.qrels.judgments == {"q1": {"d1": 1, "d2": -1}}
    assert ds.report.counts["relevant pairs"] == 1


def test_corpus_alone_is_a_dataset(write, tmp_path):
    write("corpus.jsonl", CORPUS_JSONL)
    ds = load_dataset(tmp_path)
    assert len(ds.corpus) == 3 and len(ds.queries) == 0 and len(ds.qrels) == 0
    assert ds.report.ok


def test_single_file_loads_as_dataset(write):
    path = write("docs.jsonl", CORPUS_JSONL)
    ds = load_dataset(path)
    assert ds.name == "docs" and len(ds.corpus) == 3 and len(ds.queries) == 0
    assert ds.report.counts["documents"] == 3 and ds.report.counts["judged pairs"] == 0


def test_gzip_everywhere(write, tmp_path):
    write("corpus.jsonl", CORPUS_JSONL, gz=True)
    write("queries.jsonl", '{"id": "q1", "text": "cats"}\n', gz=True)
    write("qrels.tsv", "q1\td1\t1\n", gz=True)
    assert detect_format(tmp_path) == "jsonl"
    ds = load_dataset(tmp_path)
    assert ds.corpus.ids == ["d1", "2", "d3"]
    assert ds.qrels.judgments == {"q1": {"d1": 1}}


def test_bom_and_crlf_are_accepted_silently(write):
    path = write("c.csv", "\ufeffid,text\r\nd1,Cats purr.\r\n")
    corpus, report = load_corpus_file(path)
    assert corpus["d1"].text == "Cats purr." and report.findings == []
    path = write("c.jsonl", b"\xef\xbb\xbf" + b'{"id": "d1", "text": "x"}\r\n')
    corpus, report = load_corpus_file(path)
    assert corpus.ids == ["d1"] and report.findings == []


def test_forced_format_overrides_extension(write):
    path = write("docs.txt", "id,text\nd1,x\n")
    corpus, _ = load_corpus_file(path, fmt="csv")
    assert corpus["d1"].text == "x"


def test_loading_is_pure(write, tmp_path):
    write("corpus.jsonl", CORPUS_JSONL)
    before = sorted(p.name for p in tmp_path.iterdir())
    first = load_dataset(tmp_path)
    second = load_dataset(tmp_path)
    assert first.corpus is not second.corpus and first.corpus.fingerprint == second.corpus.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    write("corpus.jsonl", CORPUS_JSONL + "{broken\n")
    with pytest.raises(DataError):
        load_dataset(tmp_path)
    assert first.corpus.ids == ["d1", "2", "d3"]  # what was loaded before is untouched
