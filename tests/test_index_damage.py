"""A damaged vector index (embedded Qdrant): moved aside when the folder opens, listed as damaged,
dropped on request, rebuilt by indexing or a dense step; never a traceback from the client."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cascade_core.index_repair import damaged_indexes, quarantine
from cascade_core.models import resolve_model
from cascade_core.workspace import Workspace
from tests.test_cli import cascade

MINILM = resolve_model("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def indexed_home(tiny_dataset, tmp_path_factory):
    """A data folder holding one complete index of the tiny corpus (built once, copied per test)."""
    home = tmp_path_factory.mktemp("indexed-home")
    ws = Workspace(home)
    index = ws.vector_index(tiny_dataset.corpus, MINILM)
    assert index.build().complete
    ws.close()
    return home, index.name


def damaged_copy(indexed_home, tmp_path, where: str):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    storage = home / "qdrant" / "collection" / name / "storage.sqlite"
    size = storage.stat().st_size
    with open(storage, "r+b") as f:
        if where == "start":
            f.write(os.urandom(100))
        elif where == "middle":
            f.seek(size // 2)
            f.write(os.urandom(8192))
        else:   # the whole file
            f.write(os.urandom(size))
    return home, name


def no_traceback(res):
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr


def one_warning(res, name):
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning: the vector index")]
    assert len(warnings) == 1 and name in warnings[0] and "moved to" in warnings[0], res.stderr


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
    assert damaged_indexes(home / "qdrant") == []


def test_drop_works_straight_after_the_damage(indexed_home, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "middle")
    dropped = cascade("indexes", "--drop", name, home=home)
    no_traceback(dropped)
    one_warning(dropped, name)
    assert "Dropped" in dropped.stdout


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


def test_index_rebuilds_it(indexed_home, tiny_beir, tiny_dataset, tmp_path):
    home, name = damaged_copy(indexed_home, tmp_path, "start")
    res = cascade("index", "--dataset", str(tiny_beir), "--model", "all-MiniLM-L6-v2", home=home)
    no_traceback(res)
    one_warning(res, name)
    assert f"encoded {len(tiny_dataset.corpus)} documents" in res.stdout and "complete: True" in res.stdout


def test_an_unreadable_table_of_contents_moves_the_whole_folder(indexed_home, tmp_path):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    (home / "qdrant" / "meta.json").write_bytes(b"\xff\x00 not json")
    heard = []
    ws = Workspace(home, notify=heard.append)
    assert ws.qdrant.get_collections().collections == []
    ws.close()
    assert len(heard) == 1 and "meta.json" in heard[0]
    moved = [p for p in home.iterdir() if p.name.startswith("qdrant.damaged-")]
    assert len(moved) == 1 and (moved[0] / "collection" / name / "storage.sqlite").exists()


def test_a_vanished_storage_file_is_not_a_complete_index(indexed_home, tiny_dataset, tmp_path):
    source, name = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    (home / "qdrant" / "collection" / name / "storage.sqlite").unlink()
    ws = Workspace(home)
    info = ws.vector_index(tiny_dataset.corpus, MINILM).info()
    assert info.exists and not info.complete
    ws.close()


def test_quarantine_leaves_healthy_indexes_alone(indexed_home, tmp_path):
    source, _ = indexed_home
    home = tmp_path / "home"
    shutil.copytree(source, home)
    before = json.loads((home / "qdrant" / "meta.json").read_text())
    assert quarantine(home / "qdrant") == []
    assert json.loads((home / "qdrant" / "meta.json").read_text()) == before
