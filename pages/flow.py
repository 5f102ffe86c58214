"""Flow: candidates through the stages, the judged-relevant ones apart, and the latency budget."""

import streamlit as st

from cascade_core.flow import flow_table
from cascade_ui import charts
from cascade_ui.widgets import analysis_page, fmt_ms, shown_errors

result, exp = analysis_page("Flow")
with shown_errors():
    qids = exp.matrix.query_ids
    choice = st.selectbox("Queries", ["All queries"] + qids, key="flow-query",
                          format_func=lambda q: q if q == "All queries" else
                          f"{q}: {exp.queries.text_of(q)[:90]}")
    qi = None if choice == "All queries" else qids.index(choice)
    flow = flow_table(result.run, exp.relevance, query=qi, corpus_size=len(exp.dataset.corpus), final=True)

    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.candidate_funnel(flow, per_query=qi is None), key="funnel")
    if exp.relevance is not None:
        c2.plotly_chart(charts.relevant_sankey(flow, whole_set=qi is None), key="sankey")
    else:
        c2.info("This dataset has no relevance judgments: no relevant flow to show.")

    lat = result.latency
    st.plotly_chart(charts.latency_bars(lat), key="latency")
    if lat.within_budget is False:
        st.warning(f"Predicted {fmt_ms(lat.total_ms)} per query: over the {fmt_ms(lat.budget_ms)} budget "
                   f"from **{lat.first_over_budget}** on.")

    table = flow.copy()
    extra = len(table) - len(lat.stages)   # the final cut's row: it costs nothing
    table["predicted ms/query"] = [s.predicted_ms for s in lat.stages] + [0.0] * extra
    table["cumulative ms"] = [s.cumulative_ms for s in lat.stages] + [lat.total_ms] * extra
    st.subheader("Per stage")
    st.dataframe(table.set_index("step"), width="stretch", column_config={
        "candidates_in": st.column_config.NumberColumn("candidates in", format="%.1f"),
        "kept": st.column_config.NumberColumn("kept", format="%.1f"),
        "dropped": st.column_config.NumberColumn("dropped", format="%.1f"),
        "relevant_in": st.column_config.NumberColumn("relevant in", format="%d"),
        "relevant_kept": st.column_config.NumberColumn("relevant kept", format="%d"),
        "relevant_lost": st.column_config.NumberColumn("relevant lost", format="%d"),
        "predicted ms/query": st.column_config.NumberColumn(format="%.1f ms"),
        "cumulative ms": st.column_config.NumberColumn(format="%.1f ms"),
    })
    st.caption("Candidate counts are means per query over the query set (or this query's own); "
               "relevant counts are totals. Predicted latency: fixed + per-pair cost fitted on every "
               "timed call of each scorer.")
