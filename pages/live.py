"""Live: one query through the real models, end to end, each stage's results and measured latency."""

import pandas as pd
import streamlit as st

from cascade_ui import charts, state
from cascade_ui.widgets import sidebar_status

st.title("Live run")
sidebar_status()
if state.require_dataset_and_spec():
    st.caption("Runs the real first pass and models on your query (nothing read from the score store) and "
               "times every stage, next to the cost model's prediction.")
    query = st.text_input("Query", placeholder="e.g. statins reduce the risk of heart attacks", key="live-query")
    if st.button("Run", type="primary", key="live-run"):
        if not query.strip():
            st.error("Type a query first: an empty query has nothing to rank.")
        else:
            try:
                exp = state.experiment()
                sp = state.spec()
                with st.spinner("Running the cascade..."):
                    live = exp.live(query, sp)
                predicted = {s.name: s.predicted_ms for s in exp.run(sp, state.budget_ms()).latency.stages} \
                    if exp.matrix.retrieved_depth else {}
                st.session_state["live-result"] = (live, predicted)
            except Exception as exc:  # noqa: BLE001
                state.show_error(exc)
    if "live-result" in st.session_state:
        live, predicted = st.session_state["live-result"]
        st.metric("Total measured", f"{live.total_ms:.1f} ms")
        st.plotly_chart(charts.live_latency(live.steps, predicted), key="live-latency")
        ds = state.dataset()
        tabs = st.tabs([f"{s.name} ({len(s.doc_ids)})" for s in live.steps])
        for tab, step in zip(tabs, live.steps):
            rows = [{"rank": r, "doc": d, "score": float(sc), "title": ds.corpus[d].title or ds.corpus[d].text[:80]}
                    for r, (d, sc) in enumerate(zip(step.doc_ids, step.scores), start=1)]
            tab.caption(f"Scored {step.n_scored} candidates in {step.ms:.1f} ms; kept {len(step.doc_ids)}.")
            tab.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                          column_config={"score": st.column_config.NumberColumn(format="%.4f")})
