"""The judgment log: saved as made, undo, a torn last line, several writers, merge, TREC export."""

import json
import threading

import pytest

from cascade_core.data import Qrels
from cascade_core.data.validation import parse_qrels
from cascade_core.errors import CascadeError
from cascade_core.judgments import (PREFER_JUDGMENTS, JudgmentStore, merge_qrels, parse_queries, to_trec)


@pytest.fixture
def store(tmp_path):
    return JudgmentStore(tmp_path / "judgments" / "abc.jsonl")


def test_each_judgment_is_on_disk_when_judge_returns(store):
    j = store.judge("q1", "d1", 2, who="ana", query_text="do cats purr")
    lines = store.path.read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec | {"at": None} == {"op": "judge", "id": j.id, "query": "q1", "doc": "d1", "grade": 2, "who": "ana",
                                  "at": None, "source": "human", "query_text": "do cats purr"}
    assert rec["at"].endswith("+00:00")   # UTC, with its offset
    # A new store on the same file (a refresh, a restarted server) reads the same judgments.
    assert JudgmentStore(store.path).qrels().judgments == {"q1": {"d1": 2}}


def test_latest_judgment_wins_and_undo_brings_back_the_one_before(store):
    store.judge("q1", "d1", 2, who="ana")
    store.judge("q1", "d2", 0, who="ana")
    store.judge("q1", "d1", 0, who="ana")
    assert store.qrels().judgments == {"q1": {"d1": 0, "d2": 0}}
    assert store.undo(who="ana").grade == 0
    assert store.qrels().judgments == {"q1": {"d1": 2, "d2": 0}}
    assert store.undo(who="ana").doc == "d2"       # undo again walks further back
    assert store.qrels().judgments == {"q1": {"d1": 2}}
    store.undo(who="ana")
    assert store.undo(who="ana") is None and len(store) == 0
    # the log only ever grew: 3 judgments, 3 undos
    assert [json.loads(x)["op"] for x in store.path.read_text().splitlines()] == ["judge"] * 3 + ["undo"] * 3


def test_undo_takes_back_only_this_judges_last(store):
    store.judge("q1", "d1", 2, who="ana")
    store.judge("q1", "d2", 1, who="bo")
    assert store.undo(who="ana").doc == "d1"
    assert store.qrels().judgments == {"q1": {"d2": 1}}


def test_a_torn_last_line_is_skipped_and_the_next_write_starts_a_fresh_line(store):
    store.judge("q1", "d1", 2, who="ana")
    store.judge("q1", "d2", 1, who="ana")
    with open(store.path, "ab") as f:   # the process died in the middle of writing a third
        f.write(b'{"op": "judge", "id": "x", "query": "q1", "doc": "d3", "gra')
    fresh = JudgmentStore(store.path)
    assert fresh.qrels().judgments == {"q1": {"d1": 2, "d2": 1}}
    assert fresh.bad_lines == 1 and fresh.torn_tail
    fresh.judge("q1", "d4", 0, who="ana")
    assert JudgmentStore(store.path).qrels().judgments == {"q1": {"d1": 2, "d2": 1, "d4": 0}}
    assert fresh.qrels().judgments == {"q1": {"d1": 2, "d2": 1, "d4": 0}}
    assert fresh.bad_lines == 1 and not fresh.torn_tail   # the torn line is now a line of its own


def test_two_stores_on_one_file_see_each_others_judgments(store):
    other = JudgmentStore(store.path)   # another server process on the same data folder
    store.judge("q1", "d1", 2, who="ana")
    other.judge("q1", "d2", 1, who="bo")
    assert store.qrels().judgments == other.qrels().judgments == {"q1": {"d1": 2, "d2": 1}}


def test_concurrent_writers_lose_nothing(store):
    def write(who):
        for i in range(50):
            store.judge(f"q{who}", f"d{i}", i % 3, who=str(who))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert JudgmentStore(store.path).qrels().n_pairs == 200


def test_bad_grades_and_one_store_per_corpus(tmp_path, store):
    with pytest.raises(CascadeError, match="grade"):
        store.judge("q1", "d1", 3, who="ana")
    with pytest.raises(CascadeError, match="grade"):
        store.judge("q1", "d1", True, who="ana")
    assert not store.path.exists()      # nothing written, not even an empty file
    a = JudgmentStore.for_corpus(tmp_path, "fp1")
    assert a is JudgmentStore.for_corpus(tmp_path, "fp1") and a is not JudgmentStore.for_corpus(tmp_path, "fp2")
    assert a.path == (tmp_path / "judgments" / "fp1.jsonl").resolve()
    with pytest.raises(CascadeError):
        JudgmentStore.for_corpus(tmp_path, "../elsewhere")


def test_merge_lists_conflicts_and_the_dataset_wins_unless_told_otherwise(store):
    dataset = Qrels({"q1": {"d1": 1, "d2": 0}, "q2": {"d5": 2}})
    store.judge("q1", "d1", 1, who="ana")      # agrees: no conflict
    store.judge("q1", "d2", 2, who="ana")      # disagrees
    store.judge("q1", "d3", 2, who="ana")      # new pair
    store.judge("q3", "d9", 1, who="ana")      # new query
    merged = merge_qrels(dataset, store)
    assert merged.prefer == "dataset"
    assert merged.qrels.judgments == {"q1": {"d1": 1, "d2": 0, "d3": 2}, "q2": {"d5": 2}, "q3": {"d9": 1}}
    assert [(c.query, c.doc, c.dataset_grade, c.judged_grade, c.who) for c in merged.conflicts] == [
        ("q1", "d2", 0, 2, "ana")]
    assert merged.added_pairs == 2
    store.set_prefer(PREFER_JUDGMENTS, who="ana")      # a setting kept in the log, for every page
    assert JudgmentStore(store.path).prefer == PREFER_JUDGMENTS
    assert merge_qrels(dataset, store).qrels.judgments["q1"]["d2"] == 2
    assert dataset.judgments["q1"]["d2"] == 0        # the dataset's own qrels are never changed


def test_trec_export_round_trips_through_the_qrels_loader(tmp_path, store):
    store.judge("q1", "d1", 2, who="ana")
    store.judge("q1", "d2", 0, who="ana")
    store.judge("q-2", "doc.7", 1, who="ana")
    merged = merge_qrels(Qrels({"q9": {"d5": 1}}), store).qrels
    path = tmp_path / "qrels.txt"
    path.write_text(to_trec(merged))
    table = {}
    for j in parse_qrels(path):
        table.setdefault(j.query_id, {})[j.doc_id] = j.grade
    assert table == merged.judgments
    with pytest.raises(CascadeError, match="space"):
        to_trec(Qrels({"q 1": {"d1": 1}}))


def test_added_queries_are_stored_and_ids_never_reused(store):
    queries = parse_queries('statins and heart attacks\n\n# a comment\nq7\tvitamin D\n{"_id": "q8", "text": "x y"}\n')
    assert queries == {"judge-1": "statins and heart attacks", "q7": "vitamin D", "q8": "x y"}
    assert store.add_queries(queries, who="ana", known={"q1"}) == ["judge-1", "q7", "q8"]
    assert store.add_queries({"q7": "vitamin D"}, who="ana") == []      # the same again: nothing new
    with pytest.raises(CascadeError, match="taken"):
        store.add_queries({"q7": "something else"}, who="ana")
    with pytest.raises(CascadeError, match="taken"):
        store.add_queries({"q1": "a dataset query's id"}, who="ana", known={"q1"})
    store.judge("q1", "d1", 1, who="ana", query_text="a dataset query")
    assert JudgmentStore(store.path).query_texts() == {
        "q1": "a dataset query", "judge-1": "statins and heart attacks", "q7": "vitamin D", "q8": "x y"}
    assert parse_queries("one more", taken={"judge-1"}) == {"judge-2": "one more"}
