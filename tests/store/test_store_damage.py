"""A damaged score store: found on open (or on a read), moved aside (never deleted), rebuilt, and
said in one message (what was lost, where the old file went); no traceback in the CLI."""

from __future__ import annotations

import os
import sqlite3

import pytest

from cascade_cli import main
from cascade_core.errors import StoreDamagedError
from cascade_core.scoring.workspace import Workspace
from cascade_core.store.scores import ScoreStore, query_key


def filled_store(path, queries=200, docs=300) -> None:
    store = ScoreStore(path)
    for q in range(queries):
        store.put_many("bm25", "c", [(f"q{q}", f"d{i}", i * 0.1) for i in range(docs)])
    store.record_costs("bm25", [(10, 100, 0.01)])
    store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")   # every page in the file itself
    store._close_conn()


def overwrite_middle(path, n=8192) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(n))


def overwrite_start(path, n=100) -> None:
    with open(path, "r+b") as f:
        f.write(os.urandom(n))


def truncate(path) -> None:
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 3)


def moved_copies(folder):
    return sorted(p.name for p in folder.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("damage", [overwrite_middle, overwrite_start, truncate])
def test_a_damaged_store_is_moved_aside_and_rebuilt_on_open(tmp_path, damage):
    path = tmp_path / "scores.sqlite"
    filled_store(path)
    damage(path)
    heard = []
    store = ScoreStore(path, notify=heard.append)
    # a new, working store in its place
    assert store.n_scores() == 0
    store.put("bm25", "c", query_key("cats"), ["d1"], [1.0])
    assert store.get("bm25", "c", query_key("cats")) == {"d1": 1.0}
    # the old file moved, not deleted, and one message saying so
    (moved,) = moved_copies(tmp_path)
    assert (tmp_path / moved).stat().st_size > 0
    assert len(heard) == 1 and heard == store.notices
    notice = heard[0]
    assert str(path) in notice and moved in notice and "\n" not in notice
    assert "recomputable" in notice and ("stored scores" in notice)
    # nothing more to say the next time it opens
    assert ScoreStore(path).notices == []


def test_the_notice_counts_what_was_lost_when_that_can_be_known(tmp_path, monkeypatch):
    path = tmp_path / "scores.sqlite"
    filled_store(path, queries=3, docs=10)
    # the check reports damage though the rows still count (a damaged index page, say)
    import cascade_core.store.scores as store_module

    monkeypatch.setattr(store_module, "sqlite_damage", lambda p, full=None: "integrity check: a test")
    store = ScoreStore(path)
    assert "Lost: 30 stored scores" in store.notices[0]


def test_damage_found_on_a_read_moves_the_file_and_raises_one_message(tmp_path):
    path = tmp_path / "scores.sqlite"
    filled_store(path)
    store = ScoreStore(path)          # healthy on open
    overwrite_middle(path, n=os.path.getsize(path) // 3)
    store._close_conn()                # no cached pages: the next read goes to the disk
    with pytest.raises(StoreDamagedError) as info:
        store.get_many("bm25", "c", [f"q{q}" for q in range(200)])
        store.n_scores()
    message = str(info.value)
    assert str(path) in message and "moved to" in message and "Run it again" in message
    assert len(moved_copies(tmp_path)) == 1
    # the same object goes on working, on the new file
    assert store.n_scores() == 0
    store.put("bm25", "c", "q", ["d"], [1.0])
    assert store.n_scores() == 1


def test_a_locked_store_is_not_mistaken_for_a_damaged_one(tmp_path):
    path = tmp_path / "scores.sqlite"
    filled_store(path, queries=2, docs=2)
    ScoreStore(path)
    assert moved_copies(tmp_path) == []
    from cascade_core.store.damage import is_corruption

    assert not is_corruption(sqlite3.OperationalError("database is locked"))


def test_workspace_passes_the_notice_on(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    filled_store(home / "scores.sqlite", queries=5, docs=5)
    overwrite_start(home / "scores.sqlite")
    heard = []
    ws = Workspace(home, notify=heard.append)
    assert len(heard) == 1 and ws.notices == heard
    ws.close()


@pytest.mark.parametrize("damage", [overwrite_middle, overwrite_start, truncate])
def test_cli_eval_on_a_damaged_store_warns_once_and_scores_again(tiny_beir, tmp_path, capsys, damage):
    home = tmp_path / "home"
    args = ["--home", str(home), "eval", "--dataset", str(tiny_beir), "--split", "test",
            "--first-pass", "bm25", "--pool-size", "20", "--final-k", "10"]
    assert main(args) == 0
    store_path = home / "scores.sqlite"
    # make the store large enough that the damage lands in the scores, not in free space
    filled_store(store_path, queries=100, docs=100)
    damage(store_path)
    capsys.readouterr()
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "check --home" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning: the score store")]
    assert len(warnings) == 1 and "moved to" in warnings[0]
    assert "12 first-pass queries" in out   # everything scored again
    assert len(moved_copies(home)) == 1
