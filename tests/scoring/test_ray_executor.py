"""Scoring on a Ray cluster (``--executor ray``): the same scores in the same store, resumable.

The slow test starts a real local cluster (``ray start --head``, 2 CPUs, on 127.0.0.1) and runs
the ``cascade`` command against it as a user does: the demo's cascade (BM25, then a bi-encoder)
over a small SciFact sample. It checks the stored scores
equal the local executor's; that a driver killed mid-job leaves its written scores and the same
command then scores only what is missing, even with one of its worker processes killed mid-job
(Ray restarts it and retries its unit); and that the scores and timings say they came from Ray
workers. No multi-node cluster runs here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from cascade_core.cascade.executor import Executor
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.errors import MissingDependency, SpecError
from cascade_core.store.provenance import cost_source
from cascade_core.store.scores import ScoreStore
from tests.helpers import cascade, free_port, run_cli

# The demo's shape (the Build page's "demo" preset: BM25, then a bi-encoder) on the small sample.
DEMO = {"first_pass": {"kind": "bm25"}, "pool_size": 40, "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 20}],
        "final_k": 10}
SPEC = {"first_pass": {"kind": "bm25"}, "pool_size": 40,
        "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 20},
                   {"scorer": {"kind": "cross-encoder", "model": "MODEL"}, "keep": 5}], "final_k": 5}


def test_the_executor_is_a_run_setting_of_the_spec():
    spec = CascadeSpec.from_dict({**SPEC, "executor": "ray://head:10001"})
    assert spec.executor == "ray:ray://head:10001"
    assert spec.to_dict()["executor"] == "ray:ray://head:10001"
    assert spec.scorer_key() == CascadeSpec.from_dict(SPEC).scorer_key()   # the same scores
    assert "executor" not in CascadeSpec.from_dict(SPEC).to_dict()        # local: not written
    assert Executor.parse(spec.executor).address == "ray://head:10001"
    with pytest.raises(SpecError, match="unknown executor 'slurm'"):
        CascadeSpec.from_dict({**SPEC, "executor": "slurm"})
    with pytest.raises(SpecError, match="executor must be a short text"):
        CascadeSpec.from_dict({**SPEC, "executor": ["ray"]})
    with pytest.raises(SpecError, match="unknown executor '0'"):   # not read as "local"
        CascadeSpec.from_dict({**SPEC, "executor": 0})


def test_a_cluster_out_of_reach_or_a_command_that_works_here_is_one_line_before_any_work(tiny_beir, tmp_path):
    pytest.importorskip("ray")
    start = time.perf_counter()
    res = run_cli("eval", "--dataset", str(tiny_beir), "--preset", "demo", "--executor", "ray:127.0.0.1:1",
                  home=tmp_path / "a")
    assert res.returncode != 0 and time.perf_counter() - start < 60
    assert res.stderr.strip().splitlines() == ["error: cannot reach the Ray cluster at 127.0.0.1:1: connection refused "
                                               "(check the address, and that the cluster runs)"], res.stderr
    assert not (tmp_path / "a" / "scores.sqlite").exists() or _stage_rows(tmp_path / "a" / "scores.sqlite") == 0
    res = run_cli("eval", "--dataset", str(tiny_beir), "--executor", "ray:no-such-host.invalid:6379", home=tmp_path / "b")
    assert "cannot reach the Ray cluster at no-such-host.invalid:6379: no host 'no-such-host.invalid'" in res.stderr
    for command, why in (("calibrate", "cascade calibrate times the steps on this machine"),
                         ("distill", "cascade distill trains on this machine")):
        res = run_cli(command, "--dataset", str(tiny_beir), "--executor", "ray", home=tmp_path / "c")
        assert res.returncode != 0 and f"{why}: --executor ray does not apply" in res.stderr, res.stderr


def test_without_ray_the_setting_is_one_line_naming_the_extra(monkeypatch, tiny_beir, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)   # as if not installed: import ray raises
    with pytest.raises(MissingDependency, match=r"pip install 'cascade-explorer\[ray\]'"):
        Executor.parse("ray").check()
    # and the CLI says it before any work, in one line
    code = ("import sys; sys.modules['ray'] = None; from cascade_cli import main; "
            f"sys.exit(main(['eval', '--dataset', {str(tiny_beir)!r}, '--executor', 'ray']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CASCADE_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert err[-1] == ("error: scoring on a Ray cluster (--executor ray) needs ray, which is not installed here: "
                       "pip install 'cascade-explorer[ray]'"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(Path(tmp_path).glob("scores.sqlite")) or _stage_rows(tmp_path / "scores.sqlite") == 0


def _stage_rows(db: Path) -> int:
    """Stored scores of the rerank stages (not the first pass), read as another process would."""
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM scores s JOIN score_sets ss ON ss.id = s.set_id "
                                "WHERE ss.scorer NOT LIKE 'first-pass:%'").fetchone()[0]
        except sqlite3.OperationalError:   # not created yet
            return 0


def _scores(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        return {(sc, q, d): s for sc, q, d, s in conn.execute(
            "SELECT ss.scorer, s.query, s.doc, s.score FROM scores s JOIN score_sets ss ON ss.id = s.set_id")}


def _worker_pids() -> list[int]:
    """Processes running our stage actors (Ray names them after the mapped class)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"StageWorker" in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster (2 CPUs) on 127.0.0.1, with a token of its own; stopped after the module."""
    pytest.importorskip("ray")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")   # Ray's socket paths must stay short
    # Only what the cluster and the commands need: the whole environment here would carry this
    # process's CASCADE_HOME (another test's data folder) into every command run with it.
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(16).hex(), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    ray_bin = str(Path(sys.executable).parent / "ray")
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", "--num-cpus", "2", "--port", str(port),
                             "--node-ip-address", "127.0.0.1", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", temp],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline, seen = time.time() + 120, []
    while time.time() < deadline:
        line = head.stdout.readline()
        seen.append(line)
        if "Ray runtime started" in line or "will now block" in line or head.poll() is not None:
            break
    if head.poll() is not None:
        pytest.fail("ray start failed:\n" + "".join(seen))
    try:
        yield {"address": f"127.0.0.1:{port}", "env": env}
    finally:
        # Every process of the cluster is in the session ray start began: killed at once (a
        # graceful stop takes 30 s here, and nothing of it is kept).
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_a_cascade_scored_and_indexed_on_ray_is_the_same_and_resumes_after_a_lost_driver_and_worker(
        ray_cluster, tiny_beir, tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(DEMO))
    args = ["eval", "--dataset", str(tiny_beir), "--config", str(spec_file)]
    on_ray = ["--executor", f"ray:{ray_cluster['address']}"]
    # one query per unit: a killed process loses little, and the kills below land mid-job
    env = {**ray_cluster["env"], "CASCADE_RAY_UNIT_PAIRS": "20"}

    # The local executor: the reference.
    local = run_cli(*args, home=tmp_path / "local")
    assert local.returncode == 0, local.stderr
    reference = _scores(tmp_path / "local" / "scores.sqlite")
    stage_total = sum(1 for k in reference if not k[0].startswith("first-pass:"))
    assert stage_total == 12 * 40   # every candidate of the sample's 12 queries

    # On Ray, the driver killed once its first results are stored, then the same command again.
    home = tmp_path / "killed"
    full_env = {**os.environ, **env, "CASCADE_HOME": str(home)}
    driver = subprocess.Popen([sys.executable, "-m", "cascade_cli", *args, *on_ray], env=full_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and driver.poll() is None and _stage_rows(home / "scores.sqlite") == 0:
        time.sleep(0.05)
    assert driver.poll() is None, driver.stderr.read()
    driver.kill()
    driver.wait()
    stored = _stage_rows(home / "scores.sqlite")
    assert 0 < stored < stage_total, "the driver was not killed mid-job"
    # The same command again, and one of its workers killed while it scores the missing pairs:
    # Ray restarts the worker and retries its unit.
    out, err = tmp_path / "again.out", tmp_path / "again.err"
    with out.open("w") as o, err.open("w") as e:
        driver = subprocess.Popen([sys.executable, "-m", "cascade_cli", *args, *on_ray, "--json",
                                   str(tmp_path / "again.json")], env=full_env, stdout=o, stderr=e, text=True)
        killed = None
        deadline = time.time() + 300
        while time.time() < deadline and driver.poll() is None:
            workers = _worker_pids()
            if workers and stored < _stage_rows(home / "scores.sqlite") < stage_total:
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
                break
            time.sleep(0.05)
        driver.wait(timeout=600)
    assert driver.returncode == 0, err.read_text()
    assert killed is not None, "no worker was running mid-job"
    report = json.loads((tmp_path / "again.json").read_text())["scoring"]
    assert sum(report["scored_pairs"].values()) == stage_total - stored   # only what was missing
    # the stages were scored on the cluster, and the report says so (the first pass was stored before the kill)
    assert set(report["where"]) == {"bi-encoder"}, report["where"]
    assert all(w.startswith(f"Ray ({ray_cluster['address']}): ") for w in report["where"].values()), report["where"]
    assert "scored on Ray" in out.read_text()
    on_cluster = _scores(home / "scores.sqlite")
    assert on_cluster.keys() == reference.keys()
    assert max(abs(on_cluster[k] - reference[k]) for k in reference) < 1e-5   # float rounding

    # Where the scores and timings came from: Ray workers, said beside the latency figures.
    with sqlite3.connect(home / "scores.sqlite") as conn:
        machines = [json.loads(m) for (m,) in conn.execute("SELECT machine FROM runs WHERE scorer NOT LIKE 'first-pass:%'")]
        timed = [k for (k,) in conn.execute("SELECT DISTINCT c.scorer FROM costs c JOIN runs r ON r.id = c.run "
                                            "WHERE r.machine LIKE '%\"executor\": \"ray\"%'")]
    assert machines and all(m["executor"] == "ray" for m in machines)
    assert len(timed) == 1
    store = ScoreStore(home / "scores.sqlite")
    assert {cost_source(store, key) for key in timed} == {"measured in Ray workers"}

    _check_index_on_ray(ray_cluster, tiny_beir, tmp_path)

    # GPU actors asked of a cluster without a GPU (this process has none either: the device is the workers')
    res = cascade(*args, *on_ray, "--device", "cuda", home=tmp_path / "gpu", env=env)
    assert res.returncode != 0
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: the device setting is cuda, and the Ray cluster at {ray_cluster['address']} has no GPU (device auto "
        "or cpu scores on its CPUs)"), res.stderr


def _check_index_on_ray(ray_cluster, tiny_beir, tmp_path):
    """``cascade index --executor ray``: the cluster encodes, this process upserts; the same vectors.
    (Called from the test above: one cluster for the module, whichever worker runs it.)"""
    from cascade_core.data import load_dataset
    from cascade_core.models import resolve_model
    from cascade_core.scoring.workspace import Workspace

    there = cascade("index", "--dataset", str(tiny_beir), "--executor", f"ray:{ray_cluster['address']}",
                    home=tmp_path / "there", env=ray_cluster["env"])
    assert there.returncode == 0, there.stderr
    corpus = load_dataset(tiny_beir, split="test").corpus
    assert f"encoded {len(corpus)} documents on the Ray cluster at {ray_cluster['address']}" in there.stdout
    assert "complete: True" in there.stdout
    model = resolve_model("all-MiniLM-L6-v2")
    here = Workspace(tmp_path / "here").vector_index(corpus, model)
    here.build()
    ids = list(corpus.ids)
    on_ray = Workspace(tmp_path / "there").vector_index(corpus, model)
    assert np.allclose(here.vectors(ids), on_ray.vectors(ids), atol=1e-5)
