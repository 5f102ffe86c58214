"""Who judges on this dashboard: a name people type (a label) and this browser session's key.

The name is saved with each judgment so people can see who graded what; it is free text, so on a
shared dashboard it cannot say whose judgment is whose (every visitor who typed nothing is
"anonymous", and anyone can type anyone's name). What does is the session's key: a random id
made for this browser session, saved with each judgment it makes, never shown or put in a link.
Undo on a shared dashboard takes back only this session's own last judgment; on a local one
(one person, maybe several tabs) it takes back the last judgment made under the name typed.
The Judge page, the Live page and the LLM judge panel all judge through here.
"""

from __future__ import annotations

import uuid

import streamlit as st

from cascade_core.judgments import Judgment

from . import access

WHO = "judge-who"            # session key: the judge's name, saved with each judgment
KEY = "judge-session-key"    # session key: this browser session's own key (what Undo matches when shared)


def who() -> str:
    """The name typed in the sidebar ("anonymous" when none)."""
    return " ".join(str(st.session_state.get(WHO) or "").split()) or "anonymous"


def session_key() -> str:
    """This browser session's key, made on first use (a refresh is a new session, with a new key)."""
    return st.session_state.setdefault(KEY, uuid.uuid4().hex)


def judge(store, query: str, doc: str, grade: int, query_text: str = "") -> Judgment:
    """Save a person's judgment, with the name typed and this session's key."""
    return store.judge(query, doc, grade, who=who(), query_text=query_text, session=session_key())


def undo(store) -> Judgment | None:
    """Take back the last judgment still in force of this session (shared) or of the name typed
    (local); the judgment it replaced counts again. None when there is none."""
    if access.settings().share:
        return store.undo(session=session_key())
    return store.undo(who=who())


def undo_scope() -> str:
    """What Undo takes back, in words (the button's help and the "nothing to undo" line)."""
    if access.settings().share:
        return "your last judgment in this browser session"
    return f"{who()}'s last judgment"
