"""Two writers on one score store: a writer locked out past SQLite's busy timeout waits (one notice)
and then stores its scores; one locked out past ``$CASCADE_STORE_WAIT_S`` stops with one line."""

import sqlite3
import threading
import time

import pytest

from cascade_core.errors import StoreBusyError
from cascade_core.store.scores import ScoreStore, query_key

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def hold_write_lock(path, seconds: float, started: threading.Event):
    """Another process's long write: an open exclusive transaction on the same file."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    started.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture
def store(tmp_path):
    s = ScoreStore(tmp_path / "scores.sqlite")
    s.busy_timeout_s = 0.2          # SQLite's own wait, made short so the store's retries show
    s._close_conn()                 # reconnect with the short timeout
    return s


def test_a_locked_out_writer_waits_then_stores(store, monkeypatch):
    monkeypatch.setenv("CASCADE_STORE_WAIT_S", "30")
    heard = []
    store._notify = heard.append
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(store.path, 1.5, started))
    holder.start()
    started.wait(5)
    t0 = time.monotonic()
    store.put("bm25", "c1", query_key("cats"), ["d1", "d2"], [2.0, 1.0])
    waited = time.monotonic() - t0
    holder.join()
    assert waited > 0.5          # it really was locked out beyond SQLite's 0.2 s
    assert store.get("bm25", "c1", query_key("cats")) == {"d1": 2.0, "d2": 1.0}
    assert len(heard) == 1 and "being written by another process" in heard[0]
    assert str(store.path) in heard[0]


def test_a_writer_locked_out_too_long_stops_with_one_line(store, monkeypatch):
    monkeypatch.setenv("CASCADE_STORE_WAIT_S", "0.6")
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(store.path, 3.0, started))
    holder.start()
    started.wait(5)
    with pytest.raises(StoreBusyError) as caught:
        store.put("bm25", "c1", query_key("cats"), ["d1"], [2.0])
    holder.join()
    message = str(caught.value)
    assert "\n" not in message and str(store.path) in message and "CASCADE_STORE_WAIT_S" in message
    # Nothing half-written: the other writer's commit went through, and this put can be repeated.
    store.put("bm25", "c1", query_key("cats"), ["d1"], [2.0])
    assert store.get("bm25", "c1", query_key("cats")) == {"d1": 2.0}
