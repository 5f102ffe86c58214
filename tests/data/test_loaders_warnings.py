"""Recoverable problems: grouped warnings with a count and the first location; data repaired."""

from __future__ import annotations

from cascade_core.data import load_corpus_file, load_dataset


def finding(report, text):
    (f,) = [f for f in report.findings if text in f.message]
    return f


def test_duplicate_document_ids_keep_the_first(write):
    path = write(
        "c.jsonl",
        "\n".join(
            [
                '{"id": "d1", "text": "first"}',
                '{"id": "d2", "text": "x"}',
                '{"id": "d1", "text": "second"}',
                '{"id": "d2", "text": "y"}',
            ]
        )
        + "\n",
    )
    corpus, report = load_corpus_file(path)
    assert corpus.ids == ["d1", "d2"] and corpus["d1"].text == "first"
    f = finding(report, "duplicate document id")
    assert (f.level, f.file, f.line, f.count) == ("warning", str(path), 3, 2)
    assert f.message == "duplicate document id 'd1' (first at line 1): kept the first"
    assert str(f).endswith("(2 occurrences; first shown)")
    assert report.counts["duplicate documents (dropped)"] == 2
    assert report.ok


def test_empty_texts(write):
    path = write("c.csv", "id,title,text\nd1,Only a title,\nd2,,  \nd3,T,body\n")
    corpus, report = load_corpus_file(path)
    assert corpus.ids == ["d1", "d2", "d3"]
    f = finding(report, "empty text")
    assert (f.line, f.count) == (2, 1) and "kept" in f.message
    f = finding(report, "neither title nor text")
    assert (f.line, f.count) == (3, 1) and "kept" in f.message
    assert report.counts["empty documents (kept)"] == 1


def _folder(write, queries: str, qrels: str):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n{"id": "d2", "text": "b"}\n')
    q = write("queries.jsonl", queries)
    r = write("qrels.tsv", qrels)
    return q, r


def test_duplicate_and_empty_queries(write, tmp_path):
    q, _ = _folder(
        write,
        '{"id": "q1", "text": "one"}\n{"id": "q2", "text": " "}\n{"id": "q1", "text": "again"}\n',
        "q1\td1\t1\nq2\td1\t1\n",
    )
    ds = load_dataset(tmp_path)
    assert ds.queries.queries == {"q1": "one"}
    f = finding(ds.report, "duplicate query id")
    assert (f.file, f.line) == (str(q), 3) and "first at line 1" in f.message
    f = finding(ds.report, "empty text")
    assert (f.file, f.line) == (str(q), 2) and "dropped" in f.message
    # the judgment of the dropped query goes too
    assert ds.qrels.judgments == {"q1": {"d1": 1}}
    assert ds.report.counts["empty queries (dropped)"] == 1


def test_unknown_queries_and_documents_in_qrels(write, tmp_path):
    _, r = _folder(
        write,
        '{"id": "q1", "text": "one"}\n',
        "q1\td1\t1\nq9\td1\t1\nq1\td7\t2\nq8\td2\t1\nq1\td8\t1\n",
    )
    ds = load_dataset(tmp_path)
    assert ds.qrels.judgments == {"q1": {"d1": 1}}
    f = finding(ds.report, "query 'q9'")
    assert (f.file, f.line, f.count) == (str(r), 2, 2)
    f = finding(ds.report, "document 'd7'")
    assert (f.file, f.line, f.count) == (str(r), 3, 2)
    assert ds.report.counts["judgments dropped (unknown query)"] == 2
    assert ds.report.counts["judgments dropped (unknown document)"] == 2


def test_qrels_without_queries_say_so(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    write("qrels.tsv", "q1\td1\t1\n")
    ds = load_dataset(tmp_path)
    assert len(ds.qrels) == 0
    assert "no queries were loaded" in ds.report.warnings[0].message


def test_duplicate_qrels_pairs_keep_the_last(write, tmp_path):
    _, r = _folder(
        write,
        '{"id": "q1", "text": "one"}\n',
        "q1\td1\t1\nq1\td2\t0\nq1\td1\t1\nq1\td2\t2\nq1\td2\t1\n",
    )
    ds = load_dataset(tmp_path)
    assert ds.qrels.judgments == {"q1": {"d1": 1, "d2": 1}}
    f = finding(ds.report, "same grade")
    assert (f.file, f.line, f.count) == (str(r), 3, 1) and "first at line 1" in f.message
    f = finding(ds.report, "kept the last")
    assert (f.line, f.count) == (4, 2) and "judged 2 here and 0 at line 2" in f.message
    assert ds.report.counts["duplicate judgments (last kept)"] == 3


def test_summary_lists_counts_then_findings(write):
    path = write("c.jsonl", '{"id": "d1", "text": "a"}\n{"id": "d1", "text": "b"}\n')
    _, report = load_corpus_file(path)
    lines = report.summary().splitlines()
    assert lines[0] == "documents: 1, duplicate documents (dropped): 1"
    assert lines[1] == f"warning: {path}:2: duplicate document id 'd1' (first at line 1): kept the first"


def test_ids_with_a_space_are_kept_and_said_once_at_load(write, tmp_path):
    """A space in an id works on every page, but TREC files split lines on spaces: said when the
    dataset loads, not as an error at every export (the Judge page's download)."""
    write("ds/corpus.jsonl", '{"_id": "doc one", "text": "cells"}\n{"_id": "doc two", "text": "x"}\n'
                             '{"_id": "d3", "text": "y"}\n')
    write("ds/queries.jsonl", '{"_id": "q 1", "text": "cells"}\n')
    write("ds/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq 1\tdoc one\t1\n")
    ds = load_dataset(tmp_path / "ds")
    assert ds.qrels.judgments == {"q 1": {"doc one": 1}}
    doc = finding(ds.report, "document id 'doc one' contains a space")
    assert doc.count == 2 and "TREC" in doc.message
    assert finding(ds.report, "query id 'q 1' contains a space")
