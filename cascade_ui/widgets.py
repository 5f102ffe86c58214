"""Widgets shared by several pages: the sidebar status and the cut-off sliders."""

from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from cascade_core.experiment import Experiment, ExperimentResult

from cascade_core.errors import SpecError

from . import state
from .demo import pool_slider_max
from .presets import is_stand_in


def fmt_ms(ms: float) -> str:
    return "?" if ms != ms else (f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s")


def sidebar_status(where=None) -> None:
    """Which dataset and cascade this session is on, in the sidebar of every page.

    Pages with cut-off sliders pass a container made above the sliders and call this after
    them, so the line shows the cut-offs just moved, not the previous run's.
    """
    with where or st.sidebar:
        label = state.dataset_label()
        st.caption(f"**Dataset:** {label or 'none yet'}")
        sp = state.spec()
        st.caption(f"**Cascade:** {sp.describe() if sp else 'none yet'}")


def cutoff_sliders(where=None, key_prefix: str = "cut") -> None:
    """Sliders for the pool size, each stage's keep and final k; a move updates the session spec.

    Only cut-offs move here (no model is called to simulate them); the scorers are set on Build.
    """
    sp = state.spec()
    if sp is None:
        return
    box = where or st.sidebar
    key_prefix = f"{key_prefix}-v{state.spec_version()}"
    box.markdown("**Cut-offs**")
    pool = box.slider("first pass keeps (pool size)", 1, pool_slider_max(sp.pool_size), sp.pool_size, key=f"{key_prefix}-pool")
    keeps, previous = [], pool
    for i, stage in enumerate(sp.stages, start=1):
        value = min(stage.keep, previous)
        k = box.slider(f"{stage.name} keeps", 1, max(previous, 2), value, key=f"{key_prefix}-stage{i}",
                       help=f"Stage {i}: {stage.scorer.label}")
        keeps.append(min(k, previous))
        previous = keeps[-1]
    final_k = box.slider("final k", 1, max(previous, 2), min(sp.final_k, previous), key=f"{key_prefix}-final")
    budget = box.number_input("latency budget (ms per query)", 1.0, 100_000.0, state.budget_ms(), step=10.0,
                              key=f"{key_prefix}-budget")
    st.session_state[state.BUDGET] = budget
    try:
        state.set_spec(sp.with_keeps(pool_size=pool, keeps=keeps, final_k=min(final_k, previous)),
                       from_slider=True)
    except SpecError as exc:
        box.error(str(exc))


def stand_in_warning(spec) -> None:
    """Say so wherever numbers come from the untrained stand-in cross-encoder (random ranking)."""
    if spec is not None and any(is_stand_in(s.scorer.model) for s in spec.stages):
        st.warning("This cascade uses the **untrained stand-in cross-encoder**: its latency is real, its "
                   "ranking is random, so quality numbers after it mean nothing. Set "
                   "`CASCADE_CROSS_ENCODER` to a trained one (a hub id or a folder) for real quality.")


@contextmanager
def shown_errors():
    """Run a page's body; any error becomes an ``st.error`` line and stops the page (no traceback).

    ``st.stop()`` inside still works: Streamlit's stop is a BaseException, not an Exception.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - shown to the user, not raised
        state.show_error(exc)
        st.stop()


def analysis_page(title: str) -> tuple[ExperimentResult, Experiment]:
    """The top of every page that analyses this session's cascade, and its current result.

    Title, sidebar status and cut-off sliders; then the cascade simulated from stored scores
    (scoring first, with progress, whatever was never scored). Without a dataset or spec it says
    what to do first and stops the page. Usage, at the top of a page::

        result, exp = analysis_page("Flow")
        with shown_errors():
            ...  # lay out result and exp
    """
    st.title(title)
    status = st.sidebar.container()
    if not state.require_dataset_and_spec():
        sidebar_status(status)
        st.stop()
    cutoff_sliders()
    sidebar_status(status)
    stand_in_warning(state.spec())
    with shown_errors():
        return state.run_current(), state.experiment()
