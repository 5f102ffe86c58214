"""``--corpus``, ``--queries-file`` (``--topics``), ``--qrels``: dataset files named on the command line."""

from __future__ import annotations

from cascade_cli.cli import build_parser, main

DOCS = "<DOC>\n<DOCNO>D1</DOCNO>\n<TEXT>Cats purr.</TEXT>\n</DOC>\n<DOC>\n<DOCNO>D2</DOCNO>\n<TEXT>Dogs.</TEXT>\n</DOC>\n"
TOPICS = "<top>\n<num> Number: 301\n<title> cats\n</top>\n<top>\n<num> Number: 302\n<title> dogs\n</top>\n"


def _files(tmp_path):
    (tmp_path / "c").mkdir()
    docs = tmp_path / "c" / "news.trec"
    docs.write_text(DOCS)
    topics = tmp_path / "c" / "queries.trec"
    topics.write_text(TOPICS)
    qrels = tmp_path / "c" / "qrels.txt"
    qrels.write_text("301 0 D1 1\n302 0 D2 1\n")
    return docs, topics, qrels


def _forget(tmp_path, *args):
    return main(["forget", "--home", str(tmp_path / "home"), *map(str, args)])


def test_named_files_without_a_folder(tmp_path, capsys):
    docs, topics, qrels = _files(tmp_path)
    assert _forget(tmp_path, "--corpus", docs, "--topics", topics, "--qrels", qrels) == 0
    assert "documents: 2, queries: 2, judged queries: 2" in capsys.readouterr().out


def test_named_file_overrides_the_folder(tmp_path, capsys):
    docs, topics, qrels = _files(tmp_path)
    other = tmp_path / "one.tsv"
    other.write_text("302\tdogs\n")
    assert _forget(tmp_path, "--dataset", docs.parent, "--queries-file", other) == 0
    assert "documents: 2, queries: 1, judged queries: 1" in capsys.readouterr().out


def test_folder_with_queries_trec_loads_its_queries(tmp_path, capsys):
    docs, _, _ = _files(tmp_path)
    assert _forget(tmp_path, "--dataset", docs.parent) == 0
    assert "queries: 2, judged queries: 2" in capsys.readouterr().out


def test_wrong_content_is_one_error_line(tmp_path, capsys):
    docs, topics, _ = _files(tmp_path)
    assert _forget(tmp_path, "--dataset", docs.parent, "--qrels", topics) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{topics}:1" in err and "holds TREC topics" in err


def test_missing_file_and_no_dataset(tmp_path, capsys):
    assert _forget(tmp_path, "--corpus", tmp_path / "nope.jsonl") == 2
    assert "no such file (named as the corpus file)" in capsys.readouterr().err
    assert _forget(tmp_path) == 2
    assert "give --dataset FOLDER, or name the corpus file with --corpus FILE" in capsys.readouterr().err


def test_query_count_flag_is_kept(tmp_path):
    args = build_parser().parse_args(["eval", "--dataset", "x", "--queries", "3", "--queries-file", "q.trec"])
    assert args.queries == 3 and args.queries_file == "q.trec"
