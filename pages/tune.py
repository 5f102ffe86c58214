"""Tune: where each cut-off should be, a budget tuner with its Pareto frontier, held-out checks, exports.

Every number comes from :mod:`cascade_core.tuning` (and the doctor, for the report); this page
only lays them out. A tuning result belongs to the dataset and the cascade's scorers it was
computed for: it is ignored as soon as either changes, so the chart and "Apply" never show or put
back another cascade's cut-offs (or scorers, or another corpus's).
"""

import json
from dataclasses import replace

import pandas as pd
import streamlit as st

from cascade_core.analysis.lift import points
from cascade_core.analysis.report import report_summary
from cascade_core.errors import CascadeError
from cascade_core.export.qdrant import QueryVectors
from cascade_core.export.qdrant import plan as qdrant_plan
from cascade_core.export.qdrant import python_code as qdrant_python
from cascade_core.export.snippets import python_snippet, trec_runs_zip
from cascade_core.fusion import registered_fusions, tuning_candidates
from cascade_core.tuning import (OBJECTIVES, best_within_budget, closest_over_budget, cutoffs_and_plateaus,
                                 grid_search, holdout_validation, pareto_front, recall_curves, tuning_grid)
from cascade_draw import charts
from cascade_draw.report import cascade_report
from cascade_ui import latency_panel, scoring_panel, state
from cascade_ui.demo import DEMO_MAX_POOL
from cascade_ui.memo import remembered
from cascade_ui.text import code, literal
from cascade_ui.widgets import analysis_page, shown_errors

APPLIED = "tune-applied"
TUNED = "tune-result"   # {"context": tune_context(spec), "result": GridResult}
# The deepest pool the sidebar and Build sliders offer (and the demo scores to): tuning deeper
# would recommend a pool no slider can show.
MAX_POOL = DEMO_MAX_POOL
DROP_CHOICES = [0.05, 0.1, 0.2, 0.3, 0.5]   # relative drops the tuner may try (normalised scale)


def tune_context(spec, grid_settings=None) -> str:
    """What a tuning result belongs to: the dataset (with its files' stamp, so a re-upload counts)
    and the cascade's scorers (``state.experiment_key``) and final k (nDCG@10 of a shorter final
    list differs); and the grid it searched (values per cut-off, largest pool, ways of combining),
    so changing those asks for a new run instead of showing the old grid. Cut-offs and how the
    stages combine are left out: choosing them is what tuning does, and every combination was
    simulated from the same stored scores.
    """
    src = {k: v for k, v in (st.session_state.get(state.DATASET) or {}).items() if k != "label"}
    # The cost profiles too: the grid's predicted latencies were priced with them.
    costs = spec.to_dict().get("costs")
    return json.dumps([src, state.experiment_key(spec), spec.final_k, grid_settings, costs], sort_keys=True,
                      default=str)


def remember(spec, tuned, grid_settings) -> None:
    st.session_state[TUNED] = {"context": tune_context(spec, grid_settings), "result": tuned}


def stored_result(spec, grid_settings):
    """This session's tuning result if it belongs to the current dataset, cascade and grid, else
    None (a stale one is ignored, and the user told why there is no chart; going back to the
    settings it was tuned for shows it again)."""
    stored = st.session_state.get(TUNED)
    if stored is None:
        return None
    if not isinstance(stored, dict) or stored.get("context") != tune_context(spec, grid_settings):
        st.info("The dataset, the cascade's scorers or the grid settings changed since the last tuning: "
                "press **Tune** again.")
        return None
    return stored["result"]


def plateau_section(result, exp):
    st.subheader("Where recall stops rising")
    curves, plateaus = recall_curves(result.run, exp.relevance)
    st.dataframe(cutoffs_and_plateaus(result.run, exp.relevance, curves, plateaus), width="stretch", column_config={
        "recall at it": st.column_config.NumberColumn(format="%.3f"),
        "recall at plateau": st.column_config.NumberColumn(format="%.3f"),
        "points below plateau": st.column_config.NumberColumn(format="%.1f")})
    st.caption("Plateau: the smallest k whose recall@k is within half a point of the step's best, over the "
               "candidates the step receives (so it depends on the cut-offs before it).")
    return curves, plateaus


def score_uncovered(exp, spec, tuned, grid_settings) -> None:
    """Offer to score the combinations whose pairs were never scored, then tune them again."""
    uncovered = int((~tuned.table["covered"]).sum())
    if not uncovered:
        return
    st.warning(f"{uncovered} combinations need scores never computed (deeper cut-offs reach new "
               "candidates). Score them once to include them.")
    missing = [tuned.specs[i] for i in range(len(tuned.specs)) if not tuned.table.loc[i, "covered"]]
    # The estimate of the widest uncovered combination: what the others need, it needs too (about).
    staged = [s for s in missing if s.stages]
    widest = staged[0].with_keeps(pool_size=max(s.pool_size for s in missing),
                                  keeps=[max(s.stages[i].keep for s in staged)
                                         for i in range(len(staged[0].stages))]) if staged else missing[0]
    if scoring_panel.score_button("Score them", "tune-score", exp.estimate(widest),
                                  lambda progress: [exp.ensure_scores(s, progress=progress) for s in missing]):
        remember(spec, grid_search(exp, tuned.specs, tuned.budget_ms), grid_settings)
        st.rerun()


def holdout_section(stored, tuned, rule, objective):
    st.subheader("Held-out check")
    c1, c2 = st.columns(2)
    k = c1.slider("Folds", 2, 10, 5, key="tune-folds")
    repeats = c2.slider("Repeats", 1, 5, 2, key="tune-repeats")
    # The folds depend on the tuning and the budget, not on the cut-offs in use: a slider move
    # does not run them again.
    h = remembered("tune-holdout", (tuned.budget_ms, k, repeats, objective), stored,
                   lambda: holdout_validation(tuned, k=k, repeats=repeats, rule=rule))
    m = st.columns(4)
    m[0].metric("In-sample nDCG@10", f"{h.in_sample:.3f}")
    m[1].metric("Held-out nDCG@10", f"{h.held_out_mean:.3f} ± {h.held_out_std:.3f}")
    m[2].metric("Optimism (in-sample - held-out)", f"{h.optimism:+.3f}")
    fp = h.held_out_first_pass
    if fp == fp:
        gain = points(h.held_out_mean, fp)
        m[3].metric("First pass alone, held out", f"{fp:.3f}", delta=f"{gain:+.1f} pts for the tuned choice",
                    delta_color="normal", help="The first pass alone on the same held-out queries: what tuning must "
                                               "beat out of sample.")
    st.dataframe(h.folds, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in h.folds.columns if c.endswith("@10")})
    st.caption(f"Each fold chooses by the same objective as above (*{objective}*) on its training queries "
               "only, then is measured on the queries it never saw.")
    return h


def tuner_section(exp, spec, result):
    """The budget tuner. Returns what the report needs: (result, front, current, chosen, holdout,
    objective), or None before the first tuning of this cascade. ``result``: the cascade in use,
    simulated (its latency is priced as every combination's)."""
    st.subheader("Budget tuner")
    c1, c2, c3 = st.columns(3)
    # One budget for the whole app: the sidebar's (Flow and Evaluate judge against it too).
    budget = state.budget_ms()
    c1.metric("Budget (ms per query)", f"{budget:g}", help="The sidebar's latency budget, shared by every page")
    values = c2.slider("Values tried per cut-off", 3, 8, 5, key="tune-values")
    default_pool = min(max(spec.pool_size, exp.matrix.retrieved_depth or 0), MAX_POOL)
    max_pool = c3.number_input("Largest pool to try", spec.final_k, MAX_POOL, default_pool, key="tune-max-pool")
    by_label = {f.label: f for f in tuning_candidates()}
    ways = st.multiselect("How each stage may meet the earlier scores", list(by_label), default=list(by_label),
                          key="tune-fusions",
                          help="; ".join(f"{n}: {c.help}" for n, c in registered_fusions().items())
                               + ". Leave all out to keep each stage's own combination.")
    drops = st.multiselect("Also try a per-query cut-off at each stage: keep the candidates within D of the "
                           "query's top score", DROP_CHOICES, default=[], key="tune-drops",
                           help="On the stage's score min-max normalised per query (top 1, bottom 0), at least "
                                "final k and at most the stage's keep; one stage at a time. Each query keeps its "
                                "own count, and latency is priced from those counts.")
    objective = st.radio("Objective", list(OBJECTIVES), key="tune-objective", horizontal=True)
    rule = OBJECTIVES[objective]
    if rule is not best_within_budget:   # the one objective the budget constrains
        st.caption("This objective ignores the budget: it looks for the cheapest cut-offs that keep recall.")
    grid_settings = [int(values), int(max_pool), list(ways), list(drops)]
    fusions = tuple(by_label[w] for w in ways) or None
    grid = tuning_grid(spec, values=values, max_pool=int(max_pool), fusions=fusions, drops=tuple(drops))
    how = f"{len(ways)} way(s) of combining per stage" if ways else "each stage's own combination"
    st.caption(f"{len(grid)} combinations (cut-offs x {how}, and the first pass alone), each simulated from "
               "stored scores.")
    if st.button("Tune", type="primary", key="tune-run"):
        bar = st.empty()   # the progress bar goes once the grid is simulated
        remember(spec, grid_search(exp, grid, budget, progress=state.progress_callback(bar)), grid_settings)
        bar.empty()
    stored = stored_result(spec, grid_settings)
    if stored is None:
        return None
    score_uncovered(exp, spec, stored, grid_settings)
    # The budget box judges the stored combinations directly (a budget only says which predicted
    # latencies fit): the chart, the choice and the messages all use this one budget.
    tuned = stored.with_budget(budget)
    chosen = rule(tuned)
    current = tuned.specs.index(spec) if spec in tuned.specs else None
    front = pareto_front(tuned.table["latency_ms"], tuned.table["ndcg@10"])
    # The same chart while only the current cascade's mark could move, and that mark stays put
    st.plotly_chart(remembered("tune-pareto", (tuned.budget_ms, current, chosen, tuple(front)), stored,
                               lambda: charts.pareto_figure(tuned.table, front, current, chosen, tuned.budget_ms)),
                    key="pareto")
    # Every figure of the grid is priced by the same step models: say where they come from, and
    # what the tool distrusts about them, before any verdict against the budget.
    lat = result.latency   # the cascade in use, priced with this budget
    st.caption(f"Predicted latency per step: {latency_panel.sources_caption(lat)}.")
    latency_panel.latency_note(lat)
    h = None
    if chosen is None and not tuned.table["covered"].any():
        st.error("None of the combinations has stored scores: score them above.")
    elif chosen is None:
        st.error(f"No combination fits a {tuned.budget_ms:.0f} ms budget, not even the first pass alone. The "
                 "closest (the cheapest on the Pareto frontier) and how far over each is:")
        closest = closest_over_budget(tuned)
        st.dataframe(pd.DataFrame({
            "combination": [tuned.spec_at(i).describe() for i in closest.index],
            "nDCG@10": closest["ndcg@10"], "predicted ms": closest["latency_ms"], "over by ms": closest["over_ms"]}),
            hide_index=True, width="stretch", column_config={
                "nDCG@10": st.column_config.NumberColumn(format="%.3f"),
                "predicted ms": st.column_config.NumberColumn(format="%.1f"),
                "over by ms": st.column_config.NumberColumn(format="%.1f")})
        st.caption("Raise the budget (sidebar), or make the first pass cheaper: predicted costs come from timings on "
                   "this machine, so a busy machine predicts more.")
    else:
        best = tuned.spec_at(chosen)
        row = tuned.table.loc[chosen]
        context = []
        if current is not None and tuned.specs[current] != best and bool(tuned.table.loc[current, "covered"]):
            now = tuned.table.loc[current, "ndcg@10"]
            context.append(f"the current cascade {now:.3f}, so {points(row['ndcg@10'], now):+.1f} points")
        first = tuned.table[tuned.table["first_pass_only"]]
        if len(first) and best.stages:
            fp = first.iloc[0]
            context.append(f"the first pass alone {fp['ndcg@10']:.3f} at {fp['latency_ms']:.1f} ms")
        said = (f"Recommended: **{literal(best.describe())}**: nDCG@10 {row['ndcg@10']:.3f}, recall@10 "
                f"{row['recall@10']:.3f}, predicted {row['latency_ms']:.1f} ms per query"
                + (f" (against {'; '.join(context)})" if context else "")
                + ". Chosen on these queries (in-sample): the held-out check below says how much of it holds.")
        if not best.stages:
            said += (" Within this budget and grid the first pass alone is the best choice: no combination with a "
                     "stage both fits the budget and ranks better.")
        if row["latency_ms"] > tuned.budget_ms:   # only an objective that ignores the budget gets here
            st.warning(said + f" That is over the {tuned.budget_ms:g} ms budget: this objective ignores it.")
        else:
            st.success(said)
        if replace(best, name=spec.name) == spec:   # applied (or already the cascade in use): no button
            applied = st.session_state.pop(APPLIED, None)
            (st.success if applied else st.caption)(
                (f"Applied: **{literal(applied)}**. " if applied else "") + "This is the cascade in use now: every "
                "page shows it.")
        elif st.button("Apply the recommendation", key="tune-apply"):
            # Cut-offs and combinations; the scorers are the current cascade's (the context guarantees
            # it), or none when the first pass alone won. Renamed after what it now is: a preset's name
            # spells its cut-offs ("demo: BM25 -> 100 -> ..."), which the tuner just changed.
            state.set_spec(replace(best, name=f"tuned: {best.describe()}"))
            st.session_state[APPLIED] = best.describe()   # said once, after the rerun
            st.rerun()
        h = holdout_section(stored, tuned, rule, objective)
    with st.expander("Every combination"):
        st.dataframe(tuned.table.sort_values("latency_ms"), hide_index=True, width="stretch", column_config={
            "first_pass_only": st.column_config.CheckboxColumn("first pass alone"),
            "pool_size": st.column_config.NumberColumn("pool size"),
            "final_k": st.column_config.NumberColumn("final k"),
            "ndcg@10": st.column_config.NumberColumn("nDCG@10", format="%.3f"),
            "recall@10": st.column_config.NumberColumn(format="%.3f"),
            "latency_ms": st.column_config.NumberColumn("predicted latency", format="%.1f ms"),
            "covered": st.column_config.CheckboxColumn("scores stored"),
            "within_budget": st.column_config.CheckboxColumn("within budget")})
    return tuned, front, current, chosen, h, objective


def export_section(result, exp, spec, curves, plateaus, tuning):
    st.subheader("Export")
    src = st.session_state[state.DATASET]
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Spec (YAML)", spec.to_yaml(), file_name="cascade.yaml", key="export-yaml")
    snippet = python_snippet(spec, src["path"], src["split"], state.budget_ms())
    c2.download_button("Python snippet", snippet, file_name="run_cascade.py", key="export-py")
    # The run files and the report are built on click, not on every rerun: a slider move stays fast.
    run = result.run
    c3.download_button("TREC run files (zip)", lambda: trec_runs_zip(run), file_name="cascade-runs.zip",
                       mime="application/zip", key="export-trec")
    summary = report_summary(result, exp, state.dataset_label(), tuning)
    c4.download_button("HTML report", lambda: cascade_report(result, exp, summary, tuning),
                       file_name="cascade-report.html", mime="text/html", key="export-html")
    with st.expander("The Python snippet"):
        st.code(snippet, language="python")
    qdrant_export(spec, exp, src)


def qdrant_export(spec, exp, src) -> None:
    """The first pass as a Qdrant Query API request (what a Qdrant user deploys), or why not."""
    with st.expander("Deploy the first pass in Qdrant (Query API)"):
        try:
            p = qdrant_plan(spec)
        except CascadeError as exc:
            st.info(f"Not as one Qdrant request: {literal(exc)}")
            return
        collection = exp.dataset.name
        body = p.to_json(collection)
        for key, _, data in QueryVectors(p, exp.dataset.corpus, state.workspace()).attachments():
            body[key] = data   # one file to download: BM25's vocabulary inside
        (st.info if p.exact else st.warning)(
            ("Qdrant returns exactly the simulated first pass with this request (tested on the embedded "
             "engine)." if p.exact else "Approximate: Qdrant has no exact equivalent of this first pass.")
            + " Then, in the application: " + literal("; ".join(p.app_steps)) + ".")
        for note in p.notes:
            st.caption(f"Note: {literal(note)}")
        c1, c2 = st.columns(2)
        c1.download_button("Query API request (JSON)", json.dumps(body, indent=2), file_name="first-pass.json",
                           mime="application/json", key="export-qdrant-json")
        client_code = qdrant_python(p, collection)
        c2.download_button("qdrant-client code", client_code, file_name="first_pass.py", key="export-qdrant-py")
        st.code(json.dumps(p.request, indent=2), language="json")
        st.caption(", ".join(code(f"<{name}>") for name in p.vectors) + " stand" + ("s" if len(p.vectors) == 1 else "")
                   + " for the query's vectors. How each vector is made, for the documents (the collection's "
                   "points) and for a query:")
        st.json({"points": body["points"], "query vectors": body["query_vectors"]}, expanded=False)
        st.caption("The downloaded JSON carries the collection's settings and, for BM25, the vocabulary with each "
                   "term's idf; the qdrant-client code has the functions that make BM25's sparse vectors. The CLI "
                   "writes the same and checks it on an embedded engine: "
                   + code(f"cascade export --qdrant first-pass.json --dataset {src['path']} --config cascade.yaml "
                          "--check 20") + ".")


result, exp = analysis_page("Tune")
with shown_errors():
    spec = result.run.spec
    if exp.relevance is None:
        st.info("Tuning needs relevance judgments; this dataset has none. Judge some documents on the "
                "**Judge** page: they count here at once.")
        st.stop()
    curves, plateaus = plateau_section(result, exp)
    tuning = tuner_section(exp, spec, result)
    export_section(result, exp, spec, curves, plateaus, tuning)
