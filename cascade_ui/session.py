"""What a dashboard session holds, and the resources every session shares: read here, changed in :mod:`.state`.

Shared by every session of the server process (``st.cache_resource``): the workspace (score
store, Qdrant client), loaded datasets, experiments (with their loaded score matrices) and, via
:mod:`cascade_core.models.loading`, the models. Per session (``st.session_state``): which dataset, the
spec being edited, the budget. So two tabs never see each other's settings, and nothing heavy
is loaded twice.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from pathlib import Path

import streamlit as st

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.errors import CascadeError, missing_dependency
from cascade_core.judgments import JudgmentStore
from cascade_core.scoring.workspace import Workspace

from .text import literal

REPO = Path(__file__).resolve().parents[1]

# session_state keys
DATASET = "dataset_source"      # {"path", "split", "fmt", "label"}
SPEC = "spec"                   # the CascadeSpec in use (frozen, validated once when set)
BUDGET = "budget_ms"
SPEC_VERSION = "spec_version"
DEFAULT_BUDGET_MS = 100.0


def sample_path() -> str:
    """The bundled demo's dataset (``$CASCADE_SAMPLE_DATA`` points it elsewhere: tests, a mirror),
    read when asked, so a setting made after import counts."""
    return os.environ.get("CASCADE_SAMPLE_DATA", str(REPO / "sample_data" / "scifact-mini"))


def settle_heap() -> None:
    """Put what was just loaded for good (a dataset, an index, models and their libraries: some
    400,000 Python objects with the demo) out of the cyclic garbage collector's sight, so that its
    full collections, which otherwise walk all of them now and then in the middle of a slider move
    (0.2-0.5 s on 2 cores), walk only what a page makes. Called after loading something large.

    What an earlier call set aside is looked at again first (an experiment evicted from the cache
    since is collected, cycles included), and nothing that is garbage now is kept: a full
    collection runs before the freeze. (Objects set aside are still freed as usual when nothing
    refers to them; only the search for unreachable cycles skips them until the next call.)
    Frozen objects are missing from ``gc.get_objects()``: :func:`cascade_ui.access.guard_uploads`
    looks there, once, first thing on the server's first run, before anything is loaded.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False)
def workspace() -> Workspace:
    return Workspace()


def files_stamp(path: str) -> str:
    """A cheap fingerprint of what lies at ``path`` (names, sizes, modification times), so that a
    dataset edited on disk, or re-uploaded, is loaded again rather than served from the cache.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"; _ = f.write_text("a")
    >>> before = files_stamp(str(f)); _ = f.write_text("ab"); files_stamp(str(f)) != before
    True
    """
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    h = hashlib.sha1()
    for p in files:
        st_ = p.stat()
        h.update(f"{p}|{st_.st_size}|{st_.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=8)
def _dataset(path: str, split: str | None, fmt: str, stamp: str = "", files: tuple = ()):
    if files:   # files named explicitly ((role, path) pairs); ``path`` is then a folder or the corpus file
        ds = load_dataset(path if Path(path).is_dir() else None, split=split, fmt=fmt, **dict(files))
    else:
        ds = load_dataset(path, split=split, fmt=fmt)
    settle_heap()
    return ds


@st.cache_resource(show_spinner=False, max_entries=16)
def _experiment(path: str, split: str | None, fmt: str, scorers_key: str, stamp: str = "",
                files: tuple = (), device: str = "auto") -> Experiment:
    return Experiment(_dataset(path, split, fmt, stamp, *_named(files)), CascadeSpec.widest(scorers_key, device),
                      workspace())


def _named(files: tuple) -> tuple:
    """``(files,)`` when files are named, else nothing: the cached loaders are then called exactly
    as before named files existed, so every caller of a folder's dataset shares one cache entry."""
    return (files,) if files else ()


def _files_key(files) -> tuple:
    """Named files as a hashable, ordered ``((role, path), ...)`` (from a dict or remembered lists)."""
    items = files.items() if isinstance(files, dict) else (files or ())
    return tuple(sorted((str(r), str(p)) for r, p in items if p))


def dataset():
    src = st.session_state.get(DATASET)
    return None if src is None else _dataset(src["path"], src["split"], src["fmt"], src.get("stamp", ""),
                                             *_named(_files_key(src.get("files"))))


def judgments():
    """The judgment log of this session's dataset's corpus (:mod:`cascade_core.judgments`), shared
    with every experiment on it; None without a dataset."""
    ds = dataset()
    return None if ds is None else JudgmentStore.for_corpus(workspace().home, ds.corpus.fingerprint)


def dataset_label() -> str | None:
    src = st.session_state.get(DATASET)
    return None if src is None else src["label"]


_last_use = [0.0]   # when a page last ran (time.monotonic()), in any session of this server


def idle_s() -> float:
    """Seconds since a page of this dashboard last ran (in any session), 0 while one runs:
    background work that can wait (:func:`cascade_ui.demo.in_background`) waits for a pause."""
    if _page_running():   # seen running: the pause starts no earlier than now
        _last_use[0] = time.monotonic()
        return 0.0
    return time.monotonic() - _last_use[0]


def _page_running() -> bool:
    """Whether a page runs now in any session of this server, as Streamlit's sessions say (a long
    run asks for the spec only at its start and its end); False where that cannot be read."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.app_session import AppSessionState

        return any(getattr(info.session, "_state", None) == AppSessionState.APP_IS_RUNNING
                   for info in Runtime.instance()._session_mgr.list_sessions())   # noqa: SLF001
    except Exception:  # noqa: BLE001 - no runtime (AppTest, a script): the time alone
        return False


def spec() -> CascadeSpec | None:
    """The session's cascade: the frozen spec :func:`cascade_ui.state.set_spec` checked and stored
    (a mapping put there otherwise, by a test or an older session, is read once and kept as a spec).

    Every page run asks for it (the address bar's view at the end of each, the judging part of
    Judge): when it was last asked is when the dashboard was last in use (:func:`idle_s`)."""
    _last_use[0] = time.monotonic()
    value = st.session_state.get(SPEC)
    if value is None or isinstance(value, CascadeSpec):
        return value
    st.session_state[SPEC] = parsed = CascadeSpec.from_dict(value)
    return parsed


def spec_version() -> int:
    return st.session_state.get(SPEC_VERSION, 0)


def budget_ms() -> float:
    return float(st.session_state.get(BUDGET, DEFAULT_BUDGET_MS))


def experiment_key(sp: CascadeSpec) -> str:
    """What identifies an experiment: the spec's scorers (:meth:`CascadeSpec.scorer_key`).

    Cut-offs and combinations are left out, so every slider position and every way of combining
    the same scores shares one experiment and its loaded score matrix.
    """
    return sp.scorer_key()


def experiment(for_spec: CascadeSpec | None = None) -> Experiment | None:
    """The shared experiment for this session's dataset and the spec's scorers."""
    src, sp = st.session_state.get(DATASET), for_spec or spec()
    if src is None or sp is None:
        return None
    named = _files_key(src.get("files"))
    if sp.device != "auto":   # models on another device: another experiment (its timings, its fp16 scores)
        return _experiment(src["path"], src["split"], src["fmt"], experiment_key(sp), src.get("stamp", ""),
                           named, device=sp.device)
    return _experiment(src["path"], src["split"], src["fmt"], experiment_key(sp), src.get("stamp", ""),
                       *_named(named))


PROGRESS_EVERY_S = 0.1   # the fastest a progress bar is redrawn


def progress_callback(container=None):
    """A cascade_core progress callback drawing a Streamlit progress bar with time left.

    Redrawn at most ten times a second (and at each new task and at the end): work that reports
    every query would otherwise send the browser a message for each (600 for the demo: a second
    of its time on 2 cores)."""
    holder = (container or st).empty()
    bar = {"widget": None, "task": None, "at": 0.0}

    def update(event):
        now = time.monotonic()
        if bar["task"] == event.task and event.fraction < 1.0 and now - bar["at"] < PROGRESS_EVERY_S:
            return
        bar["at"] = now
        text = literal(event.describe())   # the task names a step, a model, a file
        if bar["task"] != event.task:
            bar["widget"] = holder.progress(0.0, text=text)
            bar["task"] = event.task
        bar["widget"].progress(min(event.fraction, 1.0), text=text)

    return update


def show_error(exc: Exception) -> None:
    """A CascadeError's one line, or a short generic message (never a raw traceback).

    Shown as it is written: an error quotes ids, paths and names from files, links and visitors,
    and must not turn them into links or formatting (:func:`cascade_ui.text.literal`).
    """
    if isinstance(exc, ImportError) and missing_dependency(exc, "this") is not None:
        exc = missing_dependency(exc, "this page")
    if isinstance(exc, CascadeError):
        st.error(literal(exc))
    else:
        st.error(literal(f"Something went wrong: {type(exc).__name__}: {exc}"))


def require_dataset_and_spec() -> bool:
    """Tell the user what to do first when this session has no dataset or no spec yet."""
    if st.session_state.get(DATASET) is None:
        st.info("No dataset loaded yet. Open **Data & index** and load the bundled sample "
                "(or press **Run the demo** there).")
        return False
    if st.session_state.get(SPEC) is None:
        st.info("No cascade yet. Open **Build** and pick a preset or build one.")
        return False
    return True
