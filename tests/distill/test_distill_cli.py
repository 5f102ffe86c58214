"""``cascade distill`` end to end on a small two-split collection: the report, the student as
``cross:PATH`` in ``cascade eval``, the no-overlap rule, and a run killed with -9 that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import run_cli

from tests.distill.conftest import TEACHER, TINY


def cascade(*args, home, check=True):
    """The command in this process (models loaded once); the killed run below has a process of its own."""
    res = run_cli(*args, home=home)
    if check:
        assert res.returncode == 0, res.stderr[-2000:]
    return res


@pytest.mark.slow
def test_distill_reports_teacher_and_student_and_the_student_works_as_cross_path(split_beir, tmp_path):
    home, report = tmp_path / "home", tmp_path / "distilled.json"
    res = cascade("distill", "--dataset", str(split_beir), *TEACHER, *TINY, "--eval-depth", "20",
                  "--json", str(report), home=home)
    out = res.stdout
    assert "Training queries: split 'train' of split-beir" in out and "held out: 12 judged queries of split test" in out
    for row in ("first pass", "teacher", "student", "student + first pass"):
        assert f"\n{row} " in out
    info = json.loads(report.read_text())
    student = info["use_as"].removeprefix("cross:")
    assert student.startswith(str(home / "models" / "distilled" / split_beir.name) + "-")
    assert info["training_queries"]["queries"] == 12 and info["settings"]["layers"] == 1
    assert info["training"]["steps"] == 8 and info["training"]["cpu_s"] > 0 and info["machine"]["cores"]
    rows = {r["name"]: r for r in info["report"]["rows"]}
    assert set(rows["student"]["metrics"]) == {"ndcg@10", "mrr@10", "recall@10"}
    assert rows["student"]["ms_per_pair"] > 0 and info["report"]["depth"] == 20
    # The folder is an ordinary cross-encoder: eval over the same first pass reuses every stored score.
    ev = cascade("eval", "--dataset", str(split_beir), "--pool-size", "20", "--stage", f"cross:{student}@10",
                 home=home)
    assert "0 pairs scored" in ev.stdout
    assert f"nDCG@10 {rows['student']['metrics']['ndcg@10']:.3f}" in ev.stdout
    # The same command again: the student is there, nothing is trained twice.
    again = cascade("distill", "--dataset", str(split_beir), *TEACHER, *TINY, "--eval-depth", "20", home=home)
    assert "already holds this student" in again.stdout


def test_training_on_the_evaluation_queries_is_refused(split_beir, tmp_path):
    res = cascade("distill", "--dataset", str(split_beir), "--train-split", "test", *TEACHER, *TINY,
                  home=tmp_path / "home", check=False)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: the training queries overlap the evaluation queries (12 shared, e.g. '1'): train on other "
        "queries (another split, a query file, or --generate)"]
    assert not (tmp_path / "home" / "models").exists()


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_where_it_stopped(split_beir, tmp_path):
    home = tmp_path / "home"
    many = [*TINY[:4], "--max-length", "16", "--pairs", "1600", "--per-query", "4", "--batch-queries", "2"]
    args = ["distill", "--dataset", str(split_beir), *TEACHER, *many[:2], *many[4:], "--no-eval"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "CASCADE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    said = (tmp_path / "progress.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cascade_cli", *args, "--out", str(killed),
                             "--checkpoint-every", "0.2"], env=env, stdout=said, stderr=said,
                            start_new_session=True)
    checkpoint = killed / ".checkpoint" / "state.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "training finished before it could be killed: give it more steps"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (killed / "distilled.json").exists()
    said.close()   # the progress line said where the checkpoint is, as it was written
    assert "checkpoint at" in (tmp_path / "progress.txt").read_text() and "a stopped run resumes there" in \
        (tmp_path / "progress.txt").read_text()
    resumed = cascade(*args, "--out", str(killed), home=home)
    step = int(resumed.stdout.split("resumed from step ")[1].split(";")[0])
    assert 0 < step < 200
    assert not checkpoint.parent.exists() and (killed / "distilled.json").exists()
    assert json.loads((killed / "distilled.json").read_text())["training"]["resumed_from"] == step
    # Resuming continues exactly as an uninterrupted run would have: the same weights.
    cascade(*args, "--out", str(whole), home=home)
    from safetensors.numpy import load_file

    a, b = load_file(killed / "model.safetensors"), load_file(whole / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert abs(a[name] - b[name]).max() < 1e-5, name


@pytest.mark.slow
def test_an_output_folder_holding_something_else_is_refused(split_beir, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    res = cascade("distill", "--dataset", str(split_beir), *TEACHER, *TINY, "--out", str(tmp_path / "busy"),
                  home=tmp_path / "home", check=False)
    assert res.returncode == 2 and "is not empty and holds no distilled student" in res.stderr
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    (["--train-queries", "/no/such.jsonl"], "query file /no/such.jsonl: no such file"),
    (["--layers", "7"], "--layers: the packaged MiniLM has 6 layers"),
    (["--signal", "nope"], "teacher signal 'nope': no such stage"),
])
def test_bad_distill_input_is_one_line(flags, message, split_beir, tmp_path):
    res = cascade("distill", "--dataset", str(split_beir), *TEACHER, *TINY, *flags, home=tmp_path / "home",
                  check=False)
    assert res.returncode == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_estimate_says_how_long_and_trains_nothing(split_beir, tmp_path):
    no_pairs = [a for i, a in enumerate(TINY) if "--pairs" not in TINY[max(0, i - 1): i + 1]]
    res = cascade("distill", "--dataset", str(split_beir), *TEACHER, *no_pairs, "--minutes", "0.5", "--estimate",
                  home=tmp_path / "home")
    assert "--pairs" not in no_pairs and len(no_pairs) == len(TINY) - 2
    assert "Estimated speed here:" in res.stdout and "pairs/s" in res.stdout
    assert not (tmp_path / "home" / "models").exists()
