"""Serving safely (cascade_core.serving, run.sh, .streamlit/config.toml): loopback by default,
a token when shared, typed paths confined to the data roots, uploads under a quota, jobs bounded."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import pytest

from cascade_core.data import load_dataset
from cascade_core.serving import (DataRoots, JobRefused, PathRefused, QuotaExceeded, ServeSettings, UploadArea,
                                  data_roots, token_matches)

REPO = Path(__file__).resolve().parents[1]


# -- binding ----------------------------------------------------------------------------------

def demo_command(*args: str, **env: str) -> tuple[str, str]:
    """What ``./run.sh demo ARGS`` would run (CASCADE_DRY_RUN prints it instead), and what it says."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CASCADE_SHARE", "CASCADE_TOKEN")}
    out = subprocess.run(["bash", str(REPO / "run.sh"), "demo", *args], capture_output=True, text=True, timeout=30,
                         env={**clean, "CASCADE_DRY_RUN": "1", **env}, check=True)
    return out.stdout.strip(), out.stderr


def test_the_demo_command_binds_to_loopback_by_default():
    command, said = demo_command()
    assert "--server.address 127.0.0.1" in command and "0.0.0.0" not in command
    assert "token" not in said


def test_the_app_config_binds_to_loopback_when_streamlit_is_run_by_hand():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["maxUploadSize"] <= 500


@pytest.mark.parametrize("how", [("--share",), ("CASCADE_SHARE", "1")])
def test_sharing_binds_to_the_network_and_prints_a_fresh_token(how):
    args, env = (how, {}) if how[0] == "--share" else ((), {how[0]: how[1]})
    command, said = demo_command(*args, "--server.port", "9123", **env)
    assert "--server.address 0.0.0.0" in command and "--share" not in command
    link = said.strip().splitlines()[-1].strip()
    assert ":9123/?token=" in link and len(link.split("token=")[1]) >= 32
    assert demo_command("--share")[1].split("token=")[1] != link.split("token=")[1]   # one per start


def test_an_operators_token_is_used_as_given():
    _, said = demo_command("--share", CASCADE_TOKEN="chosen-by-the-operator-1234")
    assert said.strip().endswith("?token=chosen-by-the-operator-1234")


def test_settings_from_the_environment():
    s = ServeSettings.from_env({"CASCADE_SHARE": "1", "CASCADE_TOKEN": " tok ", "CASCADE_READ_ONLY": "yes",
                                "CASCADE_DATA_ROOTS": "/data/a:/data/b", "CASCADE_UPLOAD_QUOTA_MB": "50",
                                "CASCADE_MAX_JOBS": "3"})
    assert (s.share, s.token, s.read_only, s.upload_quota_mb, s.max_jobs) == (True, "tok", True, 50.0, 3)
    assert s.extra_roots == (Path("/data/a"), Path("/data/b"))
    local = ServeSettings.from_env({}, address="127.0.0.1")
    assert (local.share, local.token, local.read_only, local.max_jobs) == (False, None, False, None)
    assert ServeSettings.from_env({}, address="").share   # every interface


def test_tokens_compare_exactly():
    assert token_matches("abc", "abc") and token_matches(" abc\n", "abc")
    assert not token_matches("abd", "abc") and not token_matches("ab", "abc")
    assert not token_matches(None, "abc") and not token_matches("", "") and not token_matches("abc", None)


# -- data roots -------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    """root/ (a data root, holding a dataset and a link out), and outside/ (a dataset that is not)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in (root / "mine", outside / "secret-project"):
        (folder / "qrels").mkdir(parents=True)
        (folder / "corpus.jsonl").write_text('{"_id": "1", "text": "cells divide"}\n')
        (folder / "queries.jsonl").write_text('{"_id": "q", "text": "cells"}\n')
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    (root / "link-out").symlink_to(outside)
    return root, outside


def test_paths_under_a_root_open(tree):
    root, _ = tree
    roots = DataRoots([root])
    assert roots.check(root / "mine") == (root / "mine").resolve()
    assert roots.check(str(root / "mine" / "qrels" / "..")) == (root / "mine").resolve()
    assert load_dataset(roots.check(root / "mine"), split="test").corpus["1"].text == "cells divide"


@pytest.mark.parametrize("escape", ["outside", "dotdot", "symlink", "root-sibling-prefix", "etc", "empty", "nul"])
def test_paths_outside_every_root_are_refused_saying_nothing_about_them(tree, escape):
    root, outside = tree
    sibling = root.parent / (root.name + "-evil")   # shares the root's name as a prefix
    sibling.mkdir()
    path = {"outside": str(outside / "secret-project"), "dotdot": f"{root}/../outside/secret-project",
            "symlink": str(root / "link-out" / "secret-project"), "root-sibling-prefix": str(sibling),
            "etc": "/etc", "empty": "  ", "nul": f"{root}/mine\0"}[escape]
    with pytest.raises(PathRefused) as refused:
        DataRoots([root]).check(path)
    message = str(refused.value)
    assert str(root.resolve()) in message and "CASCADE_DATA_ROOTS" in message
    message = message.replace(str(root.resolve()), "ROOT")   # tmp_path names carry the test's name
    for leak in ("secret-project", "outside", "evil", "etc", "corpus", "exist"):
        assert leak not in message


def test_the_refusal_is_the_same_whether_the_path_exists_or_not(tree):
    root, outside = tree
    roots = DataRoots([root])
    messages = set()
    for path in (outside / "secret-project", outside / "no-such-folder", "/root/.ssh", "/no/such/thing"):
        with pytest.raises(PathRefused) as refused:
            roots.check(path)
        messages.add(str(refused.value))
    assert len(messages) == 1


def test_relative_paths_are_read_from_the_working_directory(tree):
    root, _ = tree
    roots = DataRoots([root], cwd=root / "mine")
    assert roots.check("../mine") == (root / "mine").resolve()
    with pytest.raises(PathRefused):
        roots.check("../../outside/secret-project")


def test_default_roots(tmp_path):
    app, team = tmp_path / "app", tmp_path / "shared"
    app.mkdir(), team.mkdir()
    extra = ServeSettings.from_env({"CASCADE_DATA_ROOTS": str(tmp_path / "corpora")})
    local = data_roots(extra, [app / "sample_data"], tmp_path / "home" / "uploads", cwd=app)
    assert local.allows(team / "data" / "scifact") and local.allows(tmp_path / "corpora" / "x")
    assert local.allows(tmp_path / "home" / "uploads" / "abc") and local.allows(app / "sample_data" / "scifact-mini")
    assert not local.allows(app) and not local.allows(tmp_path / "home")
    shared = data_roots(ServeSettings(share=True), [app / "sample_data"], tmp_path / "home" / "uploads", cwd=app)
    assert not shared.allows(team / "data")   # a shared dashboard opens ../shared only when listed


# -- uploads ----------------------------------------------------------------------------------

def test_uploads_stay_within_the_quota(tmp_path):
    MB = 2**20
    area = UploadArea(tmp_path / "uploads", quota_bytes=10 * MB)
    area.store("first", {"corpus.jsonl": b"x" * 6 * MB})
    area.store("first", {"corpus.jsonl": b"y" * 6 * MB})   # the same upload again: replaces, takes no more room
    assert area.used() == 6 * MB
    with pytest.raises(QuotaExceeded) as full:
        area.store("second", {"corpus.jsonl": b"z" * 3 * MB, "queries.jsonl": b"q" * 2 * MB})
    assert str(full.value).startswith("the uploads folder is full: 6.0 MB of 10.0 MB used, and these files need "
                                      "5.0 MB. Remove old uploads")
    assert not (tmp_path / "uploads" / "second").exists() and area.used() == 6 * MB
    area.store("second", {"corpus.jsonl": b"z" * 3 * MB, "queries.jsonl": b"q" * MB})   # exactly full: fits
    assert area.used() == 10 * MB
    with pytest.raises(QuotaExceeded):
        area.store("third", {"corpus.jsonl": b"!"})
    assert UploadArea.for_home(tmp_path, ServeSettings(upload_quota_mb=10)).quota_bytes == 10 * MB


def test_uploads_are_listed_newest_first_and_removable(tmp_path):
    area = UploadArea(tmp_path / "uploads", quota_bytes=10_000)
    area.store("old", {"corpus.jsonl": b"a" * 10})
    os.utime(area.folder / "old", (1, 1))
    area.store("new", {"corpus.jsonl": b"b" * 20, "qrels/test.tsv": b"c" * 5})
    entries = area.entries()
    assert [(u.name, u.files, u.bytes) for u in entries] == [("new", ("corpus.jsonl", "qrels/test.tsv"), 25),
                                                             ("old", ("corpus.jsonl",), 10)]
    area.remove("old")
    assert [u.name for u in area.entries()] == ["new"] and area.used() == 25


@pytest.mark.parametrize("name", ["..", ".", "", "../x", "a/b", "/etc"])
def test_removal_and_storage_stay_inside_the_uploads_folder(tmp_path, name):
    area = UploadArea(tmp_path / "uploads", quota_bytes=None)
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(Exception):
        area.remove(name)
    with pytest.raises(Exception):
        area.store(name, {"f": b"1"})
    with pytest.raises(Exception):
        area.store("ok", {"../../keep.txt": b"overwritten"})
    assert (tmp_path / "keep.txt").read_text() == "precious"


# -- jobs -------------------------------------------------------------------------------------

def test_one_job_per_session_and_a_cap_for_the_server():
    from cascade_core.serving import JobSlots

    slots = JobSlots(total=2)
    with slots.hold("tab-1", "scoring A"):
        with pytest.raises(JobRefused, match="already running a job \\(scoring A\\)"):
            with slots.hold("tab-1", "scoring B"):
                pass
        with slots.hold("tab-2", "scoring C"):
            assert slots.running() == 2
            with pytest.raises(JobRefused, match="as many long jobs as it allows \\(2\\)"):
                with slots.hold("tab-3", "scoring D"):
                    pass
    assert slots.running() == 0


def test_a_job_that_fails_or_is_cancelled_frees_its_slot():
    from cascade_core.serving import JobSlots

    slots = JobSlots(total=1)
    with pytest.raises(RuntimeError):
        with slots.hold("tab-1", "scoring"):
            raise RuntimeError("cancelled")
    with slots.hold("tab-1", "scoring again"):
        assert slots.job_of("tab-1") == "scoring again"


def test_slots_hold_under_concurrent_starts():
    from cascade_core.serving import JobSlots

    slots, started, refused = JobSlots(total=3), [], []
    go, release = threading.Barrier(12), threading.Event()

    def try_start(i):
        go.wait()
        try:
            with slots.hold(f"tab-{i}", "scoring"):
                started.append(i)
                release.wait(10)
        except JobRefused:
            refused.append(i)

    threads = [threading.Thread(target=try_start, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(started) + len(refused) < 12 and time.time() < deadline:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert (len(started), len(refused), slots.running()) == (3, 9, 0)


# -- what a visitor's spec may name -----------------------------------------------------------

@pytest.mark.parametrize("model, params, refused", [
    ("all-MiniLM-L6-v2", {}, None),
    ("cross-encoder/ms-marco-MiniLM-L-6-v2", {}, None),
    ("/etc", {}, "model folders only from its data roots"),
    ("../../somewhere/model", {}, "model folders only from its data roots"),
    ("ROOT/models/mine", {}, None),
    ("m", {"base_url": "http://169.254.169.254/latest"}, "only the servers its operator listed"),
    ("m", {"base_url": "http://localhost:11434/v1/"}, None),
    ("m", {"api_key_env": "CASCADE_TOKEN"}, "API key only from CASCADE_LLM_API_KEY"),
    ("m", {"api_key_env": "CASCADE_LLM_API_KEY"}, None),
])
def test_a_shared_spec_names_only_what_a_visitor_may_choose(tmp_path, model, params, refused):
    from cascade_core.scorers import ScorerConfig
    from cascade_core.serving import SpecRefused, check_shared_scorers

    config = ScorerConfig("llm" if params else "cross-encoder", model.replace("ROOT", str(tmp_path)), params)
    check = lambda: check_shared_scorers([ScorerConfig("bm25"), config], DataRoots([tmp_path]),  # noqa: E731
                                         ["http://localhost:11434/v1"])
    if refused is None:
        check()
    else:
        with pytest.raises(SpecRefused, match=refused) as error:
            check()
        assert "169.254" not in str(error.value) and "somewhere" not in str(error.value)
