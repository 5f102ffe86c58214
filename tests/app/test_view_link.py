"""Issue 13, part 5: a link opens the same view (dataset, cascade, budget), in another session or
after a refresh; a damaged or refused link leaves the session empty with a note."""

import base64
import zlib

import pytest
from streamlit.testing.v1 import AppTest

from cascade_ui import view_link
from tests.app.conftest import REPO, build_and_use


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=300)


def test_encode_decode_round_trip_and_bad_tokens():
    view = ({"path": "/d", "split": "test", "fmt": "auto", "label": "d", "stamp": "x"}, {"pool_size": 7}, 12.5)
    decoded = view_link.decode(view_link.encode(*view))
    assert decoded == {"dataset": {"path": "/d", "split": "test", "fmt": "auto", "label": "d"},
                       "spec": {"pool_size": 7}, "budget_ms": 12.5}
    assert view_link.encode(*view) == view_link.encode(*view)   # the same view, the same link
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" * 5_000_000, 9)).decode().rstrip("=")
    for bad, reason in [("", "no view"), ("x" * 30_000, "characters long"), ("abc!!", "damaged"),
                        (bomb, "expands beyond"),
                        (base64.urlsafe_b64encode(zlib.compress(b'{"evil": 1}')).decode(), "not hold a view")]:
        with pytest.raises(view_link.BadLink, match=reason):
            view_link.decode(bad)


def test_a_link_opens_the_same_view_in_a_new_session(demo_state):
    build = build_and_use(demo_state, "pool", 40)
    token = build.query_params[view_link.PARAM]          # the address bar carries the view
    spec = build.session_state["spec"].to_dict()
    assert spec["pool_size"] == 40
    assert view_link.decode(token)["spec"] == spec

    other = app()                                          # another browser, given the link
    other.query_params[view_link.PARAM] = token
    other.run()
    assert not other.exception, other.exception
    assert other.session_state["spec"].to_dict() == spec
    assert other.session_state["dataset_source"]["path"] == demo_state["dataset_source"]["path"]
    assert any("Opened the view in the link" in t.value for t in other.toast)
    shown = [c.value for c in other.sidebar.code]
    assert any(view_link.PARAM + "=" + token in c for c in shown)   # the sidebar offers the same link
    assert not any("token=" in c for c in shown)


def test_a_link_to_files_that_are_gone_starts_empty_and_says_why(app_environment, tmp_path):
    token = view_link.encode({"path": str(tmp_path / "gone"), "split": None, "fmt": "auto", "label": "gone"},
                             None, None)
    at = app()
    at.query_params[view_link.PARAM] = token
    at.run()
    assert not at.exception
    assert "dataset_source" not in at.session_state
    assert any("could not be opened" in t.value for t in at.toast)


def test_a_link_outside_the_data_roots_is_refused(app_environment):
    token = view_link.encode({"path": "/etc", "split": None, "fmt": "auto", "label": "etc"}, None, None)
    at = app()
    at.query_params[view_link.PARAM] = token
    at.run()
    assert not at.exception and "dataset_source" not in at.session_state
    assert any("could not be opened" in t.value for t in at.toast)


@pytest.mark.parametrize("content", [b"[" * 100_000, b'{"budget_ms": NaN}', b'{"budget_ms": 1e309}',
                                     b'{"budget_ms": ' + b"9" * 5000 + b"}"])
def test_a_crafted_link_nested_or_not_finite_is_one_bad_link_line(content):
    token = base64.urlsafe_b64encode(zlib.compress(content, 9)).decode().rstrip("=")
    assert len(token) <= view_link.MAX_TOKEN_CHARS
    with pytest.raises(view_link.BadLink, match="damaged"):
        view_link.decode(token)
