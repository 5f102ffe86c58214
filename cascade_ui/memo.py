"""Results a page computed, kept for this session while what they were computed from stays the same.

A page runs again whole on every widget change; what a change leaves as it was (a tuning's
held-out check when only a cut-off moved, a judging pool when a document is graded) need not be
computed again. :func:`remembered` keeps the last few values of one kind in the session, each
with the object it was computed from (``source``: compared by identity, and held, so its id is
never another object's), under a key naming everything else it depends on.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import streamlit as st

PREFIX = "memo-"


def remembered(kind: str, key: Hashable, source: Any, make: Callable[[], Any], keep: int = 8) -> Any:
    """``make()``, or the value it gave before for the same ``key`` and the same ``source`` object
    in this session; at most ``keep`` values of ``kind`` are kept (the oldest goes first)."""
    store: dict = st.session_state.setdefault(PREFIX + kind, {})
    held = store.get(key)
    if held is not None and held[0] is source:
        return held[1]
    value = make()
    store.pop(key, None)
    while len(store) >= keep:
        store.pop(next(iter(store)))
    store[key] = (source, value)
    return value
