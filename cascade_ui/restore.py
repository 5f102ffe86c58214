"""Opening a view in a new session: the one a link carries (:mod:`.view_link`), else the last
session remembered in the data folder (:mod:`.resume`), each through the session's usual checks.

A browser refresh is a new Streamlit session with nothing loaded; :func:`restore` (called once
per session by the app) brings back what the user had, and says what came back.
"""

from __future__ import annotations

import streamlit as st

from . import access, resume, state
from .text import literal
from .view_link import PARAM, BadLink, decode


def apply_view(view: dict) -> list[str]:
    """Load a view's dataset, set its cascade and budget (each through the session's usual checks);
    what came back, in words. Serves a link and the last-session file alike (:mod:`.resume`)."""
    said = []
    src = view.get("dataset")
    if src:
        state.load_dataset(src["path"], src.get("split"), src.get("fmt", "auto"), src.get("label"),
                           src.get("files"))
        said.append(f"dataset {src.get('label') or src['path']}")
    if view.get("spec"):
        said.append(f"cascade {state.set_spec(view['spec']).describe()}")
    if view.get("budget_ms") is not None:
        st.session_state[state.BUDGET] = float(view["budget_ms"])
    return said


def open_from_url() -> bool:
    """In a session with nothing loaded, open the view a link carries; True when one was asked for.
    A link that does not open says why in a toast and leaves the session empty."""
    token = st.query_params.get(PARAM)
    if not token:
        return False
    try:
        said = apply_view(decode(token))
    except Exception as exc:  # noqa: BLE001 - moved files, a refused path, a spec of another version
        for key in (state.DATASET, state.SPEC):
            st.session_state.pop(key, None)
        st.query_params.pop(PARAM, None)
        reason = str(exc) if isinstance(exc, BadLink) else f"{type(exc).__name__}: {str(exc)[:160]}"
        st.toast(f"This link's view could not be opened ({literal(reason)}).")
        return True
    if said:
        st.toast("Opened the view in the link: " + literal("; ".join(said)) + ".")
    return True


def restore() -> None:
    """In a new session with nothing loaded, open the view its link carries (:mod:`.view_link`, also
    on a shared dashboard), or else take up the last session (once, not when shared); say what
    came back. A dataset or spec that no longer loads is skipped with a note, never an error page."""
    if st.session_state.get(resume.RESTORED):
        return
    st.session_state[resume.RESTORED] = True
    if st.session_state.get(state.DATASET) is not None or st.session_state.get(state.SPEC) is not None:
        return
    if open_from_url() or access.settings().share:
        return
    last = resume.read(state.workspace().home)
    if not last:
        return
    try:
        said = apply_view(last)
    except Exception as exc:  # noqa: BLE001 - moved files, an older spec format: start afresh, say why
        reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        st.toast(f"Your last session could not be restored ({literal(reason)}).")
        return
    if said:
        st.toast("Restored your last session: " + literal("; ".join(said)) + ".")

