"""Two processes on one data folder: a run whose scores are all stored never takes an embedded
index's lock (the engine locks each index's shard folder per process); one that needs vectors says
it waits for the other, then goes on, or fails with one line after ``$CASCADE_QDRANT_WAIT_S``."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)

HOLD = """
import sys, time
from cascade_core.vectors.index import list_indexes
from cascade_core.scoring.workspace import Workspace
ws = Workspace(sys.argv[1])
assert list_indexes(ws.qdrant)   # opens (and holds) every index, as the dashboard's Data page does
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
ws.close()
"""


def cascade(home, *args, env=None, check=True):
    """The command in this process (the holder is the other process; this one's engine is closed
    when the command ends): no interpreter start, the models already loaded."""
    res = run_cli(*args, home=home, env=env)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def hold(home, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home), str(seconds)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_stored_run_beside_a_process_holding_the_vectors(tiny_beir, tmp_path):
    home = tmp_path / "home"
    spec = ["--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "bi:all-MiniLM-L6-v2@10"]
    cascade(home, "eval", *spec, "--json", str(tmp_path / "first.json"))     # scores and index stored
    holder = hold(home, 300)
    try:
        again = cascade(home, "eval", *spec, "--json", str(tmp_path / "again.json"))
        assert "waiting" not in again.stderr and "0 pairs scored" in again.stdout
        first, second = (json.loads((tmp_path / f).read_text()) for f in ("first.json", "again.json"))
        assert first["metrics"] == second["metrics"]
        # Live queries need the vectors: it waits, says so, and gives up in one line.
        live = cascade(home, "eval", *spec, "--live", "1", env={"CASCADE_QDRANT_WAIT_S": "2"}, check=False)
        assert live.returncode == 2
        assert "waiting for the embedded Qdrant folder" in live.stderr
        assert live.stderr.strip().splitlines()[-1].startswith("error: the embedded Qdrant folder")
        assert "waited 2 s" in live.stderr and "Traceback" not in live.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_run_that_needs_the_vectors_waits_for_the_other_to_finish(tiny_beir, tmp_path):
    home = tmp_path / "home"
    spec = ["--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "bi:all-MiniLM-L6-v2@10"]
    cascade(home, "index", "--dataset", str(tiny_beir), "--model", "all-MiniLM-L6-v2")
    holder = hold(home, 600)
    proc = subprocess.Popen([sys.executable, "-m", "cascade_cli", "--home", str(home), "eval", *spec, "--live", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "CASCADE_QDRANT_WAIT_S": "300"})
    try:
        said = ""
        while "waiting for the embedded Qdrant folder" not in said:   # it says so, then waits...
            line = proc.stderr.readline()
            assert line, "the run ended without waiting: " + said
            said += line
        holder.kill()                                                   # ... until the other lets go
        holder.wait()
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, said + err
        assert "measured live" in out
    finally:
        holder.kill()
        proc.kill()
