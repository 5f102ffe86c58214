"""A browser refresh keeps the dataset and the cascade: the view in the address bar
(:mod:`.view_link`), else the last session, remembered in the data folder.

Streamlit forgets a session's state on a refresh (a new websocket is a new session). So every
time a session loads a dataset or sets a cascade, the pair is written to
``$CASCADE_HOME/last-session.json``; a new session with nothing loaded takes it up again, once,
and says so. Only for a dashboard that is not shared: visitors of a shared one must not inherit
each other's sessions (nor the operator's).

>>> import tempfile, pathlib
>>> home = pathlib.Path(tempfile.mkdtemp())
>>> write(home, {"path": "/data/x", "split": "test", "fmt": "auto", "label": "x"}, {"pool_size": 10}, 50.0)
>>> read(home)["dataset"]["label"], read(home)["budget_ms"]
('x', 50.0)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from cascade_core.readback import Unreadable, read_record

from . import access, session, view_link

FILE = "last-session.json"
RESTORED = "resume-checked"   # session key: this session already looked for a last session


def write(home: Path, dataset: dict | None, spec: dict | None, budget_ms: float | None) -> None:
    """Remember a session's dataset source, spec and budget (atomically: a crash never leaves half a file)."""
    data = {"dataset": {k: dataset[k] for k in ("path", "split", "fmt", "label", "files") if k in dataset} if dataset else None,
            "spec": spec, "budget_ms": budget_ms}
    path = Path(home) / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def read(home: Path) -> dict | None:
    """The last session remembered in ``home``, or None (none, or a file that is not one)."""
    try:   # the strict reader: a hand-edited or damaged file is "no last session", never a traceback
        return read_record(Path(home) / FILE, max_chars=1_000_000)
    except Unreadable:
        return None


def remember() -> None:
    """Put this session's dataset and cascade in the address bar (:mod:`.view_link`) and write them
    to the last-session file (called after either changes); the file not when shared."""
    view_link.publish()
    if access.settings().share:
        return
    try:
        current = session.spec()
        write(session.workspace().home, st.session_state.get(session.DATASET),
              current.to_dict() if current is not None else None,
              st.session_state.get(session.BUDGET))
    except OSError:   # a read-only data folder: the dashboard works, a refresh forgets
        pass


