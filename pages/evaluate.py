"""Evaluate: recall funnels, the metrics table per stage, recall@k curves, per-query results."""

import streamlit as st

from cascade_core.tuning import recall_curves
from cascade_ui import charts
from cascade_ui.widgets import analysis_page, shown_errors

result, exp = analysis_page("Evaluate")
with shown_errors():
    ev = result.evaluation
    if ev is None:
        st.info("This dataset has no relevance judgments: nothing to evaluate against.")
        st.stop()
    m = ev.final.means
    c = st.columns(4)
    c[0].metric("nDCG@10", f"{m['ndcg@10']:.3f}")
    c[1].metric("MRR@10", f"{m['mrr@10']:.3f}")
    c[2].metric("Recall@10", f"{m['recall@10']:.3f}")
    c[3].metric("Predicted latency", f"{result.latency.total_ms:.1f} ms")
    st.caption(f"{len(ev.query_ids)} labeled queries. nDCG uses trec_eval's linear gain (gain = grade).")

    st.plotly_chart(charts.recall_funnel({s.name: s.per_query["recall"] for s in ev.steps}, list(ev.funnel)), key="funnel")

    st.subheader("Metrics per stage")
    # The first pass's "candidates in" is the corpus, as on Flow (not the depth its lists were stored at).
    table = ev.table(corpus_size=len(exp.dataset.corpus))[
        ["keep", "candidates in", "recall", "ndcg@10", "mrr@10", "recall@10", "map", "oracle_ndcg@10"]]
    st.dataframe(table, width="stretch", column_config={
        "candidates in": st.column_config.NumberColumn(format="%.1f"),
        **{col: st.column_config.NumberColumn(format="%.3f")
           for col in ["recall", "ndcg@10", "mrr@10", "recall@10", "map", "oracle_ndcg@10"]},
    })
    st.caption("Each row is measured on the list that step keeps, in its order. oracle_ndcg@10: the best "
               "nDCG@10 a perfect reordering of that step's survivors could reach (the ceiling for later "
               "stages). 'final' is the last stage cut at final k.")

    curves, plateaus = recall_curves(result.run, exp.relevance)
    cutoffs = dict(zip(result.run.spec.stage_names, result.run.spec.keeps))
    st.plotly_chart(charts.recall_curves(curves, plateaus, cutoffs), key="curves")
    st.caption("Diamonds mark the smallest k where a step's recall stops rising (within half a point of its "
               "maximum); dotted lines the current cut-offs. A step's curve ranks what it receives, so it is "
               "conditional on the steps before it.")

    st.subheader("Per query")
    step = st.selectbox("Step", [s.name for s in ev.steps] + ["final"], index=len(ev.steps), key="pq-step")
    per_query = ev.per_query(step)
    per_query.insert(0, "query text", [exp.queries.text_of(q) for q in per_query.index])
    st.dataframe(per_query.sort_values("ndcg@10"), width="stretch", column_config={
        col: st.column_config.NumberColumn(format="%.3f") for col in per_query.columns if col != "query text"})
