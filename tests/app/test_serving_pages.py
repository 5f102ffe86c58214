"""Serving safely, in the app: the sign-in gate of a shared dashboard, typed paths confined to the
data roots (refused without a listing), the uploads quota, read-only mode, one job per session."""

from __future__ import annotations

import os
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import REPO, page

TOKEN = "a-token-for-the-tests-0123456789"


def load_path(at: AppTest, path: str) -> AppTest:
    at.radio(key="source").set_value("Folder or file path").run()
    at.text_input(key="path").input(path).run()
    return at.button(key="load").click().run()


def loaded_sample() -> AppTest:
    at = page("data")
    at.run()
    at.button(key="load").click().run()   # the bundled sample
    assert not at.error, [e.value for e in at.error]
    return at


# -- data roots -------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["the repository", "a missing folder", "a link out of a root", "dot-dot"])
def test_a_path_outside_the_roots_is_refused_without_a_listing(tmp_path, where):
    link = tmp_path / "link"
    link.symlink_to(REPO)
    path = {"the repository": str(REPO), "a missing folder": "/no/such/folder",
            "a link out of a root": str(link), "dot-dot": f"{tmp_path}/../../../../../../{REPO}"}[where]
    at = loaded_sample()
    before = at.session_state["dataset_source"]
    load_path(at, path)
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("**Not opened.** This dashboard opens folders under its data roots only: ")
    assert f"`{REPO / 'sample_data'}`" in message and "CASCADE_DATA_ROOTS" in message and "still loaded" in message
    # nothing about the refused path: not its files (REPO holds these), not whether it exists
    for leak in ("pyproject", "README", "run.sh", "cascade_core", "Found:", "does not exist", "no/such"):
        assert leak not in message
    assert at.session_state["dataset_source"] == before


def test_the_path_box_names_the_roots():
    at = page("data")
    at.run()
    at.radio(key="source").set_value("Folder or file path").run()
    caption = next(c.value for c in at.caption if "data roots" in c.value)
    assert str(REPO / "sample_data") in caption and "CASCADE_DATA_ROOTS" in caption


# -- uploads ----------------------------------------------------------------------------------

class FakeUpload:
    """What st.file_uploader hands a page: a name and the bytes."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def clear_uploads(home) -> None:
    for folder in (home / "uploads").glob("*"):
        shutil.rmtree(folder)


def test_an_upload_past_the_quota_is_refused_clearly(monkeypatch, app_environment):
    monkeypatch.setenv("CASCADE_UPLOAD_QUOTA_MB", "0.01")   # 10 KB

    def script():
        import streamlit as st

        from cascade_ui import access
        from tests.app.test_serving_pages import FakeUpload

        for name, size in (("small", 4000), ("big", 9000)):
            try:
                folder = access.store_upload([FakeUpload(f"{name}.jsonl", b"x" * size)])
                st.success(f"stored {folder.name}")
            except Exception as exc:  # noqa: BLE001
                st.error(str(exc))

    clear_uploads(app_environment)   # the quota counts every upload
    at = AppTest.from_function(script, default_timeout=60)
    at.run()
    assert len(at.success) == 1 and len(at.error) == 1
    assert at.error[0].value.startswith("the uploads folder is full: ") and "Remove old uploads" in at.error[0].value
    assert len(list((app_environment / "uploads").iterdir())) == 1


def test_uploads_are_listed_with_the_quota_and_removable(monkeypatch, app_environment):
    monkeypatch.setenv("CASCADE_UPLOAD_QUOTA_MB", "0.001")   # about 1 KB: this upload fills it
    clear_uploads(app_environment)
    folder = app_environment / "uploads" / "0123456789abcdef"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text('{"_id": "1", "text": "cells"}\n' * 100)
    at = page("data")
    at.run()
    panel = next(e for e in at.expander if e.label.startswith("Uploads:"))
    assert panel.label.endswith("(full)")
    assert any("The uploads folder is full" in w.value for w in at.warning)
    assert "0123456789abcdef" in set(at.dataframe[0].value["upload"])
    at.multiselect(key="uploads-chosen").set_value(["0123456789abcdef"]).run()
    at.button(key="uploads-remove").click().run()
    assert not folder.exists()
    assert not any("The uploads folder is full" in w.value for w in at.warning)


# -- read-only, one job per session -----------------------------------------------------------

def test_read_only_offers_the_sample_and_nothing_new(monkeypatch):
    monkeypatch.setenv("CASCADE_READ_ONLY", "1")
    at = page("data")
    at.run()
    assert not at.exception
    assert at.radio(key="source").options == ["Bundled sample"]
    assert not [b for b in at.button if b.key in ("build-index", "uploads-remove")]
    at.button(key="load").click().run()   # the bundled sample still loads
    assert not at.error, [e.value for e in at.error]


def _scoring_script():
    import streamlit as st

    from cascade_ui import access, scoring_panel

    def job(progress):
        st.write("scored")

    try:
        if st.session_state.get("hold"):
            with access.job_slot("a first job"):
                scoring_panel.run_scoring(job, "a second job", "second")
        else:
            scoring_panel.run_scoring(job, "a job", "first")
    except Exception as exc:  # noqa: BLE001
        st.error(f"{type(exc).__name__}: {exc}")


def test_one_scoring_job_at_a_time_per_session():
    at = AppTest.from_function(_scoring_script, default_timeout=60)
    at.run()
    assert not at.error and "scored" in [m.value for m in at.markdown]
    at.session_state["hold"] = True
    at.run()
    assert [e.value for e in at.error] == ["JobRefused: this session is already running a job (a first job): wait "
                                           "for it, or cancel it, before starting another"]


def test_read_only_scores_nothing(monkeypatch):
    monkeypatch.setenv("CASCADE_READ_ONLY", "1")
    at = AppTest.from_function(_scoring_script, default_timeout=60)
    at.run()
    assert [e.value for e in at.error] == ["ReadOnly: this dashboard is read-only: it shows what is stored and "
                                           "does not score"]


# -- the sign-in gate (app.py) ----------------------------------------------------------------

@pytest.fixture
def shared(monkeypatch):
    monkeypatch.setenv("CASCADE_SHARE", "1")
    monkeypatch.setenv("CASCADE_TOKEN", TOKEN)
    from cascade_ui import access

    throttles = access.guess_throttle   # (a test may put its own in its place)
    access.server_token.clear()
    throttles.clear()   # one per server: other tests' wrong guesses would cost these time
    yield
    access.server_token.clear()
    throttles.clear()


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=120)


def assert_only_the_sign_in_box(at: AppTest) -> None:
    assert not at.exception
    assert [t.value for t in at.title] == ["cascade-explorer"]
    assert [t.label for t in at.text_input] == ["Access token"]
    assert not at.sidebar.children or not any(at.sidebar.children.values())
    shown = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info) if hasattr(e, "value"))
    for page_text in ("Data & index", "Run the demo", "Load a dataset", "Dataset:", "Cascade:"):
        assert page_text not in shown


def test_shared_without_the_token_shows_the_sign_in_box_only(shared):
    at = app()
    at.run()
    assert_only_the_sign_in_box(at)


def test_a_wrong_token_is_refused(shared):
    at = app()
    at.query_params["token"] = "not-the-token"
    at.run()
    assert_only_the_sign_in_box(at)
    assert any("not right" in e.value for e in at.error)
    at.text_input(key="sign-in-token").input("still-not-it")
    at.button[0].click().run()
    assert_only_the_sign_in_box(at)
    assert [e.value for e in at.error] == ["That token is not right."]


def test_the_token_in_the_link_opens_the_dashboard(shared):
    at = app()
    at.query_params["token"] = TOKEN
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Data & index"]


def test_the_token_typed_in_the_box_opens_the_dashboard_and_is_remembered(shared):
    at = app()
    at.run()
    at.text_input(key="sign-in-token").input(TOKEN)
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Data & index"]
    at.run()   # the session remembers it
    assert [t.value for t in at.title] == ["Data & index"]


def test_local_use_asks_for_nothing(monkeypatch):
    monkeypatch.delenv("CASCADE_SHARE", raising=False)
    assert os.environ.get("CASCADE_SHARE") is None
    at = app()
    at.run()
    assert [t.value for t in at.title] == ["Data & index"]


def _set_spec_script():
    import streamlit as st

    from cascade_ui import state

    spec = {"first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 10,
            "stages": [{"scorer": {"kind": "llm", "model": "m", "params": st.session_state["params"]}, "keep": 10}]}
    try:
        state.set_spec(spec)
        st.success("set")
    except Exception as exc:  # noqa: BLE001
        st.error(str(exc))


@pytest.mark.parametrize("params", [{"base_url": "http://10.0.0.1:8000/v1"}, {"api_key_env": "CASCADE_TOKEN"}])
def test_a_visitor_cannot_point_a_stage_at_any_server_or_key(shared, params):
    at = AppTest.from_function(_set_spec_script, default_timeout=60)
    at.session_state["params"] = params
    at.run()
    assert len(at.error) == 1 and "this shared dashboard" in at.error[0].value
    assert "spec" not in at.session_state


def test_locally_a_stage_may_call_any_server(monkeypatch):
    monkeypatch.delenv("CASCADE_SHARE", raising=False)
    at = AppTest.from_function(_set_spec_script, default_timeout=60)
    at.session_state["params"] = {"base_url": "http://10.0.0.1:8000/v1"}
    at.run()
    assert [s.value for s in at.success] == ["set"]


def data_page_beside_another_upload(app_environment, name: str):
    """The Data page of a visitor while another visitor's session has uploaded ``name``."""
    clear_uploads(app_environment)
    other = app_environment / "uploads" / "fedcba9876543210"
    other.mkdir(parents=True)
    (other / name).write_text('{"_id": "1", "text": "private"}\n')
    at = page("data")
    at.run()
    return at


def test_shared_a_visitor_sees_only_their_own_uploads(shared, app_environment):
    at = data_page_beside_another_upload(app_environment, "someone-elses-corpus.jsonl")
    panel = next(e for e in at.expander if e.label.startswith("Uploads:"))
    assert any("No uploads from this session" in c.value for c in panel.caption)
    assert not any("someone-elses" in str(d.value) for d in at.dataframe)


def test_shared_a_visitor_cannot_open_or_list_another_visitors_upload(shared, app_environment):
    """A walkthrough found visitor B typing the uploads folder's path (its listing came back in
    the error) and then opening visitor A's upload. Shared, only a session's own uploads open."""
    at = data_page_beside_another_upload(app_environment, "corpus.jsonl")
    other = app_environment / "uploads" / "fedcba9876543210"
    for typed in (str(app_environment / "uploads"), str(other)):
        load_path(at, typed)
        shown = " ".join(str(e.value) for e in (*at.error, *at.success, *at.info, *at.warning, *at.caption))
        assert "fedcba9876543210" not in shown and "private" not in shown
        assert "dataset_source" not in at.session_state


# -- issue 24: the cost of guessing, a short token, typed paths and model names ----------------

@pytest.fixture
def counted_guesses(shared, monkeypatch):
    """The server's guess throttle with a clock that moves on when it sleeps: (waits, log lines)."""
    from cascade_core.serving import GuessThrottle
    from cascade_ui import access

    now, waits, lines = [0.0], [], []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    throttle = GuessThrottle(clock=lambda: now[0], sleep=sleep, log=lines.append)
    monkeypatch.setattr(access, "guess_throttle", lambda: throttle)
    return waits, lines


@pytest.mark.slow   # five runs of the app, the last one the Data page
def test_a_token_in_the_link_takes_its_turn_like_the_sign_in_box(counted_guesses):
    """The link used to cost nothing (6.9 guesses a second from one tab): now each new link token
    waits its address's turn, and each wrong one is a log line, as in the box."""
    waits, lines = counted_guesses
    for i in range(3):   # three visits (sessions), each with another token in the link
        at = app()
        at.query_params["token"] = f"link-guess-{i}"
        at.run()
        assert_only_the_sign_in_box(at)
    assert waits == [0, 1, 2]
    at.run()             # the same session again, the same link: not another guess
    assert waits == [0, 1, 2]
    at.text_input(key="sign-in-token").input("typed-guess")
    at.button[0].click().run()
    assert waits == [0, 1, 2, 4] and [e.value for e in at.error][-1] == "That token is not right."
    assert len(lines) == 4 and all(line.startswith("wrong access token from localhost (") for line in lines)
    assert not any("guess" in line for line in lines)
    at = app()
    at.query_params["token"] = TOKEN
    at.run()             # the right token waits its turn too, then opens the dashboard
    assert waits[-1] == 8 and [t.value for t in at.title] == ["Data & index"]


def test_too_many_wrong_tokens_are_refused_unchecked_in_the_box(counted_guesses, monkeypatch):
    from cascade_core.serving import GuessThrottle
    from cascade_ui import access

    waits, lines = counted_guesses
    throttle = access.guess_throttle()
    monkeypatch.setattr(throttle, "max_wait", 1.5)
    at = app()
    at.run()
    for guess in ("guess-1", "guess-2", TOKEN):   # turns 0, 1, then 2 s off: past max_wait
        at.text_input(key="sign-in-token").input(guess)
        at.button[0].click().run()
    assert isinstance(throttle, GuessThrottle) and waits == [0, 1]
    assert [e.value for e in at.error] == ["Not checked: too many wrong tokens lately: try again in a minute or "
                                           "two."]
    assert_only_the_sign_in_box(at)


@pytest.mark.parametrize("link", [None, "short-token"])
def test_shared_with_a_short_chosen_token_the_dashboard_refuses_in_one_line(monkeypatch, capsys, link):
    from cascade_ui import access

    monkeypatch.setenv("CASCADE_SHARE", "1")
    monkeypatch.setenv("CASCADE_TOKEN", "short-token")
    monkeypatch.setattr(access, "_logged", set())
    access.server_token.clear()
    at = app()
    if link:
        at.query_params["token"] = link   # the right (short) token opens nothing either
    at.run()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["CASCADE_TOKEN is too short to share the dashboard with: it needs at "
                                           "least 16 characters. Restart it with a longer one, or without "
                                           "CASCADE_TOKEN (./run.sh demo --share then makes a random one)."]
    assert not at.text_input and [t.value for t in at.title] == []
    logged = [line for line in capsys.readouterr().err.splitlines() if "too short" in line]
    assert len(logged) == 1 and "short-token" not in logged[0]   # once per start, not per visit


def test_a_pasted_path_with_spaces_and_a_newline_loads(tiny_beir):
    at = page("data")
    at.run()
    load_path(at, f"  {tiny_beir}\n")
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["dataset_source"]["path"] == str(tiny_beir.resolve())


def test_a_path_too_long_to_open_is_one_clear_line(tiny_beir):
    at = page("data")
    at.run()
    load_path(at, f"{tiny_beir}/{'x' * 5000}")
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value.replace("\\", "")   # the page escapes Markdown
    assert message.startswith("Could not load it: this path is too long to open: 5,0")
    assert "OSError" not in message and "Errno" not in message and "x" * 100 not in message


def _check_model_script():
    import streamlit as st

    from cascade_ui import access

    try:
        access.check_model(st.session_state["model"])
        st.success("allowed")
    except Exception as exc:  # noqa: BLE001
        st.error(str(exc))


@pytest.mark.parametrize("model, allowed", [("cascade_core/data", False), ("cascade_core", False),
                                            ("sentence-transformers/all-MiniLM-L6-v2", True)])
def test_shared_a_model_name_naming_a_folder_here_is_checked_against_the_roots(shared, model, allowed):
    """Issue 24: "cascade_core/data" (one slash, a hub id's shape) went to the loader, whose
    errors differ for what exists. The app runs from the repository, where it exists."""
    assert (REPO / "cascade_core" / "data").is_dir()
    at = AppTest.from_function(_check_model_script, default_timeout=60)
    at.session_state["model"] = model
    at.run()
    if allowed:
        assert [s.value for s in at.success] == ["allowed"]
    else:
        assert len(at.error) == 1 and "model folders only from its data roots" in at.error[0].value


def test_behind_the_gate_the_upload_store_keeps_nothing_of_a_session_that_has_not_signed_in():
    """The second barrier (tests/app/test_uploads_before_sign_in.py drives the first, on a real
    server): Streamlit's upload store refuses files of sessions that have not signed in, and drops
    what they stored before the gate was installed (an upload sent during the server's first run)."""
    from starlette.exceptions import HTTPException
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from cascade_ui import access

    store = MemoryUploadedFileManager("/_stcore/upload_file")
    for session_id in ("signed-in", "on-the-sign-in-box"):
        store.add_file(session_id, UploadedFileRec("early", "corpus.jsonl", "text/plain", b"x" * 1000))
    access._guard_upload_store(store, lambda session_id: session_id == "signed-in")
    assert [f.file_id for f in store.get_files("signed-in", ["early"])] == ["early"]
    assert store.get_files("on-the-sign-in-box", ["early"]) == []
    with pytest.raises(HTTPException) as refused:
        store.add_file(session_id="on-the-sign-in-box", file=UploadedFileRec("late", "c.jsonl", "text/plain", b"x"))
    assert refused.value.status_code == 403 and store.get_files("on-the-sign-in-box", ["late"]) == []
    store.add_file(session_id="signed-in", file=UploadedFileRec("late", "c.jsonl", "text/plain", b"x"))
    assert len(store.get_files("signed-in", ["early", "late"])) == 2
