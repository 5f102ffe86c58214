"""Files recognised by content (name as a hint), and files named explicitly."""

from __future__ import annotations

import json

import pytest

from cascade_core.data import load_dataset, load_files
from cascade_core.data.sniff import sniff
from cascade_core.errors import DataError

DOCS = (
    "<DOC>\n<DOCNO>D1</DOCNO>\n<TITLE>Cats</TITLE>\n<TEXT>Cats purr.</TEXT>\n</DOC>\n"
    "<DOC>\n<DOCNO>D2</DOCNO>\n<TEXT>Dogs bark.</TEXT>\n</DOC>\n"
)
TOPICS = "<top>\n<num> Number: 301\n<title> purring cats\n</top>\n<top>\n<num> Number: 302\n<title> dogs\n</top>\n"
QRELS = "301 0 D1 1\n302 0 D2 2\n"


def _trec(write, topics_name: str, qrels_name: str = "qrels.txt"):
    write("c/news.trec", DOCS)
    write(f"c/{topics_name}", TOPICS)
    return write(f"c/{qrels_name}", QRELS).parent


@pytest.mark.parametrize("name", ["queries.trec", "blah.xyz", "q"])
def test_trec_topics_not_named_topics_load(write, name):
    ds = load_dataset(_trec(write, name))
    assert ds.queries.ids == ["301", "302"]
    assert ds.qrels.relevant("302") == {"D2": 2}
    assert not [f for f in ds.report.findings if "no <DOC>" in f.message]
    assert f"{name}: TREC topics (by content)" in ds.files["queries"]


def test_trec_qrels_not_named_qrels_load(write):
    ds = load_dataset(_trec(write, "topics.txt", "judgments"))
    assert ds.qrels.n_pairs == 2


def test_gzipped_topics_recognised(write):
    write("c/news.trec", DOCS)
    write("c/queries.trec", TOPICS, gz=True)
    ds = load_dataset(write("c/qrels", QRELS).parent)
    assert len(ds.queries) == 2


def test_sniff_kinds(write):
    assert sniff(write("a", DOCS))[0] == "trec-docs"
    assert sniff(write("b", QRELS))[0] == "trec-qrels"
    assert sniff(write("c", "query-id\tcorpus-id\tscore\nq1\td1\t1\n"))[0] == "beir-qrels"
    assert sniff(write("d", '{"_id": "q1", "text": "short"}\n')) == ("jsonl-queries", "by content")
    assert sniff(write("e", '{"_id": "d1", "title": "T", "text": "x"}\n')) == ("jsonl-corpus", "by content")
    assert sniff(write("my_queries.jsonl", '{"_id": "d1", "title": "T", "text": "x"}\n'))[0] == "jsonl-queries"
    assert sniff(write("f", ".I 1\n.W\ntext\n"))[0] == "smart"
    assert sniff(write("g", "hello world\n"))[0] is None


def test_explicit_files_without_folder(write):
    corpus = write("x/docs.sgml", DOCS)
    topics = write("y/my.topics", TOPICS)
    judged = write("z/j.txt", QRELS)
    ds = load_files(corpus=corpus, queries=topics, qrels=judged)
    assert len(ds.corpus) == 2 and len(ds.queries) == 2 and ds.qrels.n_pairs == 2
    assert ds.files["queries"] == ["my.topics: TREC topics (named explicitly)"]


def test_explicit_file_overrides_folder(write):
    folder = _trec(write, "topics.txt")
    other = write("other.tsv", "301\tsomething else\n")
    ds = load_dataset(folder, queries=other)
    assert ds.queries.ids == ["301"] and ds.queries.text_of("301") == "something else"
    assert len(ds.corpus) == 2 and ds.qrels.query_ids == ["301"]


def test_explicit_jsonl_files(write):
    folder = write("b/corpus.jsonl", '{"_id": "d1", "text": "Cats purr."}\n').parent
    q = write("mine.jsonl", '{"_id": "q1", "text": "cats"}\n')
    r = write("mine.qrels", "q1 0 d1 1\n")
    ds = load_dataset(folder, queries=q, qrels=r)
    assert ds.qrels.relevant("q1") == {"d1": 1}


def test_wrong_content_is_one_clear_error(write):
    folder = _trec(write, "topics.txt")
    with pytest.raises(DataError) as e:
        load_dataset(folder, qrels=folder / "news.trec")
    msg = str(e.value)
    assert "news.trec:1" in msg and "TREC documents" in msg and "not relevance judgments" in msg
    assert "\n" not in msg
    with pytest.raises(DataError, match="holds TREC topics"):
        load_files(corpus=folder / "topics.txt")


def test_missing_explicit_file(write, tmp_path):
    with pytest.raises(DataError, match="no such file .named as the queries file"):
        load_files(corpus=write("d.trec", DOCS), queries=tmp_path / "nope.trec")


def test_no_corpus_anywhere(write):
    with pytest.raises(DataError, match="no corpus"):
        load_files(queries=write("t", TOPICS))


# -- JSONL and CSV/TSV folders whose files follow no naming convention ----------------------------

def _odd_jsonl_folder(folder):
    docs = [{"id": f"d{i}", "title": f"T{i}", "text": "long text about cats " * 20} for i in range(5)]
    (folder / "docs_v2.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "questions.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "text": f"cats {i}?"}) + "\n"
                                                    for i in range(3)))
    (folder / "judgments.txt").write_text("q0 0 d0 1\nq1 0 d1 2\nq2 0 d3 1\n")
    return folder


def test_a_jsonl_folder_is_read_by_content(tmp_path):
    ds = load_dataset(_odd_jsonl_folder(tmp_path))
    assert (len(ds.corpus), len(ds.queries), ds.report.counts["judged pairs"]) == (5, 3, 3)
    assert ds.files["queries"] == ["questions.jsonl: JSONL queries (by content)"]
    assert ds.files["qrels"] == ["judgments.txt: TREC qrels (by content)"]


def test_a_csv_folder_with_any_names_is_read_by_content(tmp_path):
    rows = "".join(f'd{i},T{i},"dogs bark loudly, often"\n' for i in range(5))
    (tmp_path / "collection.txt").write_text("id,title,text\n" + rows)
    (tmp_path / "asks.tsv").write_text("qid\tquery\nq0\tdogs?\nq1\tbark\n")
    (tmp_path / "labels.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td2\t1\n")
    assert sniff(tmp_path / "collection.txt") == ("csv-corpus", "by name")
    assert sniff(tmp_path / "asks.tsv") == ("csv-queries", "by content")
    ds = load_dataset(tmp_path)
    assert (len(ds.corpus), len(ds.queries), ds.report.counts["judged pairs"]) == (5, 2, 2)
    assert ds.corpus["d1"].text.startswith("dogs bark loudly, often")


def test_a_conventional_corpus_beside_unconventional_queries_and_qrels(tmp_path):
    _odd_jsonl_folder(tmp_path)
    (tmp_path / "docs_v2.jsonl").rename(tmp_path / "corpus.jsonl")
    ds = load_dataset(tmp_path)
    assert (len(ds.queries), ds.report.counts["judged pairs"]) == (3, 3)


def test_a_tabular_file_of_short_texts_is_queries_and_of_long_texts_a_corpus(tmp_path):
    short, long = tmp_path / "a.csv", tmp_path / "b.csv"
    short.write_text("id,text\n1,what is a cascade\n2,bm25 vs dense\n")
    long.write_text("id,text\n" + "".join(f"{i},{'word ' * 100}\n" for i in range(3)))
    assert sniff(short) == ("csv-queries", "by content")
    assert sniff(long) == ("csv-corpus", "by content")


def test_two_files_that_could_be_queries_leave_the_choice_to_the_user(tmp_path):
    _odd_jsonl_folder(tmp_path)
    (tmp_path / "more_questions.jsonl").write_text('{"id": "q9", "text": "dogs?"}\n')
    with pytest.raises(DataError, match="several queries files"):
        load_dataset(tmp_path)
