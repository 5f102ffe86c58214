"""Flow: candidates through the stages, the judged-relevant ones apart, and the latency budget."""

import streamlit as st

from cascade_core import formats
from cascade_core.analysis.flow import flow_table, kept_count_summary
from cascade_core.analysis.lift import first_pass_lift, points
from cascade_core.cascade.simulate import kept_counts
from cascade_core.formats import ms
from cascade_draw import charts
from cascade_draw.tables import WORSE_STYLE, count_text, flag_unjudged
from cascade_ui import latency_panel
from cascade_ui.styled import fast
from cascade_ui.text import literal
from cascade_ui.widgets import analysis_page, judgment_caveat, shown_errors, without_hole_columns

result, exp = analysis_page("Flow")
with shown_errors():
    qids = exp.matrix.query_ids
    choice = st.selectbox("Queries", ["All queries"] + qids, key="flow-query",
                          format_func=lambda q: q if q == "All queries" else
                          f"{q}: {exp.queries.text_of(q)[:90]}")
    qi = None if choice == "All queries" else qids.index(choice)
    flow = flow_table(result.run, exp.relevance, query=qi, corpus_size=len(exp.dataset.corpus), final=True)
    ev = result.evaluation
    if ev is not None and result.run.spec.stages:
        lift = first_pass_lift(result.run, ev, result.latency)
        said = lift.sentence()
        cost = "" if lift.added_ms != lift.added_ms else f", for {ms(lift.added_ms)} more per query (predicted)"
        over = result.latency.within_budget is False
        if qi is not None and ev.first_pass_alone is not None:   # one query chosen: its own change first
            before = float(ev.first_pass_alone.per_query["ndcg@10"][qi])
            after = float(ev.final.per_query["ndcg@10"][qi])
            (st.warning if after < before - 1e-9 else st.success)(
                f"**Query {literal(choice)}: final list against the first pass alone**: nDCG@10 "
                f"{formats.metric(before)} -> {formats.metric(after)} ({formats.change(points(after, before))}).")
        (st.caption if qi is not None else st.warning if lift.worse or over else st.success)(
            f"**Final list against the first pass alone** (all queries): {said}{cost}."
            + (f" **{lift.worse_headline()}**: see Compare & doctor." if lift.worse else "")
            + (f" **Over the {ms(result.latency.budget_ms)} budget** (below)." if over else ""))

    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.candidate_funnel(flow, per_query=qi is None), key="funnel")
    if exp.relevance is not None:
        c2.plotly_chart(charts.relevant_sankey(flow, whole_set=qi is None), key="sankey")
    else:
        c2.info("This dataset has no relevance judgments: no relevant flow to show. Judge some on the "
                "**Judge** page.")

    counts = kept_counts(result.run)
    if counts:   # query-adaptive cut-offs: each query keeps its own count
        summary = kept_count_summary(result.run)
        c1, c2 = st.columns([2, 1])
        c1.plotly_chart(charts.kept_count_histogram(counts, summary), key="kept-counts")
        c2.markdown("**Per-query cut-offs**")
        # one column per adaptive stage, a row per statistic: fits the narrow column
        # as text: a column mixing the rule (text) and counts (numbers) has no single Arrow type
        c2.dataframe(summary.T.map(lambda v: f"{v:.1f}" if isinstance(v, float) else str(v)), width="stretch")
        c2.caption("Each query keeps as many candidates as pass the stage's rule, between its min and max; the "
                   "next stage's latency is priced from each query's own count (mean below, p95 in the tail).")

    lat = result.latency
    st.plotly_chart(charts.latency_bars(lat), key="latency")
    if not lat.trusted:   # the verdict with what the tool distrusts about it, never the verdict alone
        latency_panel.latency_note(lat)
    elif lat.within_budget is False:
        st.warning(f"Predicted {ms(lat.total_ms)} per query: over the {ms(lat.budget_ms)} budget "
                   f"from **{literal(lat.first_over_budget)}** on.")
    tail = lat.tail()
    if tail.draws and lat.within_budget and tail.p95 > lat.budget_ms:
        # a mean within budget hides the slow queries: say so as a warning, not a green verdict
        st.warning(f"Within the {ms(lat.budget_ms)} budget on average ({ms(lat.total_ms)}), but the predicted "
                   f"p95 is {ms(tail.p95)}: about one query in twenty takes longer than the budget.")
    if tail.draws:
        st.caption(f"End to end per query, predicted: p50 {ms(tail.p50)}, p95 {ms(tail.p95)}, p99 "
                   f"{ms(tail.p99)} (the steps' medians add up to {ms(tail.sum_of_medians)}): each query's "
                   "candidate counts, each step's recorded spread. Costs: " + latency_panel.sources_caption(lat) + "."
                   + (f" ${lat.usd_per_1k_queries:.4f} per 1,000 queries." if lat.usd_per_1k_queries else ""))
    c1, c2 = st.columns([1, 2])
    latency_panel.remeasure_button(exp, result.run.spec, where=c1)
    latency_panel.cost_profiles_editor(result.run.spec, where=c2)

    table = flow.copy()
    extra = len(table) - len(lat.stages)   # the final cut's row: it costs nothing
    table["predicted ms/query"] = [s.predicted_ms for s in lat.stages] + [0.0] * extra
    table["cumulative ms"] = [s.cumulative_ms for s in lat.stages] + [lat.total_ms] * extra
    # the wall clock as the calls were timed, waits for a core included (the prediction leaves them out)
    table["wall clock ms (as timed)"] = [s.wall_ms for s in lat.stages] + [0.0] * extra
    table["p10-p90 ms"] = [latency_panel.spread_text(s) for s in lat.stages] + ["-"] * extra
    table["timed calls"] = [s.n_calls for s in lat.stages] + [0] * extra
    table["cost source"] = [s.source + (f" ({s.note})" if s.note else "") for s in lat.stages] + ["-"] * extra
    if ev is not None:
        # nDCG@10 of the list each step keeps (this query's, or the mean), against the first pass's
        steps = {s.name: s for s in ev.steps + [ev.final]}
        at = lambda s, m: float(s.per_query[m][qi]) if qi is not None else s.means[m]  # noqa: E731
        table["nDCG@10"] = [at(steps[name], "ndcg@10") for name in table["step"]]
        table["vs first pass (points)"] = points(table["nDCG@10"], table["nDCG@10"].iloc[0])
        # the holes: how much of each top 10 is judged, and nDCG@10 without the unjudged documents
        table["nDCG@10 condensed"] = [at(steps[name], "ndcg_condensed@10") for name in table["step"]]
        table["judged@10"] = [at(steps[name], "judged@10") for name in table["step"]]
    st.subheader("Per stage")
    holes = judgment_caveat(ev, "flow-holes")
    # "dropped" is candidates in minus kept: left out, and quality first, so the comparison fits on screen
    table = table.drop(columns=["dropped"])
    table = without_hole_columns(table, holes)
    if ev is not None:
        first = [c for c in ["step", "keep", "nDCG@10", "vs first pass (points)", "nDCG@10 condensed", "judged@10"]
                 if c in table.columns]
        table = table[first + [c for c in table.columns if c not in first]]
    # counts per cell: a fixed stage's 100 stays "100" beside an adaptive stage's mean "10.4"
    shown = table.set_index("step").style.format({"candidates_in": count_text, "kept": count_text})
    if ev is not None:
        worse = lambda v: WORSE_STYLE if v < -1e-9 else ""  # noqa: E731 - a drop is a warning, in red
        shown = shown.map(worse, subset=["vs first pass (points)"])
        if holes and ev.judged_nonrelevant:   # positive-only qrels: a low judged@10 is by design, not red
            shown = flag_unjudged(shown, ["judged@10"])
    st.dataframe(fast(shown), width="stretch", column_config={
        "candidates_in": st.column_config.Column("candidates in"),
        "kept": st.column_config.Column("kept"),
        "relevant_in": st.column_config.NumberColumn("relevant in", format="%d"),
        "relevant_kept": st.column_config.NumberColumn("relevant kept", format="%d"),
        "relevant_lost": st.column_config.NumberColumn("relevant lost", format="%d"),
        "predicted ms/query": st.column_config.NumberColumn(format="%.1f ms"),
        "cumulative ms": st.column_config.NumberColumn(format="%.1f ms"),
        "wall clock ms (as timed)": st.column_config.NumberColumn(format="%.1f ms"),
        "timed calls": st.column_config.NumberColumn(format="%d"),
        "nDCG@10": st.column_config.NumberColumn(format="%.3f"),
        "vs first pass (points)": st.column_config.NumberColumn(format="%+.1f"),
        "nDCG@10 condensed": st.column_config.NumberColumn(format="%.3f"),
        "judged@10": st.column_config.NumberColumn(format="%.2f"),
    })
    st.caption("Candidate counts are means per query over the query set (or this query's own); "
               "relevant counts are totals. Predicted latency: fixed + per-pair cost fitted on each "
               "scorer's latest timed calls (p10-p90: their spread around the fit), or the step's cost profile; "
               "each call counts the time it ran, not the time it waited for a core (quiet-equivalent), so "
               "timings from a busy CPU predict a quiet one; those are flagged, with the wall clock as timed. "
               "judged@10: the share of the step's top 10 with any judgment (red under 50%: its nDCG@10 counts "
               "the unjudged documents as non-relevant); nDCG@10 condensed removes them first.")
