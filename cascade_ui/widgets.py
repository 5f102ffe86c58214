"""Widgets shared by several pages: the sidebar status, the cut-off sliders, the lift headline."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import streamlit as st

from cascade_core.errors import SpecError
from cascade_core.experiment import Experiment, ExperimentResult
from cascade_core.lift import first_pass_lift, metric_label, stage_changes

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


def lift_cards(result: ExperimentResult) -> None:
    """The headline: the final list's nDCG@10, MRR@10 and recall@10 with their change against the
    first pass alone (red when worse), the predicted latency with what the stages add, and a
    warning when the cascade ranks worse than its own first pass. Numbers from cascade_core.lift."""
    ev = result.evaluation
    lift = first_pass_lift(result.run, ev, result.latency)
    cols = st.columns(len(lift.changes) + 1)
    for col, (metric, c) in zip(cols, lift.changes.items()):
        p = c.test.wilcoxon_p
        col.metric(metric_label(metric), f"{c.after:.3f}", delta=f"{c.points:+.1f} pts vs first pass",
                   delta_color="normal" if abs(c.points) > 1e-9 else "off",
                   help=f"First pass alone: {c.before:.3f}. Per query: {c.test.wins} better, {c.test.losses} worse, "
                        f"{c.test.ties} tied; Wilcoxon signed-rank p = {'?' if p != p else f'{p:.2g}'} "
                        "(scipy.stats.wilcoxon, two-sided).")
    added = lift.added_ms
    cols[-1].metric("Predicted latency", fmt_ms(result.latency.total_ms),
                    delta=None if added != added else f"+{added:.1f} ms for the stages", delta_color="off",
                    help="Predicted from the measured cost of each scorer: the first pass's "
                         f"{fmt_ms(lift.first_pass_ms)} plus what the rerank stages add.")
    if lift.worse and result.run.spec.stages:
        st.warning("**This cascade ranks worse than its own first pass** on "
                   + ", ".join(f"{metric_label(m)} ({lift.changes[m].points:+.1f} points)" for m in lift.worse)
                   + f", and its stages cost {fmt_ms(added)} per query. See **Compare & doctor** for the fix "
                   "(combining a stage with the earlier score instead of replacing it is the usual one).")
    return lift


WORSE_STYLE = "color: #D62728; font-weight: 600"   # the charts' "lost" red: a change for the worse


def flag_worse(df: pd.DataFrame, formats: dict[str, str], worse_when_negative: list[str]):
    """``df`` formatted (``formats``: column -> format string) with negative values of the named
    columns in the warning red: a quality change for the worse never looks neutral."""
    cols = [c for c in worse_when_negative if c in df.columns]
    styler = df.style.format({c: f for c, f in formats.items() if c in df.columns}, na_rep="-")
    return styler.map(lambda v: WORSE_STYLE if isinstance(v, (int, float)) and v < -1e-9 else "", subset=cols)


def stage_changes_table(result: ExperimentResult):
    """What each rerank stage does to the list it receives: nDCG@10 and MRR@10 in and out."""
    rows = []
    for ch in stage_changes(result.run, result.evaluation, ("ndcg@10", "mrr@10")):
        row = {"stage": ch.stage, "combine": result.run.spec.stages[ch.index].fusion.label}
        for m, c in ch.changes.items():
            row[f"{metric_label(m)} in"] = c.before
            row[f"{metric_label(m)} out"] = c.after
            row[f"{metric_label(m)} change (points)"] = c.points
        row["Wilcoxon p (nDCG@10)"] = ch.changes["ndcg@10"].test.wilcoxon_p
        rows.append(row)
    return pd.DataFrame(rows).set_index("stage") if rows else None


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
