"""Streamlit AppTest fixtures: one data folder and a small sample for every app test.

``st.cache_resource`` lives as long as the process, so the app tests share one workspace: the
environment is set once, before the first page runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cascade_ui.widgets import KEPT

REPO = Path(__file__).resolve().parents[2]
STATE_KEYS = ("dataset_source", "spec", "spec_version", "budget_ms")


@pytest.fixture(scope="session", autouse=True)
def app_environment(tiny_beir, tmp_path_factory):
    home = tmp_path_factory.mktemp("app-home")
    os.environ["CASCADE_HOME"] = str(home)
    os.environ["CASCADE_SAMPLE_DATA"] = str(tiny_beir)
    # The tests' own folders (tmp_path) are a data root, as an operator lists theirs; any other
    # folder is refused (tests/app/test_serving_pages.py).
    os.environ["CASCADE_DATA_ROOTS"] = str(tmp_path_factory.getbasetemp())
    return home


def page(name: str, carry: AppTest | dict | None = None, timeout: float = 300) -> AppTest:
    """An AppTest of ``pages/<name>.py``, with another page's session state carried over."""
    at = AppTest.from_file(str(REPO / "pages" / f"{name}.py"), default_timeout=timeout)
    if carry is not None:
        source = carry.session_state if isinstance(carry, AppTest) else carry
        # Widgets' values kept across pages (cascade_ui.widgets.kept) go along; the widgets' own
        # do not: Streamlit forgets those when another page runs.
        for key in [*STATE_KEYS, *(k for k in source if str(k).startswith(KEPT))]:
            if key in source:
                at.session_state[key] = source[key]
    return at


def build_and_use(carry, slider: str, value) -> AppTest:
    """The Build page with ``carry``'s state, one slider of its form (``pool``, ``final``, ...: the
    key's stem, before the spec's version) set to ``value``, then **Use this cascade** pressed."""
    at = page("build", carry)
    at.run()
    at.slider(key=f"{slider}-{at.session_state['spec_version']}").set_value(value).run()
    at.button(key="use").click().run()
    return at


@pytest.fixture(scope="session")
def demo_state(app_environment):
    """Session state after pressing "Run the demo" (on the small sample)."""
    at = page("data")
    at.run()
    at.button(key="demo").click().run()
    assert not at.error, [e.value for e in at.error]
    return {key: at.session_state[key] for key in STATE_KEYS if key in at.session_state}
