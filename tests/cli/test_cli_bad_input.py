"""Bad arguments and bad data: one `error:` line, exit status 2, no traceback, nothing stored harmed.

Most cases run the command in this process (fast: they fail before any scoring); the ones that
must show no traceback on a real stderr, or that touch the embedded Qdrant, run it as a
subprocess like tests/cli/test_cli.py does.
"""

import sqlite3
from pathlib import Path

import pytest

from cascade_cli.cli import build_parser, file_in_traceback, main
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once


def run_main(capsys, *args):
    """Run ``cascade ARGS`` in this process; return (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:   # argparse's errors exit
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def one_error(err: str) -> str:
    """The single ``error:`` line of ``err`` (failing if there is not exactly one)."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


def stored_rows(home: Path) -> int:
    """How many rows the score store at ``home`` holds, in all its tables (0 if it has none)."""
    path = home / "scores.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)


# -- parameters of the spec's steps: checked when the spec is read ------------------------------

HYBRID = "{kind: hybrid, model: all-MiniLM-L6-v2, params: %s}"
CROSS_STAGE = "first_pass: {kind: bm25}\nstages: [{scorer: {kind: cross, model: %s, params: %s}, keep: 10}]\n"


@pytest.mark.parametrize("spec, message", [
    ("first_pass: {kind: bm25, params: {k1: abc}}", "bm25 parameter k1 must be a number >= 0, not 'abc'"),
    ("first_pass: {kind: bm25, params: {k1: -1}}", "k1 must be a number >= 0"),
    ("first_pass: {kind: bm25, params: {b: 1.5}}", "b must be a number between 0 and 1, not 1.5"),
    ("first_pass: {kind: bm25, params: {stem: 'no'}}", "stem must be true or false"),
    ("first_pass: {kind: bm25, params: {k2: 1}}", "unknown bm25 parameter(s) k2; known: b, epsilon, k1"),
    ("stages: [{scorer: {kind: bm25, params: {k1: x}}, keep: 5}]\nfirst_pass: {kind: bm25}",
     "stage 1 (bm25): bm25 parameter k1"),
    ("first_pass: " + HYBRID % "{rrf_k: abc}", "hybrid parameter rrf_k must be a number > 0, not 'abc'"),
    ("first_pass: " + HYBRID % "{rrf_k: 0}", "rrf_k must be a number > 0, not 0"),
    ("first_pass: " + HYBRID % "{fusion: norm-sum, weight: 1.5}", "weight must be a number between 0 and 1"),
    ("first_pass: " + HYBRID % "{weight: heavy}", "weight must be a number between 0 and 1, not 'heavy'"),
    ("first_pass: " + HYBRID % "{depth: deep}", "depth must be a whole number >= 1, not 'deep'"),
    ("first_pass: " + HYBRID % "{dpeth: 50}", "unknown hybrid parameter(s) dpeth; known: b, depth, epsilon"),
    ("first_pass: " + HYBRID % "{fusion: max}", "unknown hybrid fusion 'max'"),
    (CROSS_STAGE % ("some/model", "{max_length: abc}"), "max_length must be a whole number >= 1, not 'abc'"),
    (CROSS_STAGE % ("some/model", "{batch_size: 0}"), "batch_size must be a whole number >= 1, not 0"),
    (CROSS_STAGE % ("some/model", "{max_lenght: 256}"),
     "unknown cross-encoder parameter(s) max_lenght; known: batch_size, max_length"),
    ("first_pass: {kind: bm25}\nstages: [{scorer: {kind: bi, params: {normalise: true}}, keep: 10}]",
     "unknown bi-encoder parameter(s) normalise; known: none"),
    ("first_pass: {kind: dense, model: all-MiniLM-L6-v2, params: {ef: 64}}", "unknown dense parameter(s) ef"),
    ("first_pass: {kind: bm25}\nstages: [{scorer: {kind: bm25, model: minilm}, keep: 10}]",
     "stage 1 (bm25): bm25 takes no model (got 'minilm')"),
])
def test_bad_step_parameters_fail_when_the_spec_is_read(spec, message, tiny_beir, tmp_path, capsys):
    config = tmp_path / "spec.yaml"
    config.write_text(spec + "\n", encoding="utf-8")
    home = tmp_path / "home"
    status, _, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--config", config, "--home", home)
    assert status == 2
    assert message in one_error(err)
    assert not home.exists()    # refused before the data folder was even opened


def test_good_step_parameters_still_pass(tiny_beir, tmp_path, capsys):
    config = tmp_path / "spec.yaml"
    config.write_text("first_pass: {kind: bm25, params: {k1: 1.2, b: 0.75, stem: false}}\npool_size: 20\n")
    status, out, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--config", config,
                                "--home", tmp_path / "home")
    assert status == 0, err
    assert "nDCG@10" in out


def test_config_that_is_not_utf8(tiny_beir, tmp_path, capsys):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("name: café\nfirst_pass: {kind: bm25}\n".encode("latin-1"))
    status, _, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--config", config,
                              "--home", tmp_path / "home")
    assert status == 2
    line = one_error(err)
    assert str(config) in line and "not UTF-8" in line and "0xe9" in line


# -- the data folder and output files -----------------------------------------------------------

@pytest.mark.slow
def test_home_that_is_a_file_is_refused_and_left_alone(tiny_beir, tmp_path):
    home = tmp_path / "passwd"
    home.write_text("root:x:0:0\n")
    for args in (["--home", str(home), "indexes"], ["eval", "--dataset", str(tiny_beir), "--home", str(home)]):
        res = cascade(*args, home=tmp_path / "unused")
        assert res.returncode == 2
        assert f"the data folder {home} is a file" in one_error(res.stderr)
    assert home.read_text() == "root:x:0:0\n"


@pytest.mark.parametrize("flag, target, message", [
    ("--json", "{tmp}/no/such/folder/r.json", "the folder {tmp}/no/such/folder does not exist"),
    ("--save-spec", "{tmp}/missing/s.yaml", "the folder {tmp}/missing does not exist"),
    ("--json", "{tmp}", "is a folder; give a file name"),
    ("--save-spec", "{tmp}/a-file/s.yaml", "{tmp}/a-file is not a folder"),
])
def test_unwritable_output_fails_before_any_scoring(flag, target, message, tiny_beir, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    home = tmp_path / "home"
    status, out, err = run_main(capsys, "eval", "--dataset", tiny_beir, flag, target.format(tmp=tmp_path),
                                "--home", home)
    assert status == 2
    assert message.format(tmp=tmp_path) in one_error(err)
    assert "first pass" not in err and "Evaluating" not in out   # no work was started
    assert stored_rows(home) == 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_write_that_fails_anyway_is_one_line(tiny_beir, tmp_path, capsys):
    status, _, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--save-spec", "/dev/full",
                              "--home", tmp_path / "home")
    assert status == 2
    assert "--save-spec /dev/full: cannot write it" in one_error(err)


def test_os_error_nobody_checked_names_the_file(tmp_path):
    """The last-resort handler: the embedded Qdrant folder is a file (a damaged data folder)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "qdrant-edge").write_text("not a folder")
    res = cascade("indexes", home=home)
    assert res.returncode == 2
    assert str(home / "qdrant-edge") in one_error(res.stderr)


def test_undecodable_file_is_named_from_the_traceback(tmp_path):
    """What the last-resort handler names for a UnicodeDecodeError (which carries no file name)."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(UnicodeDecodeError) as info:
        path.read_text(encoding="utf-8")
    assert file_in_traceback(info.value) == str(path)


# -- count flags --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["eval", "--queries", "0"], "argument --queries: must be a whole number >= 1, not 0"),
    (["eval", "--queries", "-298"], "argument --queries: must be a whole number >= 1, not -298"),
    (["eval", "--queries", "few"], "argument --queries: invalid int value: 'few'"),
    (["eval", "--live", "-1"], "argument --live: must be a whole number >= 1, not -1"),
    (["eval", "--live", "0"], "argument --live: must be a whole number >= 1, not 0"),
    (["eval", "--pool-size", "0"], "argument --pool-size: must be a whole number >= 1"),
    (["eval", "--final-k", "-3"], "argument --final-k: must be a whole number >= 1"),
    (["eval", "--budget-ms", "-5"], "argument --budget-ms: must be a number > 0"),
    (["eval", "--budget-ms", "nan"], "argument --budget-ms: must be a number > 0"),
    (["explain", "--queries", "0"], "argument --queries: must be a whole number >= 1"),
    (["explain", "--limit", "0"], "argument --limit: must be a whole number >= 1"),
])
def test_count_flags_must_be_positive(args, message, tiny_beir, tmp_path, capsys):
    status, _, err = run_main(capsys, *args, "--dataset", tiny_beir, "--home", tmp_path / "home")
    assert status == 2
    assert message in one_error(err)


def test_queries_flag_counts_what_it_says(tiny_beir, tmp_path, capsys):
    status, out, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--queries", "3", "--home", tmp_path / "h")
    assert status == 0, err
    assert "Evaluating on 3 queries" in out


def test_unknown_sample_query_fails_before_scoring(tiny_beir, tmp_path, capsys):
    home = tmp_path / "home"
    status, _, err = run_main(capsys, "eval", "--dataset", tiny_beir, "--sample-query", "nope", "--home", home)
    assert status == 2
    assert "--sample-query 'nope'" in one_error(err)
    assert stored_rows(home) == 0


# -- storage flags after every subcommand ---------------------------------------------------------

@pytest.mark.parametrize("command", [["eval", "--dataset", "d"], ["explain", "--dataset", "d"], ["demo"],
                                     ["index", "--dataset", "d"], ["indexes"]])
def test_every_subcommand_takes_the_storage_flags_after_it(command):
    parser = build_parser()
    after = parser.parse_args([*command, "--home", "/h", "--qdrant-url", "http://q:6333"])
    assert (after.home, after.qdrant_url) == ("/h", "http://q:6333")
    before = parser.parse_args(["--home", "/h", *command])
    assert (before.home, before.qdrant_url) == ("/h", None)
    # Given on both sides, the subcommand's wins.
    assert parser.parse_args(["--home", "/g", *command, "--home", "/h"]).home == "/h"


# -- indexes --drop only drops this tool's indexes ------------------------------------------------

@pytest.mark.slow
def test_drop_refuses_a_collection_that_is_not_ours(tmp_path):
    from cascade_core.scoring.workspace import Workspace

    home = tmp_path / "home"
    ws = Workspace(home)
    ws.qdrant.create("notes", dim=4, metadata={})
    ws.close()
    res = cascade("indexes", "--drop", "notes", home=home)
    assert res.returncode == 2
    line = one_error(res.stderr)
    assert "refusing to drop 'notes'" in line and "'cx-'" in line
    ws = Workspace(home)
    try:
        assert ws.qdrant.exists("notes")   # still there
    finally:
        ws.close()
    # One of ours that does not exist: its own message.
    res = cascade("indexes", "--drop", "cx-typo", home=home)
    assert res.returncode == 2 and "no index named 'cx-typo'" in one_error(res.stderr)


# -- models load before any scoring ---------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["eval", "--stage", "bm25@20", "--stage", "cross:no-such-org/no-such-model@5"],
     "cannot load cross-encoder model 'no-such-org/no-such-model'"),
    (["explain", "--stage", "bm25@20", "--stage", "cross:no-such-org/no-such-model@5"],
     "cannot load cross-encoder model 'no-such-org/no-such-model'"),
    (["eval", "--stage", "bm25@20", "--stage", "bi:no-such-model-xyz@5"],
     "cannot load bi-encoder model 'no-such-model-xyz'"),
])
def test_unknown_model_fails_before_any_scoring(args, message, tiny_beir, tmp_path):
    home = tmp_path / "home"
    res = cascade(*args, "--dataset", str(tiny_beir), home=home)
    assert res.returncode == 2
    assert message in one_error(res.stderr)
    assert "first pass" not in res.stderr and "scoring:" not in res.stderr   # no progress: nothing ran
    assert stored_rows(home) == 0


def test_models_loaded_first_are_the_ones_scoring_uses(tiny_dataset, tiny_cross_encoder, workspace):
    """Loading up front costs nothing extra: the scorer keeps the loader's cached model."""
    from cascade_cli.common import load_models
    from cascade_core.cascade.spec import CascadeSpec
    from cascade_core.models import load_cross_encoder, resolve_model
    from cascade_core.scoring.ensure import CascadePlan

    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 5, "stages": [
        {"scorer": {"kind": "cross", "model": tiny_cross_encoder}, "keep": 5}]})
    plan = CascadePlan(spec, tiny_dataset.corpus, workspace)
    load_models(plan)
    encoder = plan.scorers[0].encoder
    assert encoder is load_cross_encoder(resolve_model(tiny_cross_encoder), 512)
    plan.scorers[0].prepare(tiny_dataset.corpus.ids[:3])
    assert plan.scorers[0].encoder is encoder
    assert len(plan.scorers[0].score("a query", tiny_dataset.corpus.ids[:3])) == 3


@pytest.mark.slow
def test_hub_id_with_no_hub_in_reach_fails_at_once(tmp_path):
    """No HF_HUB_OFFLINE, and a hub that refuses connections: the hub client would retry for
    ~50 s; the probe sends the load to the local cache, which fails at once and says why."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))   # port 9: refused
    code = ("from cascade_core.models import load_cross_encoder, resolve_model\n"
            "load_cross_encoder(resolve_model('no-such-org/no-such-model'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0
    assert "which cannot be reached from here (and it is not in the local cache)" in res.stderr
    assert "Retrying" not in res.stderr
