"""TREC folders: SGML documents (one or many files, gzip), topics (SGML or tsv), qrels."""

from __future__ import annotations

import pytest

from cascade_core.data import Document, detect_format, load_corpus_file, load_dataset
from cascade_core.errors import DataError

DOCS_A = """<DOC>
<DOCNO> FT911-1 </DOCNO>
<DATE>910514</DATE>
<TITLE>Cats &amp; dogs</TITLE>
<TEXT>
Cats purr.
</TEXT>
<TEXT>Second <B>part</B>.</TEXT>
</DOC>
<DOC>
<DOCNO>FT911-2</DOCNO>
<HEADLINE>Birds</HEADLINE>
<TEXT>Birds   sing.</TEXT>
</DOC>
"""
DOCS_B = "<DOC>\n<DOCNO>LA-1</DOCNO>\n<TEXT>Fish swim.</TEXT>\n</DOC>\n"
TOPICS = """<top>
<num> Number: 301
<title> Cats and
dogs

<desc> Description:
Documents about pets.

<narr> Narrative:
Anything.
</top>

<top>
<num> Number: 302
<title>
<desc> Description:
Birds that sing.
</top>
"""
QRELS = "301 0 FT911-1 2\n301 0 FT911-2 0\n302 0 FT911-2 1\n302 0 LA-1 -1\n"


def test_trec_folder_with_docs_dir_and_gzip(write, tmp_path):
    write("docs/ft/a.sgml", DOCS_A)
    write("docs/la/b", DOCS_B, gz=True)
    write("topics.301-302", TOPICS)
    write("qrels.301-302.txt", QRELS)
    assert detect_format(tmp_path) == "trec"
    ds = load_dataset(tmp_path)
    assert ds.corpus.ids == ["FT911-1", "FT911-2", "LA-1"]
    assert ds.corpus["FT911-1"] == Document(
        "FT911-1", "Cats purr.\nSecond part .", "Cats & dogs", {"date": "910514"}
    )
    assert ds.corpus["FT911-2"] == Document("FT911-2", "Birds sing.", "Birds", {})
    assert ds.corpus["LA-1"].text == "Fish swim."
    assert ds.queries.queries == {"301": "Cats and dogs", "302": "Birds that sing."}
    assert ds.qrels.judgments == {"301": {"FT911-1": 2, "FT911-2": 0}, "302": {"FT911-2": 1, "LA-1": -1}}
    assert ds.report.counts == {
        "documents": 3,
        "queries": 2,
        "judged queries": 2,
        "judged pairs": 4,
        "relevant pairs": 2,
    }
    assert ds.report.findings == []


def test_trec_top_level_doc_files_and_tsv_topics(write, tmp_path):
    write("a.trec", DOCS_A)
    write("b.trec", DOCS_B.replace("LA-1", "FT911-1"))
    topics = write("topics.tsv", "301\tcats and dogs\n302 birds singing\n303\t\n")
    write("qrels.txt", "301 0 FT911-1 1\n")
    ds = load_dataset(tmp_path)
    assert ds.queries.queries == {"301": "cats and dogs", "302": "birds singing"}
    dup = [f for f in ds.report.warnings if "duplicate document id" in f.message][0]
    assert dup.file == str(tmp_path / "b.trec") and dup.line == 1
    assert f"first at {tmp_path / 'a.trec'}:1" in dup.message
    assert ds.corpus["FT911-1"].text.startswith("Cats purr.")
    empty = [f for f in ds.report.warnings if "empty text" in f.message][0]
    assert (empty.file, empty.line) == (str(topics), 3)


def test_trec_single_doc_file(write):
    corpus, report = load_corpus_file(write("docs.sgml", DOCS_A))
    assert corpus.ids == ["FT911-1", "FT911-2"] and report.counts == {"documents": 2}
    path = write("plain", DOCS_B)  # no extension: recognised by content
    assert load_corpus_file(path)[0].ids == ["LA-1"]


def test_trec_document_without_text_element(write):
    corpus, _ = load_corpus_file(write("d.trec", "<DOC><DOCNO>x</DOCNO>\nJust words <i>here</i>.\n</DOC>"))
    assert corpus["x"].text == "Just words here ."


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("<DOC>\n<DOCNO>a</DOCNO>\n</DOC>\n\n<DOC>\n<TEXT>x</TEXT>\n</DOC>\n", 5, "without a <DOCNO>"),
        ("<DOC>\n<DOCNO>a</DOCNO>\n<DOC>\n<DOCNO>b</DOCNO>\n</DOC>\n", 3, "before the <DOC> of line 1"),
        ("<DOC>\n<DOCNO>a</DOCNO>\n</DOC>\n<DOC>\n<DOCNO>b</DOCNO>\n", 4, "never closed"),
        ("<DOCNO>a</DOCNO>\n</DOC>\n", 2, "without a matching"),
        ("<DOC>\n<DOCNO> </DOCNO>\n</DOC>\n", 1, "empty <DOCNO>"),
    ],
)
def test_trec_malformed_documents(write, body, line, words):
    path = write("bad.trec", body)
    with pytest.raises(DataError) as info:
        load_corpus_file(path)
    assert (info.value.file, info.value.line) == (str(path), line) and words in info.value.message


def test_trec_topic_without_number(write, tmp_path):
    write("a.trec", DOCS_A)
    topics = write("topics.txt", "<top>\n<num> Number: 1\n<title> x\n</top>\n<top>\n<title> y\n</top>\n")
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert (info.value.file, info.value.line) == (str(topics), 5) and "<num>" in info.value.message


def test_trec_doc_folder_file_without_docs_warns(write, tmp_path):
    write("docs/a.sgml", DOCS_A)
    readme = write("docs/README", "about these documents\n")
    ds = load_dataset(tmp_path)
    (f,) = ds.report.warnings
    assert f.file == str(readme) and "no <DOC>" in f.message


def test_trec_folder_without_documents(write, tmp_path):
    write("docs/README", "nothing here\n")
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert "no documents" in info.value.message
