"""One file recognition: a file's content decides what it is (its name only where the content is
silent), for a corpus file alone and inside a folder alike; and a file named explicitly always
wins over what the folder's convention would find (two qrels files are no error once one is named)."""

import pytest

from cascade_cli import main
from cascade_core.data import load_dataset
from cascade_core.data.loader import detect_format
from cascade_core.errors import DataError

TREC = "<DOC>\n<DOCNO> d1 </DOCNO>\n<TEXT>cats purr softly</TEXT>\n</DOC>\n<DOC>\n<DOCNO> d2 </DOCNO>\n<TEXT>dogs bark</TEXT>\n</DOC>\n"
TOPICS = "<top>\n<num> Number: 1\n<title> purring cats\n</top>\n"
CORPUS = ('{"_id": "d1", "title": "Cats", "text": "Cats purr."}\n'
          '{"_id": "d2", "title": "Dogs", "text": "Dogs bark."}\n')


def test_a_docs_txt_of_trec_records_is_trec_alone_and_in_a_folder(write, tmp_path):
    docs = write("collection/docs.txt", TREC)
    assert detect_format(docs) == "trec"
    assert len(load_dataset(docs).corpus) == 2
    write("collection/topics.txt", TOPICS)
    write("collection/judgments.txt", "1 0 d1 1\n")
    ds = load_dataset(tmp_path / "collection")
    assert (len(ds.corpus), len(ds.queries), ds.qrels.judgments) == (2, 1, {"1": {"d1": 1}})


def test_a_file_of_topics_is_not_taken_for_a_corpus(write):
    with pytest.raises(DataError, match="holds TREC topics .*not a corpus"):
        load_dataset(write("topics.txt", TOPICS))


def test_a_named_qrels_file_wins_over_two_in_the_folder(write, tmp_path):
    write("d/corpus.jsonl", CORPUS)
    write("d/queries.jsonl", '{"_id": "q1", "text": "purring"}\n')
    write("d/qrels.tsv", "q1\td1\t1\n")
    write("d/qrels.txt", "q1 0 d2 1\n")
    with pytest.raises(DataError, match=r"several qrels files: qrels.tsv, qrels.txt; name the one to use \(--qrels"):
        load_dataset(tmp_path / "d")
    assert load_dataset(tmp_path / "d", qrels=tmp_path / "d" / "qrels.txt").qrels.judgments == {"q1": {"d2": 1}}


def test_cascade_eval_dataset_with_qrels_on_a_folder_with_two(write, tmp_path, capsys):
    write("d/corpus.jsonl", CORPUS)
    write("d/queries.jsonl", '{"_id": "q1", "text": "cats purr"}\n')
    write("d/qrels.tsv", "q1\td1\t1\n")
    write("d/qrels.txt", "q1 0 d2 1\n")
    home = str(tmp_path / "home")
    assert main(["--home", home, "eval", "--dataset", str(tmp_path / "d"), "--pool-size", "2"]) == 2
    assert "--qrels FILE" in capsys.readouterr().err
    assert main(["--home", home, "eval", "--dataset", str(tmp_path / "d"), "--qrels", str(tmp_path / "d" / "qrels.tsv"),
                 "--pool-size", "2", "--final-k", "2"]) == 0
    assert "Evaluating on 1 queries" in capsys.readouterr().out


def test_a_smart_folder_with_two_qrels_files_and_one_named(write, tmp_path):
    write("s/cran.all.1400", ".I 1\n.T\ncats\n.W\ncats purr\n.I 2\n.T\ndogs\n.W\ndogs bark\n")
    write("s/cran.qry", ".I 1\n.W\npurring cats\n")
    write("s/cranqrel", "1 1 1\n")
    write("s/cranqrel.old", "1 2 1\n")
    with pytest.raises(DataError, match="several qrels files: cranqrel, cranqrel.old"):
        load_dataset(tmp_path / "s")
    judged = load_dataset(tmp_path / "s", qrels=tmp_path / "s" / "cranqrel.old").qrels.judgments
    assert list(judged["1"]) == ["2"]   # the named file's judgment (on its own grade scale)
