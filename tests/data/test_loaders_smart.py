"""SMART/Glasgow folders: record parsing, query numbering, grade mappings."""

from __future__ import annotations

import pytest

from cascade_core.data import Document, detect_format, load_corpus_file, load_dataset
from cascade_core.errors import DataError

CRAN_DOCS = """.I 1
.T
wings in
a slipstream .
.A
brenckman,m.
.B
j. ae. scs. 25, 1958, 324.
.W
wings in a slipstream .
  an experimental study .
.I 2
.T
flat plates .
.A
.B
.W
shear flow
.W
continued .
.I 3
.T
.A
.B
.W
.I 4
.T
cones .
.W
cones and flow .
"""
CRAN_QRY = ".I 001\n.W\nwhat lifts\na wing .\n.I 002\n.W\nshear flow ?\n.I 004\n.W\ncones .\n"
CRAN_REL = "1 1 1\n1 2 2\n1 3 3\n2 2 4\n2 1 -1\n3 4 5\n3 3 2\n"


def test_cranfield_like_folder(write, tmp_path):
    write("cran.all.1400", CRAN_DOCS)
    write("cran.qry", CRAN_QRY.replace("\n", "\r\n"))
    write("cranqrel", CRAN_REL)
    write("cranqrel.readme", "1 = most relevant\n")
    assert detect_format(tmp_path) == "smart"
    ds = load_dataset(tmp_path)
    assert ds.corpus["1"] == Document(
        "1",
        "wings in a slipstream .\n  an experimental study .",
        "wings in a slipstream .",
        {"authors": "brenckman,m.", "bibliography": "j. ae. scs. 25, 1958, 324."},
    )
    assert ds.corpus["2"].text == "shear flow\ncontinued ."  # a repeated field is appended
    assert ds.corpus["3"] == Document("3", "", "", {})  # kept: judgments on it still count
    # queries renumbered by position, as the qrels number them
    assert ds.queries.queries == {"1": "what lifts a wing .", "2": "shear flow ?", "3": "cones ."}
    assert ds.qrels.judgments == {
        "1": {"1": 4, "2": 3, "3": 2},
        "2": {"2": 1, "1": 0},
        "3": {"4": 0, "3": 3},
    }
    assert ds.report.counts == {
        "documents": 4,
        "queries": 3,
        "judged queries": 3,
        "judged pairs": 7,
        "relevant pairs": 5,
        "empty documents (kept)": 1,
        "judgments graded -1 or 5 (kept as non-relevant, grade 0)": 2,
        "queries numbered by position (as the qrels do)": 3,
    }
    (f,) = ds.report.warnings
    assert (f.file, f.line) == (str(tmp_path / "cran.all.1400"), 21) and "neither title nor text" in f.message


def test_query_ids_kept_when_qrels_use_them(write, tmp_path):
    write("x.all", CRAN_DOCS)
    write("x.qry", CRAN_QRY)
    write("x.rel", "4 4 1\n2 2 1\n")
    ds = load_dataset(tmp_path)
    assert ds.queries.ids == ["1", "2", "4"]
    assert ds.qrels.judgments == {"4": {"4": 4}, "2": {"2": 4}}


def test_cisi_like_folder(write, tmp_path):
    write(
        "CISI.ALL",
        ".I 1\r\n.T\r\nDewey\r\n.A\r\nSmith, A.\r\n.A\r\nJones, B.\r\n.W\r\n   Library history.\r\n"
        ".X\r\n1\t5\t1\r\n.I 2\r\n.T \r\nNets\r\n.W\r\nNetworks.\r\n",
    )
    write("CISI.QRY", ".I 1\n.W\nWhat is history?\n.I 2\n.T\nTitle only query\n.A\nX\n")
    write("CISI.REL", "     1     1\t0\t0.000000\n     2     2\t0\t0.000000\n     2     1\t0\t0.000000\n")
    ds = load_dataset(tmp_path)
    assert ds.corpus["1"] == Document(
        "1", "Library history.", "Dewey", {"authors": "Smith, A.\nJones, B.", "cross_references": "1\t5\t1"}
    )
    assert ds.corpus["2"].title == "Nets"
    assert ds.queries.queries == {"1": "What is history?", "2": "Title only query"}
    assert ds.qrels.judgments == {"1": {"1": 1}, "2": {"2": 1, "1": 1}}
    assert "queries numbered by position (as the qrels do)" not in ds.report.counts


def test_two_column_and_trec_layout_qrels(write, tmp_path):
    write("med.all", CRAN_DOCS)
    write("med.qry", ".I 1\n.W\nq\n")
    write("med.rel", "1 0 2 1\n1 0 4 0\n")
    assert load_dataset(tmp_path).qrels.judgments == {"1": {"2": 1, "4": 0}}
    write("med.rel", "1 2\n1 4\n")
    assert load_dataset(tmp_path).qrels.judgments == {"1": {"2": 1, "4": 1}}


@pytest.mark.parametrize(
    "qrels, line, words",
    [
        ("1 1 1\n1 2 7\n", 2, "outside the Cranfield scale"),
        ("1 1 1\n1 2 x\n", 2, "not an integer"),
        ("1 1 1\n1 2\n", 2, "2 columns, but line 1 has 3"),
        ("1 1 1 1 1\n", 1, "found 5"),
    ],
)
def test_bad_smart_qrels(write, tmp_path, qrels, line, words):
    write("c.all", CRAN_DOCS)
    write("c.qry", CRAN_QRY)
    path = write("crel", "1 1 1\n")
    path.write_text(qrels)
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert (info.value.file, info.value.line) == (str(path), line) and words in info.value.message


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("hello\n.I 1\n.W\nx\n", 1, "expected a '.I <id>' line"),
        (".T\nx\n", 1, "before the first '.I"),
        (".I 1\n.W\nx\n.I\n.W\ny\n", 4, "without a record id"),
        (".I 1\nstray text\n", 2, "before any field marker"),
    ],
)
def test_bad_smart_records(write, body, line, words):
    path = write("x.all", ".I 1\n")
    path.write_text(body)
    with pytest.raises(DataError) as info:
        load_corpus_file(path, fmt="smart")
    assert (info.value.file, info.value.line) == (str(path), line) and words in info.value.message


def test_smart_single_file_detected_by_content(write):
    corpus, report = load_corpus_file(write("cran.all.1400", CRAN_DOCS))
    assert corpus.ids == ["1", "2", "3", "4"] and report.counts["documents"] == 4
