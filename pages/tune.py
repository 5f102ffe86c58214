"""Tune: where each cut-off should be, a budget tuner with its Pareto frontier, held-out checks, exports."""

import pandas as pd
import streamlit as st

from cascade_core.export import python_snippet, trec_runs_zip
from cascade_core.flow import flow_table
from cascade_core.tuning import (best_within_budget, cheapest_within_recall, cutoff_grid, grid_search,
                                 holdout_validation, pareto_front, recall_curves)
from cascade_ui import charts, state
from cascade_ui.report import html_report
from cascade_ui.widgets import analysis_page, shown_errors

result, exp = analysis_page("Tune")
with shown_errors():
    spec = result.run.spec
    if exp.relevance is None:
        st.info("Tuning needs relevance judgments; this dataset has none.")
        st.stop()

    st.subheader("Where recall stops rising")
    curves, plateaus = recall_curves(result.run, exp.relevance)
    rows = []
    for name, keep in zip(spec.stage_names, spec.keeps):
        c = curves[curves["step"] == name].set_index("k")["recall"]
        at = c[c.index <= keep].iloc[-1] if (c.index <= keep).any() else float("nan")
        rows.append({"step": name, "current cut-off": keep, "recall at it": at,
                     "suggested (plateau)": plateaus[name], "recall at plateau": c.get(plateaus[name])})
    st.dataframe(pd.DataFrame(rows).set_index("step"), width="stretch", column_config={
        "recall at it": st.column_config.NumberColumn(format="%.3f"),
        "recall at plateau": st.column_config.NumberColumn(format="%.3f")})
    st.caption("Plateau: the smallest k whose recall@k is within half a point of the step's best, over the "
               "candidates the step receives (so it depends on the cut-offs before it).")

    st.subheader("Budget tuner")
    c1, c2, c3 = st.columns(3)
    budget = c1.number_input("Budget (ms per query)", 1.0, 100_000.0, state.budget_ms(), step=10.0, key="tune-budget")
    values = c2.slider("Values tried per cut-off", 3, 8, 5, key="tune-values")
    max_pool = c3.number_input("Largest pool to try", spec.final_k, 10_000,
                               max(spec.pool_size, min(exp.matrix.retrieved_depth or spec.pool_size, 1000)),
                               key="tune-max-pool")
    objective = st.radio("Objective", ["best nDCG@10 within the budget",
                                       "cheapest within 1 point of the best recall@10"], key="tune-objective",
                         horizontal=True)
    grid = cutoff_grid(spec, values=values, max_pool=int(max_pool))
    st.caption(f"{len(grid)} cut-off combinations, each simulated from stored scores.")
    if st.button("Tune", type="primary", key="tune-run"):
        tuned = grid_search(exp, grid, budget, progress=state.progress_callback())
        st.session_state["tune-result"] = tuned
    tuned = st.session_state.get("tune-result")
    if tuned is not None:
        uncovered = int((~tuned.table["covered"]).sum())
        if uncovered:
            st.warning(f"{uncovered} combinations need scores never computed (deeper cut-offs reach new "
                       "candidates). Score them once to include them.")
            if st.button("Score them", key="tune-score"):
                missing = [tuned.specs[i] for i in range(len(tuned.specs)) if not tuned.table.loc[i, "covered"]]
                with st.status("Scoring the uncovered combinations...", expanded=True) as status:
                    cb = state.progress_callback(status)
                    for s in missing:
                        exp.ensure_scores(s, progress=cb)
                st.session_state["tune-result"] = grid_search(exp, tuned.specs, budget)
                st.rerun()
        chosen = (best_within_budget(tuned) if objective.startswith("best")
                  else cheapest_within_recall(tuned, 0.01))
        current = tuned.specs.index(spec) if spec in tuned.specs else None
        front = pareto_front(tuned.table["latency_ms"], tuned.table["ndcg@10"])
        st.plotly_chart(charts.pareto_figure(tuned.table, front, current, chosen, tuned.budget_ms), key="pareto")
        if chosen is None:
            st.error(f"No combination fits a {budget:.0f} ms budget: raise the budget or drop a stage.")
        else:
            best = tuned.spec_at(chosen)
            row = tuned.table.loc[chosen]
            st.success(f"Recommended: **{best.describe()}**: nDCG@10 {row['ndcg@10']:.3f}, recall@10 "
                       f"{row['recall@10']:.3f}, predicted {row['latency_ms']:.1f} ms per query.")
            if st.button("Apply the recommendation", key="tune-apply"):
                state.set_spec(best)
                st.rerun()
            st.session_state["tune-chosen"] = chosen

            st.subheader("Held-out check")
            c1, c2 = st.columns(2)
            k = c1.slider("Folds", 2, 10, 5, key="tune-folds")
            repeats = c2.slider("Repeats", 1, 5, 2, key="tune-repeats")
            h = holdout_validation(tuned, k=k, repeats=repeats)
            st.session_state["tune-holdout"] = h
            m = st.columns(3)
            m[0].metric("In-sample nDCG@10", f"{h.in_sample:.3f}")
            m[1].metric("Held-out nDCG@10", f"{h.held_out_mean:.3f} ± {h.held_out_std:.3f}")
            m[2].metric("Optimism (in-sample - held-out)", f"{h.optimism:+.3f}")
            st.dataframe(h.folds, hide_index=True, width="stretch", column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in ("train ndcg@10", "held-out ndcg@10")})
        with st.expander("Every combination"):
            st.dataframe(tuned.table.sort_values("latency_ms"), hide_index=True, width="stretch")

    st.subheader("Export")
    src = st.session_state[state.DATASET]
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Spec (YAML)", spec.to_yaml(), file_name="cascade.yaml", key="export-yaml")
    snippet = python_snippet(spec, src["path"], src["split"], state.budget_ms())
    c2.download_button("Python snippet", snippet, file_name="run_cascade.py", key="export-py")
    c3.download_button("TREC run files (zip)", trec_runs_zip(result.run), file_name="cascade-runs.zip",
                       key="export-trec")
    flow = flow_table(result.run, exp.relevance, corpus_size=len(exp.dataset.corpus))
    figures = [charts.candidate_funnel(flow), charts.relevant_sankey(flow), charts.latency_bars(result.latency),
               charts.recall_funnel({s.name: s.per_query["recall"] for s in result.evaluation.steps}),
               charts.recall_curves(curves, plateaus, dict(zip(spec.stage_names, spec.keeps)))]
    tables = {"Metrics per stage": result.evaluation.table()}
    if tuned is not None:
        figures.append(charts.pareto_figure(tuned.table, pareto_front(tuned.table["latency_ms"],
                                                                      tuned.table["ndcg@10"]),
                                            None, st.session_state.get("tune-chosen"), tuned.budget_ms))
        if "tune-holdout" in st.session_state:
            tables["Held-out validation"] = st.session_state["tune-holdout"].folds
    report = html_report(f"Cascade report: {spec.describe()}",
                         {"dataset": state.dataset_label(), "queries": str(len(exp.queries)),
                          "nDCG@10": f"{result.evaluation.final.means['ndcg@10']:.3f}",
                          "predicted latency": f"{result.latency.total_ms:.1f} ms per query"},
                         figures, tables, findings=None)
    c4.download_button("HTML report", report, file_name="cascade-report.html", mime="text/html",
                       key="export-html")
    with st.expander("The Python snippet"):
        st.code(snippet, language="python")
