"""The score store: persistence, retrieval depths, costs, concurrent readers."""

import threading

import numpy as np

from cascade_core.store.scores import ScoreStore, query_key


def test_put_get_and_persist(tmp_path):
    path = tmp_path / "s.sqlite"
    store = ScoreStore(path)
    q = query_key("cats")
    store.put("bi", "c1", q, ["d1", "d2"], [0.5, 0.25])
    store.put("bi", "c2", q, ["d1"], [9.0])  # another corpus: separate
    assert store.get("bi", "c1", q) == {"d1": 0.5, "d2": 0.25}
    assert store.get("bi", "c1", q, ["d2", "zz"]) == {"d2": 0.25}
    assert store.get("cross", "c1", q) == {}
    reopened = ScoreStore(path)
    assert reopened.get("bi", "c2", q) == {"d1": 9.0}
    assert reopened.n_scores() == 3
    assert reopened.n_scores("bi") == 3


def test_get_many_only_returns_wanted_queries(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    store.put_many("bm25", "c", [("q1", "a", 1.0), ("q1", "b", 2.0), ("q2", "a", 3.0), ("q3", "z", 0.0)])
    got = store.get_many("bm25", "c", ["q1", "q2", "q9"])
    assert got == {"q1": {"a": 1.0, "b": 2.0}, "q2": {"a": 3.0}, "q9": {}}


def test_retrieval_replaces_list_and_records_depth(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    store.put_retrieval("fp", "c", "q", ["a", "b", "c"], [3, 2, 1], depth=3)
    store.put_retrieval("fp", "c", "q", ["a", "d"], [3, 2.5], depth=5)
    assert store.get("fp", "c", "q") == {"a": 3.0, "d": 2.5}
    assert store.retrieval_depths("fp", "c") == {"q": 5}
    assert store.retrieval_depths("other", "c") == {}


def test_costs_round_trip(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    store.record_costs("cross", [(10, 1000, 0.1), (20, 2000, 0.2)])
    rows = store.costs("cross")
    assert rows.shape == (2, 3)
    np.testing.assert_allclose(sorted(rows[:, 0]), [10, 20])
    assert store.costs("nothing").shape == (0, 3)


def test_concurrent_readers_and_a_writer(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    store.put("s", "c", "q", [f"d{i}" for i in range(100)], range(100))
    errors = []

    def read():
        try:
            for _ in range(50):
                assert len(store.get("s", "c", "q")) >= 100
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def write():
        for i in range(50):
            store.put("s", "c", "q", [f"x{i}"], [float(i)])

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.get("s", "c", "q")) == 150


def test_query_key_depends_on_text_only():
    assert query_key("a b") == query_key("a b")
    assert query_key("a b") != query_key("a  b")
