"""A damaged vector index (the embedded engine's shard folder): moved aside when it opens, listed as
damaged, dropped on request, rebuilt by indexing or a dense step; never a traceback from the engine."""

from __future__ import annotations

import gc
import os
import shutil

import pytest

from cascade_core.models import resolve_model
from cascade_core.scoring.workspace import Workspace
from cascade_core.vectors.repair import damaged_indexes
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

MINILM = resolve_model("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def indexed_home(tiny_dataset, tmp_path_factory):
    """A data folder holding one complete index of the tiny corpus (built once, copied per test)."""
    home = tmp_path_factory.mktemp("indexed-home")
    ws = Workspace(home)
    index = ws.vector_index(tiny_dataset.corpus, MINILM)
    assert index.build().complete
    ws.close()
    # A connection left to the garbage collector (another thread's) would close mid-copy and
    # take the score store's -wal and -shm files away under copytree: closed here, once.
    name = index.name
    del index, ws
    gc.collect()
    return home, name


def damaged_copy(indexed_home, tmp_path, where: str):
    """A copy of the data folder with one file of the index's shard overwritten: a segment's
    settings (``start``), the start of its vector file (``middle``: it loads, but a vector read
    back is not of unit length), or the whole id tracker (``whole``)."""
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    shard = home / "qdrant-edge" / name
    pattern = {"start": "segments/*/segment.json", "middle": "segments/*/vector_storage/vectors/chunk_0.mmap",
               "whole": "segments/*/mutable_id_tracker.mappings"}[where]
    files = sorted(shard.glob(pattern))
    assert files, f"no {pattern} in {sorted(p.relative_to(shard) for p in shard.rglob('*'))}"
    for path in files:
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(os.urandom(size if where == "whole" else min(size, 4096)))
    return home, name


def no_traceback(res):
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr


def one_warning(res, name):
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning: the vector index")]
    assert len(warnings) == 1 and name in warnings[0] and "moved to" in warnings[0], res.stderr


@pytest.mark.slow
def test_indexes_lists_it_as_damaged_and_drop_removes_it(indexed_home, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "start")
    listing = cascade("indexes", home=home)
    no_traceback(listing)
    one_warning(listing, name)
    assert f"{name}  model=all-MiniLM-L6-v2" in listing.stdout and "DAMAGED" in listing.stdout
    # said once: the next listing still shows it, without the warning
    again = cascade("indexes", home=home)
    assert "DAMAGED" in again.stdout and "warning" not in again.stderr
    dropped = cascade("indexes", "--drop", name, home=home)
    no_traceback(dropped)
    assert "Dropped" in dropped.stdout
    assert "No indexes yet" in cascade("indexes", home=home).stdout
    assert damaged_indexes(home / "qdrant-edge") == []


def test_drop_works_straight_after_the_damage(indexed_home, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "middle")
    dropped = cascade("indexes", "--drop", name, home=home)
    no_traceback(dropped)
    one_warning(dropped, name)
    assert "Dropped" in dropped.stdout


@pytest.mark.slow
def test_eval_with_a_dense_first_pass_rebuilds_it(indexed_home, tiny_beir, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "whole")
    res = cascade("eval", "--dataset", str(tiny_beir), "--split", "test", "--first-pass", "dense:all-MiniLM-L6-v2",
                  "--pool-size", "20", "--final-k", "10", home=home)
    no_traceback(res)
    one_warning(res, name)
    assert "nDCG@10" in res.stdout
    listing = cascade("indexes", home=home).stdout
    assert f"{name}  model=all-MiniLM-L6-v2" in listing and "complete" in listing   # rebuilt
    assert "DAMAGED" in listing                                                    # and the old copy kept


@pytest.mark.slow
def test_index_rebuilds_it(indexed_home, tiny_beir, tiny_dataset, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "start")
    res = cascade("index", "--dataset", str(tiny_beir), "--model", "all-MiniLM-L6-v2", home=home)
    no_traceback(res)
    one_warning(res, name)
    assert f"encoded {len(tiny_dataset.corpus)} documents" in res.stdout and "complete: True" in res.stdout


def test_unreadable_engine_settings_move_that_index_aside(indexed_home, tmp_path):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    (home / "qdrant-edge" / name / "edge_config.json").write_bytes(b"\xff\x00 not json")
    heard = []
    ws = Workspace(home, notify=heard.append)
    assert [d.name for d in ws.damaged_indexes()] == [name]
    assert not ws.qdrant.exists(name)
    ws.close()
    assert len(heard) == 1 and name in heard[0] and "does not load" in heard[0]
    moved = list((home / "qdrant-edge" / "damaged").iterdir())
    assert len(moved) == 1 and (moved[0] / "cascade.json").exists() and (moved[0] / "damage.json").exists()


def test_vanished_vectors_are_not_a_complete_index(indexed_home, tiny_dataset, tmp_path):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    for part in ("segments", "wal"):   # the points and the log they could be replayed from
        for path in (home / "qdrant-edge" / name / part).iterdir():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    ws = Workspace(home)
    info = ws.vector_index(tiny_dataset.corpus, MINILM).info()
    assert info.exists and not info.complete
    ws.close()


def test_healthy_indexes_are_left_alone(indexed_home, tmp_path):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    meta = (home / "qdrant-edge" / name / "cascade.json").read_text()
    ws = Workspace(home)
    assert ws.damaged_indexes() == []
    ws.close()
    # nothing moved aside (the folders; the lock file that creations take sits beside them)
    assert sorted(p.name for p in (home / "qdrant-edge").iterdir() if p.is_dir()) == [name]
    assert (home / "qdrant-edge" / name / "cascade.json").read_text() == meta
