"""A browser refresh (a new session) takes up the last dataset and cascade; a shared dashboard does not."""

import json
import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cascade_ui import resume
from tests.app.conftest import REPO, page


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=120)


def test_a_new_session_takes_up_the_last_dataset_and_cascade(demo_state):
    home = Path(os.environ["CASCADE_HOME"])
    build = page("build", demo_state)
    build.run()
    v = build.session_state["spec_version"]
    build.slider(key=f"pool-{v}").set_value(60).run()
    build.button(key="use").click().run()   # setting a cascade remembers it, with the dataset
    last = json.loads((home / resume.FILE).read_text())
    assert last["dataset"]["path"] == demo_state["dataset_source"]["path"]
    assert last["spec"] == build.session_state["spec"].to_dict() and last["spec"]["pool_size"] == 60

    at = app()   # what a refresh is: a new session, nothing in it
    at.run()
    assert not at.exception
    assert at.session_state["dataset_source"]["path"] == demo_state["dataset_source"]["path"]
    assert at.session_state["spec"].to_dict() == last["spec"]
    assert any("Restored your last session" in t.value for t in at.toast)


def test_a_last_session_that_no_longer_loads_starts_afresh_and_says_why(app_environment, tmp_path):
    home = Path(os.environ["CASCADE_HOME"])
    saved = (home / resume.FILE).read_text() if (home / resume.FILE).exists() else None
    try:
        resume.write(home, {"path": str(tmp_path / "gone"), "split": None, "fmt": "auto", "label": "gone"},
                     None, None)
        at = app()
        at.run()
        assert not at.exception and "dataset_source" not in at.session_state
        assert any("could not be restored" in t.value for t in at.toast)
    finally:
        if saved is not None:
            (home / resume.FILE).write_text(saved)


def test_a_shared_dashboard_restores_nothing(demo_state, monkeypatch):
    monkeypatch.setenv("CASCADE_SHARE", "1")
    monkeypatch.setenv("CASCADE_TOKEN", "t0ken-for-the-tests")
    from cascade_ui import access

    access.server_token.clear()
    try:
        at = app()
        at.query_params["token"] = "t0ken-for-the-tests"
        at.run()
        assert not at.exception
        assert "dataset_source" not in at.session_state and "spec" not in at.session_state
    finally:
        access.server_token.clear()
