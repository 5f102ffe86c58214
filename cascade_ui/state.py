"""The session's state as the pages use it: what it holds (:mod:`.session`, re-exported here) and
the changes that must pass the dashboard's checks: loading a dataset (only under the data roots),
setting a cascade (only models, servers and keys a visitor may name) and simulating it (scoring
first, with an estimate and a Cancel button, whatever is not stored yet).

Pages import this module; the UI's own lower modules (access, the view link, scoring widgets)
import :mod:`.session` instead, so nothing here is imported back from below.
"""

from __future__ import annotations

import streamlit as st

from cascade_core.analysis.experiment import ExperimentResult
from cascade_core.cascade import CascadeSpec
from cascade_core.data.irds import is_irds
from cascade_core.errors import DataError, MissingScoresError, SpecError

from . import resume, session
from .access import check_path, check_spec, read_only, refuse_if_read_only, settings, uploads
from .scoring_panel import run_scoring, scoring_allowed
from .session import (BUDGET, DATASET, DEFAULT_BUDGET_MS, REPO, SPEC, SPEC_VERSION, _dataset, _files_key, _named,
                      budget_ms, dataset, dataset_label, experiment, experiment_key, files_stamp, progress_callback,
                      require_dataset_and_spec, sample_path, settle_heap, show_error, spec, spec_version, workspace)

__all__ = ["BUDGET", "DATASET", "DEFAULT_BUDGET_MS", "REPO", "SPEC", "SPEC_VERSION", "budget_ms",
           "dataset", "dataset_label", "experiment", "experiment_key", "files_stamp", "judgments", "load_dataset",
           "progress_callback", "require_dataset_and_spec", "run_current", "sample_path", "set_spec", "settle_heap",
           "show_error", "spec", "spec_version", "workspace"]


def judgments():
    """The judgment log of this session's dataset's corpus (None without a dataset). On a shared
    dashboard what visitors write there counts in the uploads quota (queries from a file too)."""
    store = session.judgments()
    if store is not None and settings().share:
        store.quota = uploads().make_room
    return store


def load_dataset(path: str | None, split: str | None = None, fmt: str = "auto", label: str | None = None,
                 files: dict | None = None):
    """Load and validate a dataset; on success it becomes this session's dataset.

    On failure the error propagates and the session keeps the dataset it had. The files are
    read again when they changed since they were last loaded (see :func:`files_stamp`). Only
    paths under the data roots are opened (:func:`cascade_ui.access.check_path`): any other is
    refused with a message naming the roots, before anything is read.
    """
    # Files named explicitly (``files``: role -> path, "Name the files yourself") pass the same checks.
    named = tuple((role, str(check_path(p))) for role, p in _files_key(files))
    if not path:
        path = dict(named).get("corpus")
        if path is None:
            raise DataError("no dataset: give a folder path, or name the corpus file")
    if is_irds(path) and (settings().share or read_only()):   # it would download what a visitor names
        raise DataError("this shared dashboard loads no dataset by name (irds:...); its operator can load it, "
                        "or upload the files")
    resolved = path.strip() if is_irds(path) else str(check_path(path))
    if read_only() and (named or resolved != str(check_path(sample_path()))):
        refuse_if_read_only("open other datasets than the bundled sample")
    path = resolved
    stamp = files_stamp(path) + "".join(files_stamp(p) for _, p in named)
    ds = _dataset(path, split or None, fmt, stamp, *_named(named))
    st.session_state[DATASET] = {"path": path, "split": split or None, "fmt": fmt,
                                 "label": label or ds.name, "stamp": stamp}
    if named:
        st.session_state[DATASET]["files"] = named
    resume.remember()   # a browser refresh comes back to it
    return ds


def set_spec(new: CascadeSpec | dict, from_slider: bool = False) -> CascadeSpec:
    """Validate and store the session's spec (raises SpecError and keeps the old one if invalid).

    A spec set from elsewhere than the cut-off sliders bumps ``spec_version``, which is part of
    the sliders' keys, so the sliders start again from the new spec's values. On a shared
    dashboard a spec naming a model folder outside the roots, an unlisted LLM server or another
    API-key variable is refused (:func:`cascade_ui.access.check_spec`).
    """
    parsed = new if isinstance(new, CascadeSpec) else CascadeSpec.from_dict(new)
    if not from_slider:   # a shared dashboard: only model folders, servers and keys a visitor may name
        check_spec(parsed)
        parsed.check_device()   # a GPU this machine lacks: refused here, not halfway through scoring
        missing = parsed.missing_files()   # asked after the sharing checks: it reveals nothing outside the roots
        if missing:
            raise SpecError(missing[0] + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    st.session_state[SPEC] = parsed
    if not from_slider:
        st.session_state[SPEC_VERSION] = st.session_state.get(SPEC_VERSION, 0) + 1
    resume.remember()   # a browser refresh comes back to it
    return parsed


def run_current(container=None) -> ExperimentResult | None:
    """Simulate this session's spec; score first (with progress) whatever is not stored yet.

    Before scoring, the pairs to score and the estimated time are shown; a long job (or one the
    user cancelled) waits for a click instead of starting by itself (:mod:`cascade_ui.latency_panel`).
    """
    sp = spec()
    exp = experiment(sp)
    if exp is None:
        return None
    try:
        return exp.run(sp, budget_ms())
    except MissingScoresError:
        estimate = exp.estimate(sp)
        if not scoring_allowed(estimate, "score-current", container):
            st.stop()
        run_scoring(lambda progress: exp.ensure_scores(sp, progress=progress),
                    f"Scoring what these cut-offs need (stored: never again): {estimate.describe()}",
                    "score-current", container)
        return exp.run(sp, budget_ms())

