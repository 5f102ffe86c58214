"""Widgets shared by several pages: the sidebar status, the cut-off sliders, the lift headline."""

from __future__ import annotations

from contextlib import contextmanager
from itertools import groupby

import streamlit as st

from cascade_core import formats
from cascade_core.analysis.experiment import Experiment, ExperimentResult
from cascade_core.analysis.lift import first_pass_lift, metric_label
from cascade_core.cascade import keep_within
from cascade_core.errors import CascadeError, SpecError
from cascade_core.formats import ms
from cascade_core.judgments import USE_HUMAN, USES

from . import access, state
from .demo import pool_slider_max
from .latency_panel import sources_caption
from .presets import is_stand_in, student_note
from .text import literal


def highlighted(spans) -> str:
    """Markdown for (segment, is_query_term) spans: query terms on an orange background, every
    character shown as it is (:func:`cascade_ui.text.literal`).

    >>> print(highlighted([("stem ", False), ("cells", True), (" [1]", False)]))
    stem :orange-background[cells] \\[1\\]
    """
    out = []
    # Neighbouring segments of one kind are escaped as one text: a URL cut across two of them
    # would get no split from literal(), which sees one piece at a time.
    for hit, group in groupby(spans, key=lambda span: span[1]):
        text = literal("".join(segment for segment, _ in group))
        out.append(f":orange-background[{text}]" if hit else text)
    return "".join(out)


def sidebar_status(where=None) -> None:
    """Which dataset and cascade this session is on, in the sidebar of every page.

    Pages with cut-off sliders pass a container made above the sliders and call this after
    them, so the line shows the cut-offs just moved, not the previous run's.
    """
    with where or st.sidebar:
        label = state.dataset_label()
        st.caption(f"**Dataset:** {literal(label) if label else 'none yet'}")
        sp = state.spec()
        st.caption(f"**Cascade:** {literal(sp.describe()) if sp else 'none yet'}")
        judgments_in_use()
        file_notices()


def judgments_in_use() -> None:
    """One sidebar line when the metrics use LLM labels (the Judge page's switch): never silently."""
    try:
        store = state.judgments()   # None without a dataset
    except CascadeError:
        return
    if store is not None and store.use != USE_HUMAN:
        st.caption(f"**Judgments:** {USES[store.use]}, as chosen on the Judge page")
    if store is not None and store.bad_lines:   # the lines themselves are listed on the Judge page
        st.warning(f"{store.bad_lines} line(s) of the judgment log could not be read and were skipped; every other "
                   "judgment counts (the Judge page lists them).", icon=":material/report:")


def file_notices(workspace=None) -> None:
    """Damaged files the workspace (default: the server's) found, moved aside and rebuilt (the score
    store, a vector index): one warning each, on every page, for as long as this server runs."""
    try:
        notices = (workspace or state.workspace()).notices
    except CascadeError:   # the page's own error handler says why the data folder cannot open
        return
    for notice in notices:
        st.warning(literal(notice), icon=":material/build:")


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
    pool = _cutoff_slider(box, "first pass keeps (pool size)", f"{key_prefix}-pool", pool_slider_max(sp.pool_size),
                          sp.pool_size)
    keeps, previous = [], pool
    for i, stage in enumerate(sp.stages, start=1):
        # an adaptive stage's slider moves its maximum; its rule is set on Build
        k = _cutoff_slider(box, f"{literal(stage.name)} keeps" + (" at most" if stage.adaptive else ""),
                           f"{key_prefix}-stage{i}", previous, stage.keep,
                           help=f"Stage {i}: {literal(stage.scorer.label)}"
                           + (f"; per-query cut-off {literal(stage.cutoff_label)} (set on Build)" if stage.adaptive
                              else ""))
        keeps.append(k)
        previous = keep_within(previous, k)
    final_k = _cutoff_slider(box, "final k", f"{key_prefix}-final", previous, sp.final_k)
    budget = box.number_input("latency budget (ms per query)", 1.0, 100_000.0, state.budget_ms(), step=10.0,
                              key=f"{key_prefix}-budget")
    st.session_state[state.BUDGET] = budget
    try:
        state.set_spec(sp.with_keeps(pool_size=pool, keeps=keeps, final_k=final_k), from_slider=True)   # clamped there
    except SpecError as exc:
        box.error(literal(exc))


WISH = "cut-wish-"   # session keys: each cut-off slider's last value set by hand (see _cutoff_slider)


def _cutoff_slider(box, label: str, key: str, received: int, start: int, **kwargs) -> int:
    """A cut-off slider from 1 to what its step receives, showing the value last set by hand (the
    spec's, ``start``, until then) within that: lowering an earlier cut-off lowers this one with it,
    and raising it again brings back the value chosen (it stayed at the lowered one). A spec set
    elsewhere starts new keys (the spec's version is in ``key``), so new values."""
    if WISH + key not in st.session_state:
        st.session_state[WISH + key] = start
    st.session_state[key] = keep_within(received, st.session_state[WISH + key])
    return box.slider(label, 1, max(received, 2), key=key, on_change=_wished, args=(key,), **kwargs)


def _wished(key: str) -> None:
    st.session_state[WISH + key] = st.session_state[key]


def lift_cards(result: ExperimentResult):
    """The headline: the final list's nDCG@10, MRR@10 and recall@10 with their change against the
    first pass alone (red when worse), the predicted latency with what the stages add, and a
    warning when the cascade ranks worse than its own first pass, with how sure that is. Numbers
    from cascade_core.analysis.lift; returns the lift."""
    ev = result.evaluation
    lift = first_pass_lift(result.run, ev, result.latency)
    staged = bool(result.run.spec.stages)   # no stage: the first pass is the cascade, nothing to compare
    cols = st.columns(len(lift.changes) + 1)
    for col, (metric, c) in zip(cols, lift.changes.items()):
        col.metric(metric_label(metric), f"{c.after:.3f}",
                   delta=f"{formats.change(c.points)} vs first pass" if staged else None,
                   delta_color="normal" if abs(c.points) > 1e-9 else "off",
                   help=(f"First pass alone (its own top {result.run.spec.final_k}): {c.before:.3f}. {c.evidence()}, "
                         f"{c.test.ties} tied (Wilcoxon signed-rank, scipy.stats.wilcoxon, two-sided).") if staged else
                   "The first pass alone: no rerank stage to compare it with.")
    added, lat = lift.added_ms, result.latency
    over = lat.within_budget is False
    delta = f"+{added:.1f} ms for the stages" if staged and added == added else None
    if over:   # over the budget is a warning, never a neutral grey
        delta = f"over the {ms(lat.budget_ms)} budget" + (f" (+{added:.1f} ms for the stages)" if delta else "")
    cols[-1].metric("Predicted latency", ms(lat.total_ms), delta=delta,
                    delta_color="inverse" if over else "off",
                    help=f"Predicted per query from each step's cost profile ({sources_caption(lat)}): the first "
                         f"pass's {ms(lift.first_pass_ms)} plus what the rerank stages add"
                         + (f"; the budget is {ms(lat.budget_ms)}." if lat.budget_ms is not None else "."))
    if lift.worse and staged:
        st.warning(f"**{lift.worse_headline()}** on "
                   + literal(lift.worse_sentence())
                   + f". Its stages cost {ms(added)} per query. See **Compare & doctor** for the fix "
                   "(combining a stage with the earlier score instead of replacing it is the usual one).")
    return lift


HOLE_COLUMNS = ("judged@10", "ndcg_condensed@10", "nDCG@10 condensed")


KEPT = "kept-"   # session keys holding widgets' values across pages (see kept)


def kept(key: str, default, options=None) -> dict:
    """Keep widget ``key``'s value when another page is opened and this one again: Streamlit forgets
    the value of a widget that a run does not draw (leaving the page reset the switch). Sets the
    widget's value, as last chosen on any page (``default`` the first time, or when it is not
    among ``options`` any more), and returns the callback that remembers a change: create the
    widget with ``key`` and ``**kept(key, default)``, and no default of its own.

        every = st.toggle("Every query", key="pq-every", **kept("pq-every", False))
    """
    value = st.session_state.get(KEPT + key, default)
    if options is not None and value not in options:
        value = default
    if key not in st.session_state or (options is not None and st.session_state[key] not in options):
        st.session_state[key] = value
    return {"on_change": _remember, "args": (key,)}


def _remember(key: str) -> None:
    st.session_state[KEPT + key] = st.session_state[key]


def judgment_caveat(ev, key: str) -> bool:
    """Say what the judgments leave open, once, in proportion, and return whether the judged@10
    and condensed nDCG@10 columns should show. Qrels that judge non-relevant documents too: a
    warning when some top 10 is mostly unjudged (the metrics are a floor there), columns shown.
    Positive-only qrels (SciFact's): the same holes are by design, so a caption and a switch to
    show the columns, off by default."""
    if ev is None:
        return False
    if warning := ev.unjudged_warning():
        st.warning(literal(warning))
        return True
    if note := ev.judgment_note():
        st.caption(literal(note))
        return st.toggle("Show judged@10 and nDCG@10 condensed", key=key, **kept(key, False))
    return True


def without_hole_columns(table, shown: bool):
    """``table`` without the judged@10 / condensed columns unless ``shown``."""
    return table if shown else table.drop(columns=[c for c in HOLE_COLUMNS if c in table.columns])


def stand_in_warning(spec) -> None:
    """Say which cross-encoder the numbers come from: a warning for the untrained stand-in (random
    ranking), an info line naming a distilled student and how it was trained."""
    if spec is None:
        return
    if any(is_stand_in(s.scorer.model) for s in spec.stages):
        st.warning("This cascade uses the **untrained stand-in cross-encoder**: its latency is real, its "
                   "ranking is random, so quality numbers after it mean nothing. Distil a real one from "
                   "your cascade on the **Build** page (or `cascade distill`), or set "
                   "`CASCADE_CROSS_ENCODER` to a trained one (a hub id or a folder).")
    ds = state.dataset()
    corpus = ds.corpus.fingerprint if ds is not None else None
    for model in dict.fromkeys(s.scorer.model for s in spec.stages if s.scorer.model):
        note = student_note(model, corpus)
        if note:
            st.info(literal(note))


def approximate_warning(result: ExperimentResult | None, exp: Experiment | None, key: str = "rescore") -> None:
    """Say so when a listwise stage is handed, under these cut-offs, a list it never ranked (its
    scores then come from a longer list it ranked: approximate), with a button that rescores it
    for exactly these cut-offs (stored beside the other lists, so coming back costs nothing)."""
    if result is None or exp is None or result.run.exact:
        return
    lines = "; ".join(f"**{literal(a.stage)}**: {a.queries} of {a.of} queries" for a in result.run.approximate)
    st.warning("**Approximate.** A listwise stage's scores depend on the candidates it ranks together, and "
                     f"these cut-offs hand it lists it never ranked ({lines}): scores of a longer list it ranked "
                     "stand in. Rescore to make these numbers exact (the LLM ranks the new lists once; "
                     "they are stored).")
    if access.read_only():
        return
    if st.button("Rescore for these cut-offs", key=f"{key}-v{state.spec_version()}"):
        with access.job_slot("rescoring a listwise stage"), \
                st.status("Rescoring the listwise stage for these cut-offs...", expanded=True) as status:
            exp.ensure_scores(result.run.spec, progress=state.progress_callback(status))
            status.update(label="Rescored and stored", state="complete", expanded=False)
        st.rerun()


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
        result, exp = state.run_current(), state.experiment()
        approximate_warning(result, exp)
        return result, exp


def open_page_button(page_file: str, label: str, key: str, state: dict | None = None, where=None) -> None:
    """A button that sets ``state`` (keys another page reads once) and opens ``page_file``; where the
    page is not registered (a page run on its own, as the app tests do), its name as text."""
    from streamlit.errors import StreamlitAPIException

    box = where or st
    if box.button(label, key=key, type="tertiary", icon=":material/arrow_forward:"):
        st.session_state.update(state or {})
        try:
            st.switch_page(page_file)
        except StreamlitAPIException:
            box.caption(literal(label))


def page_link(page_file: str, label: str, where=None) -> None:
    """A link to another page of the dashboard (Streamlit's page link, which keeps the session);
    where the page is not registered (a page run on its own, as the app tests do), its name as text."""
    from streamlit.errors import StreamlitAPIException

    box = where or st
    try:
        box.page_link(page_file, label=label, icon=":material/arrow_forward:")
    except StreamlitAPIException:
        box.caption(literal(label))
