"""Fatal problems: a DataError naming the file and line, and saying what is wrong."""

from __future__ import annotations

import pytest

from cascade_core.data import detect_format, load_corpus_file, load_dataset
from cascade_core.errors import DataError


def error_of(fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    return info.value


def test_invalid_json_line(write):
    path = write("corpus.jsonl", '{"id": "d1", "text": "a"}\n\n{"id": "d2", "text": "b",}\n')
    e = error_of(load_corpus_file, path)
    assert (e.file, e.line) == (str(path), 3)
    assert "not valid JSON" in e.message
    assert str(e).startswith(f"{path}:3: ")


def test_json_line_that_is_not_an_object(write):
    e = error_of(load_corpus_file, write("c.jsonl", '["d1", "a"]\n'))
    assert e.line == 1 and "JSON object" in e.message


def test_missing_id_and_missing_text(write):
    e = error_of(
        load_corpus_file, write("c.jsonl", '{"_id": "d1", "text": "a"}\n{"title": "t", "text": "b"}\n')
    )
    assert e.line == 2 and "no document id" in e.message and "'_id'" in e.message and "'title'" in e.message
    e = error_of(load_corpus_file, write("c2.jsonl", '{"_id": "d1", "contents_x": "a"}\n'))
    assert e.line == 1 and "no 'text'" in e.message and "contents_x" in e.message


def test_bad_id_values(write):
    e = error_of(load_corpus_file, write("c.jsonl", '{"_id": "", "text": "a"}\n'))
    assert e.line == 1 and "empty id" in e.message
    e = error_of(
        load_corpus_file, write("c2.jsonl", '{"_id": "x", "text": "a"}\n{"_id": [1], "text": "a"}\n')
    )
    assert e.line == 2 and "string or a number" in e.message


def test_csv_without_id_or_text_column(write):
    path = write("c.csv", "name,body\nd1,a\n")
    e = error_of(load_corpus_file, path)
    assert (e.file, e.line) == (str(path), 1)
    assert "'id'" in e.message and "'name', 'body'" in e.message
    e = error_of(load_corpus_file, write("c2.csv", "id,body\nd1,a\n"))
    assert "'text'" in e.message


def test_csv_row_with_wrong_number_of_fields(write):
    e = error_of(load_corpus_file, write("c.csv", "id,text\nd1,a\nd2,b,c\n"))
    assert e.line == 3 and "3 fields" in e.message and "2 columns" in e.message


def test_not_utf8_gives_line_byte_offset_and_a_hint(write):
    path = write("c.jsonl", b'{"id": "d1", "text": "a"}\n{"id": "d2", "text": "caf\xe9"}\n')
    e = error_of(load_corpus_file, path)
    assert (e.file, e.line) == (str(path), 2)
    assert "not valid UTF-8" in e.message and "byte 0xe9" in e.message
    assert "byte offset 51" in e.message and "(column 26)" in e.message and "re-encode" in e.message
    e = error_of(load_corpus_file, write("bom.jsonl", b"\xef\xbb\xbf" + b'{"id": "d\xff", "text": "a"}\n'))
    assert e.line == 1 and "byte offset 12" in e.message  # offsets count from the file's first byte


def test_utf16_file(write):
    e = error_of(load_corpus_file, write("c.jsonl", '{"id": "d1", "text": "a"}\n'.encode("utf-16")))
    assert "UTF-16" in e.message and "re-encode" in e.message


def test_broken_gzip(write):
    path = write("corpus.jsonl.gz", b"this is not gzip")
    e = error_of(load_corpus_file, path)
    assert e.file == str(path) and "gzip" in e.message


def test_missing_path(tmp_path):
    for fn in (load_dataset, load_corpus_file, detect_format):
        e = error_of(fn, tmp_path / "nope")
        assert e.file == str(tmp_path / "nope") and "no such file" in e.message


def test_unrecognised_folder_lists_found_and_expected(write, tmp_path):
    write("notes.txt", "hello")
    (tmp_path / "sub").mkdir()
    e = error_of(load_dataset, tmp_path)
    assert e.file == str(tmp_path)
    assert "notes.txt, sub/" in e.message
    for expected in ("BEIR", "corpus.jsonl", "TREC", "SMART", "qrels"):
        assert expected in e.message
    e = error_of(detect_format, write("x.bin", "hello"))
    assert "cannot recognise" in e.message


def test_non_integer_grade(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    write("queries.jsonl", '{"id": "q1", "text": "a"}\n')
    qrels = write("qrels.tsv", "query_id\tdoc_id\tgrade\nq1\td1\t1\nq1\td1\thigh\n")
    e = error_of(load_dataset, tmp_path)
    assert (e.file, e.line) == (str(qrels), 3) and "'high' is not an integer" in e.message
    write("qrels.tsv", "q1\td1\t0.5\n")
    assert error_of(load_dataset, tmp_path).line == 1
    write("qrels.tsv", "q1\td1\n")
    e = error_of(load_dataset, tmp_path)
    assert e.line == 1 and "found 2" in e.message


def test_integral_float_grades_are_accepted(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    write("queries.jsonl", '{"id": "q1", "text": "a"}\n')
    write("qrels.tsv", "q1\td1\t2.0\n")
    assert load_dataset(tmp_path).qrels.judgments == {"q1": {"d1": 2}}


def test_empty_corpus(write, tmp_path):
    path = write("corpus.jsonl", "\n\n")
    e = error_of(load_corpus_file, path)
    assert e.file == str(path) and "no documents" in e.message
    e = error_of(load_dataset, tmp_path)
    assert "no documents" in e.message
    e = error_of(load_corpus_file, write("c.csv", ""))
    assert "header" in e.message


def test_ambiguous_corpus_files(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    write("corpus.csv", "id,text\nd1,a\n")
    e = error_of(load_dataset, tmp_path)
    assert "corpus.csv, corpus.jsonl" in e.message and "keep only one" in e.message


def test_split_on_a_format_without_splits(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    assert "no splits" in error_of(load_dataset, tmp_path, split="test").message


def test_unknown_format_name(write, tmp_path):
    write("corpus.jsonl", '{"id": "d1", "text": "a"}\n')
    assert "unknown format" in error_of(load_dataset, tmp_path, fmt="parquet").message
    assert "folder" in error_of(load_corpus_file, tmp_path).message
