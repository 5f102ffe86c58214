"""The Build page's choice of where scoring runs: this process, or a Ray cluster.

The choice is the spec's ``executor`` (:mod:`cascade_core.cascade.executor`): every page that
scores (Evaluate, Flow, Tune, the doctor) then scores the missing pairs there, with the same
progress bar and Cancel; the scores land in the same store. Ray is an optional install: without
it the page says how to add it instead of offering a choice that would fail.
"""

from __future__ import annotations

import importlib.util

import streamlit as st

from cascade_core.cascade.executor import Executor
from cascade_ui.access import settings

LOCAL_LABEL = "this process (local)"
RAY_LABEL = "a Ray cluster"


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def executor_widget(current: str, version: int) -> str:
    """The executor setting the form describes (``local``, ``ray`` or ``ray:ADDRESS``)."""
    now = Executor.parse(current)
    c1, c2 = st.columns([1, 2])
    if not ray_installed() and now.is_local:
        c1.caption("Scoring runs in this process. To score on a Ray cluster: `pip install 'cascade-explorer[ray]'`.")
        return "local"
    choice = c1.radio("Scoring runs on", [LOCAL_LABEL, RAY_LABEL], index=0 if now.is_local else 1,
                      key=f"executor-{version}", horizontal=True,
                      help="Where the missing scores are computed. Everything after scoring (simulation, tuning, "
                           "these pages) runs here from the store either way.")
    if choice == LOCAL_LABEL:
        return "local"
    if settings().share:   # visitors score on the operator's cluster only (RAY_ADDRESS), never one they type
        c2.caption("On this shared dashboard scoring runs on the operator's Ray cluster, if one is set, else on a "
                   "cluster started on this machine.")
        return "ray"
    address = c2.text_input("Ray cluster address", value=now.address or "", key=f"ray-address-{version}",
                            placeholder="blank: RAY_ADDRESS, else a cluster started on this machine",
                            help="HOST:6379 (the head node), auto (a cluster running on this machine), or "
                                 "ray://HOST:10001 (Ray Client). The workers need this package and the models "
                                 "installed; the first pass stays here.")
    c2.caption("Each stage's missing pairs are scored by Ray workers (one model per worker) and stored here as "
               "they return; a stopped run keeps what was stored. The doctor says which timings came from workers.")
    return executor_setting(address)


def executor_setting(address: str) -> str:
    """The setting for an address as typed (blank, ``HOST:6379``, ``ray:HOST:6379``, ``ray://HOST:10001``).

    >>> executor_setting(""), executor_setting(" ray:h:6379 "), executor_setting("h:6379"), executor_setting("ray://h:1")
    ('ray', 'ray:h:6379', 'ray:h:6379', 'ray://h:1')
    """
    address = address.strip()
    if address.startswith("ray://"):
        return address
    address = address.removeprefix("ray:")
    return f"ray:{address}" if address else "ray"
