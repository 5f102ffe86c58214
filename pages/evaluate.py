"""Evaluate: recall funnels, the metrics table per stage, recall@k curves, per-query results."""

import pandas as pd
import streamlit as st

from cascade_core.analysis.lift import metric_label, points
from cascade_core.tuning import cutoffs_and_plateaus, recall_curves
from cascade_draw import charts
from cascade_draw.tables import count_format, flag_unjudged, flag_worse, stage_changes_table
from cascade_ui import latency_panel
from cascade_ui.memo import remembered
from cascade_ui.styled import fast
from cascade_ui.text import literal
from cascade_ui.widgets import (HOLE_COLUMNS, analysis_page, judgment_caveat, kept, lift_cards, shown_errors,
                                without_hole_columns)

# Rows the per-query table shows until "every query" is asked for: the top of its order (the
# queries the cascade hurt most). A slider move redraws the table: 300 styled rows cost the
# browser some 40-70 ms a move and the server 10-20, a fifth of the page's redraw.
FIRST_ROWS = 10


def cutoffs_sentence(run, relevance, curves, plateaus) -> str:
    """Each step's cut-off in use and its recall there against its plateau, as Markdown: "first
    pass keeps 100: recall 0.934 (it stops rising at k=80); bi-encoder keeps 20: recall 0.871,
    7.9 points below its plateau at k=38 (0.950)"."""
    parts = []
    table = cutoffs_and_plateaus(run, relevance, curves, plateaus)
    # Column by column: a row of the table is all floats (k=905.0)
    for name, keep, at, k_plateau, top, below in zip(table.index, table["current cut-off"], table["recall at it"],
                                                     table["suggested (plateau)"], table["recall at plateau"],
                                                     table["points below plateau"]):
        where = (f", {below:.1f} points below its plateau at k={k_plateau} ({top:.3f})" if below > 0
                 else f" (it stops rising at k={k_plateau})")
        parts.append(f"{literal(name)} keeps {keep}: recall {at:.3f}{where}")
    return "; ".join(parts)


@st.fragment
def per_query_section(result, exp, ev, holes: bool, flag) -> None:
    """One row per query for the step chosen, the queries that need a look first: choosing another
    step, or every query, redraws this part alone."""
    with shown_errors():
        st.subheader("Per query")
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        steps = [s.name for s in ev.steps] + ["final"]
        step = left.selectbox("Step", steps, key="pq-step", **kept("pq-step", "final", steps))
        every = right.toggle(f"Every query ({len(ev.query_ids)})", key="pq-every", **kept("pq-every", False),
                             help=f"Off: the first {FIRST_ROWS} rows of the order below, the queries to look at first.")
        per_query = without_hole_columns(ev.per_query(step), holes)
        if step == "final" and result.run.spec.stages and ev.first_pass_alone is not None:
            # Beside each query's final nDCG@10, the first pass alone's: the queries the cascade hurt come first.
            alone = ev.first_pass_alone.per_query["ndcg@10"]
            per_query.insert(0, "nDCG@10 first pass alone", alone)
            per_query.insert(1, "change (points)", points(per_query["ndcg@10"], alone))
            per_query = per_query.sort_values(["change (points)", "ndcg@10"], kind="stable")
            order = "sorted by the change against the first pass alone, the queries the cascade hurt most first"
        else:
            per_query = per_query.sort_values("ndcg@10", kind="stable")
            order = "sorted by nDCG@10, worst first"
        total = len(per_query)
        if not every:
            per_query = per_query.head(FIRST_ROWS)
        # The query text only for the rows shown (300 look-ups a move otherwise).
        per_query.insert(0, "query text", [exp.queries.text_of(q) for q in per_query.index])
        numbers = [c for c in per_query.columns if c not in ("query text", "change (points)")]
        st.dataframe(fast(flag(flag_worse(per_query, {**{c: "{:.3f}" for c in numbers}, "change (points)": "{:+.1f}"},
                                          ["change (points)"]))), width="stretch")
        shown_rows = (f"All {total} labeled queries" if every or total <= FIRST_ROWS
                      else f"The first {len(per_query)} of {total} labeled queries (**Every query** shows them all)")
        st.caption(f"{shown_rows}, one row each, {order}. Metrics of the list that step keeps.")


result, exp = analysis_page("Evaluate")
with shown_errors():
    ev = result.evaluation
    if ev is None:
        st.info("This dataset has no relevance judgments: nothing to evaluate against. Judge some documents "
                "on the **Judge** page: they count here at once.")
        st.stop()
    # Each part in its place, the charts made first: the browser draws them while the tables are made.
    top, funnel_slot, metrics_box, curves_slot = st.container(), st.empty(), st.container(), st.empty()
    funnel_slot.plotly_chart(charts.recall_funnel({s.name: s.per_query["recall"] for s in ev.funnel_steps()},
                                                  [s.recall for s in ev.funnel_steps()]), key="funnel")

    curves, plateaus = recall_curves(result.run, exp.relevance)
    # Without the cut-offs drawn: moving a step's cut-off leaves its own curve as it was, and an
    # unchanged figure is not drawn again (the cut-offs are said below it).
    # Made again only when the curves change (the figure's validation is some 20 ms a move).
    curves_figure = remembered("evaluate-curves", (pd.util.hash_pandas_object(curves).values.tobytes(),
                                                   tuple(plateaus.items())), None,
                               lambda: charts.recall_curves(curves, plateaus))
    curves_slot.plotly_chart(curves_figure, key="curves")
    with top:
        lift = lift_cards(result)
        latency_panel.latency_note(result.latency)   # beside the predicted-latency card: what the tool distrusts
        st.caption(f"{len(ev.query_ids)} labeled queries. Changes are against the first pass alone (its own top "
                   f"{result.run.spec.final_k}), in points (100 x the difference); hover a card for the per-query "
                   "wins, losses and the paired test. nDCG uses trec_eval's linear gain (gain = grade).")
        if result.run.spec.stages:
            # Made only while open (a callback, so a rerun, when it opens): collapsed, its two tables
            # are not made on every slider move (some 15 ms of the server's work a move). Open by
            # itself when the cascade is worse somewhere; as the user left it otherwise.
            against = st.expander("Against the first pass, and what each stage does to the list it receives",
                                  key="evaluate-against", **kept("evaluate-against", bool(lift.worse)))
            if against.open:
                with against:
                    st.dataframe(fast(flag_worse(lift.table(), {"first pass": "{:.3f}", "cascade": "{:.3f}",
                                                                "change (points)": "{:+.1f}", "Wilcoxon p": "{:.2g}"},
                                                 ["change (points)"])), width="stretch")
                    changes = stage_changes_table(result)
                    change_cols = [c for c in changes.columns if "change" in c]
                    st.dataframe(fast(flag_worse(changes, {**{c: "{:+.1f}" for c in change_cols},
                                                           **{c: "{:.3f}" for c in changes.columns
                                                              if c.endswith((" in", " out"))},
                                                           "Wilcoxon p (nDCG@10)": "{:.2g}"}, change_cols)),
                                 width="stretch")
                    st.caption("Second table: each stage's input is the list the step before it keeps, in that order; "
                               "its output is the list it keeps. A negative change means the stage makes the ranking "
                               "worse: the doctor on **Compare & doctor** flags it and simulates the fix.")

    with metrics_box:
        st.subheader("Metrics per stage")
        # The first pass's "candidates in" is the corpus, as on Flow (not the depth its lists were stored at).
        holes = judgment_caveat(ev, "evaluate-holes")
        quality = ["recall", "ndcg@10", "ndcg_condensed@10", "judged@10", "mrr@10", "recall@10", "map", "oracle_ndcg@10"]
        quality = [c for c in quality if holes or c not in HOLE_COLUMNS]
        table = ev.table(corpus_size=len(exp.dataset.corpus))[["keep", "candidates in"] + quality]
        # judged@10 in red where it makes the metrics a floor; positive-only qrels: low by design, not red
        # (a Styler: column formats alone cannot colour a cell)
        flag = flag_unjudged if ev.judged_nonrelevant else (lambda styler: styler)
        st.dataframe(fast(flag(table.style.format({c: "{:.3f}" for c in quality}, na_rep="-"))), width="stretch",
                     column_config={
                         "candidates in": st.column_config.NumberColumn(format=count_format(table["candidates in"])),
                         # headers as people write the metrics (the data keeps the library's names)
                         **{m: st.column_config.Column(metric_label(m)) for m in quality}})
        st.caption("Each row is measured on the list that step keeps, in its order. oracle_ndcg@10: the best "
                   "nDCG@10 a perfect reordering of that step's survivors could reach (the ceiling for later "
                   "stages). judged@10: the share of the top 10 with any judgment (judged non-relevant counts); "
                   "ndcg@10 condensed: nDCG@10 with the unjudged documents removed from the list first (Sakai's "
                   "condensed list), beside the standard one that counts them as non-relevant. "
                   "'final' is the last stage cut at final k.")

    st.caption("Diamonds mark the smallest k where a step's recall stops rising (within half a point of its "
               f"maximum). At the cut-offs in use: {cutoffs_sentence(result.run, exp.relevance, curves, plateaus)}. "
               "A step's curve ranks what it receives, so it is conditional on the steps before it.")

    per_query_section(result, exp, ev, holes, flag)
