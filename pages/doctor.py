"""Compare & doctor: does each stage pay for itself, and which known failure modes does the cascade show?

Every number comes from :mod:`cascade_core.analysis.compare` and :mod:`cascade_core.doctor`; this page
only lays them out. Specs with other scorers (the single pass, the cascade without a stage) run
in their own shared experiment (``state.experiment(spec)``), reusing every stored score.
"""

import streamlit as st

from cascade_core import doctor, formats
from cascade_core.analysis import compare
from cascade_core.analysis.lift import metric_label, points
from cascade_core.doctor.depth import MIN_DROP
from cascade_core.doctor.provenance import experiment_checks
from cascade_core.tuning import depth_curve, first_pass_only, phantom_depths
from cascade_draw import charts
from cascade_draw.tables import flag_worse
from cascade_ui import scoring_panel, state
from cascade_ui.text import literal
from cascade_ui.widgets import analysis_page, shown_errors

WIN_LOSS_METRICS = ("ndcg@10", "recall@10", "mrr@10")   # named as people write them: lift.metric_label


def score_button(label: str, key: str, specs) -> None:
    """Score what ``specs`` lack (once, stored): the pairs and estimated time shown first, a long job
    confirmed, a Cancel button while it runs; then show the page again."""
    estimate = compare.estimate_missing(state.experiment, specs)
    if scoring_panel.score_button(label, key, estimate,
                                  lambda progress: compare.score_missing(state.experiment, specs, progress=progress)):
        # Other experiments sharing these scorers reload lazily: when a simulation misses a score,
        # state.run_current calls ensure_scores, which reloads the stored matrix.
        st.rerun()


def single_pass_section(result, costs):
    st.subheader("The cascade against a single pass")
    cmp = compare.single_pass(result, costs, state.experiment)
    st.dataframe(cmp.table(), width="stretch", column_config={
        **{m: st.column_config.NumberColumn(format="%.3f") for m in compare.COMPARE_METRICS},
        "predicted ms": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"Single pass: **{literal(cmp.baseline.spec.describe())}**: the heaviest stage "
               f"({literal(cmp.heaviest)}, the costliest over the whole pool by its measured cost model) alone, "
               "scoring every pool candidate and ranking by its own score (replacing the first pass's order, not "
               "fused with it). Latency is predicted from the cost models; the last row is cascade / single pass.")
    if cmp.same_as_cascade:
        st.info("This cascade has one rerank stage over the whole pool, ranking by its own score: it *is* its own "
                "single pass. The first pass alone is the comparison that matters: see the lift table and the "
                "wins and losses below.")
    if cmp.baseline.result is None:
        st.warning(f"The single pass's quality needs scores not stored yet: {literal(cmp.baseline.missing)}")
        score_button("Score the single pass", "score-baseline", [cmp.baseline.spec])
    return cmp


def lift_section(result, costs):
    st.subheader("Does each stage pay for itself?")
    lift = compare.stage_lifts(result, state.experiment, cost_models=costs)
    table = lift.table()
    points = [c for c in table.columns if c.endswith("(points)")]
    shown = table[["verdict", *points, "ndcg@10 Wilcoxon p", "compared with"]]
    st.dataframe(flag_worse(shown, {**{c: "{:+.1f}" for c in points}, "ndcg@10 Wilcoxon p": "{:.2g}"}, points),
                 width="stretch")
    st.caption(f"Lift: the cascade's final metric minus the same cascade's without that stage, in points "
               f"(100 x the difference); Wilcoxon signed-rank p per query (nDCG@10). A stage pays for itself when it "
               f"lifts at least one metric by {lift.min_points:g} points and lowers neither nDCG@10 nor MRR@10 by "
               f"{compare.RANKING_DROP_POINTS:g} points or more.")
    for row in lift.rows:
        if row.pays is False:
            why = ("it lowers the ranking (nDCG@10 or MRR@10) although it costs latency" if row.lowers_ranking else
                   f"it lifts no metric by {lift.min_points:g} points: it costs latency for nothing")
            st.warning(f"**{literal(row.stage)}** does not pay for itself: {why}. See the doctor below for the fix.")
    if lift.missing:
        st.warning("Without some stage, the next one would see candidates it never scored: "
                   + literal("; ".join(s.describe() for s in lift.missing)))
        score_button("Score what the lift needs", "score-lift", lift.missing)
    return lift


def wins_section(result, cmp, lift):
    st.subheader("Per-query wins and losses")
    alone = first_pass_only(result.run.spec)
    options = {f"the first pass alone ({alone.describe()})": compare.outcome(state.experiment, alone, cmp.cascade.latency)}
    options[f"single pass ({cmp.baseline.spec.describe()})"] = cmp.baseline
    options.update({f"without {r.stage} ({r.without.spec.describe()})": r.without for r in lift.rows})
    short = dict(zip(options, ["first pass alone", "single pass"] + [f"without {r.stage}" for r in lift.rows]))
    labels = list(options)
    default = 0     # the comparison every cascade must win first
    c1, c2 = st.columns([3, 1])
    choice = c1.selectbox("Compare the cascade with", labels, index=default, key="wl-baseline")
    metric = c2.selectbox("Metric", list(WIN_LOSS_METRICS), format_func=metric_label, key="wl-metric")
    other = options[choice]
    if other.result is None:
        st.info("That spec's scores are not stored yet: score them above first.")
        return
    t = compare.wins_losses(result, other.result, metric)
    cols = st.columns(6)
    cols[0].metric("Wins", t.wins)
    cols[1].metric("Losses", t.losses)
    cols[2].metric("Ties", t.ties)
    pts = points(t.mean_diff, 0.0)
    verdict = "cascade better" if pts > 1e-9 else "cascade worse" if pts < -1e-9 else "no difference"
    cols[3].metric("Mean difference", formats.change(pts), delta=verdict, delta_color="normal" if pts > 1e-9 else
                   "inverse" if pts < -1e-9 else "off",
                   help="The cascade's mean minus the other's, in points (100 x the difference).")
    cols[4].metric("Wilcoxon p", formats.p_value(t.wilcoxon_p, prefix=False))
    cols[5].metric("Paired t-test p", formats.p_value(t.ttest_p, prefix=False))
    st.caption(f"Over {t.n} labeled queries: a win is a query where the cascade's {metric_label(metric)} is higher. "
               "p-values from scipy.stats.wilcoxon (signed-rank; ties left out) and scipy.stats.ttest_rel, two-sided. "
               + literal(" ".join(t.notes)))
    st.plotly_chart(charts.paired_differences(t.diffs, metric_label(metric), "cascade", short[choice]),
                    key="wl-chart")


def doctor_section(result, exp, costs):
    st.subheader("Cascade doctor")
    st.caption("Each check's criterion is stated in `cascade_core/doctor/` (one module per check). Flagged: a warning (or a note, where "
               "the stored scores show the fix would not pay); passed: green; not checked: what would tell.")
    for check in doctor.by_severity(doctor.run_checks(result.run, exp.relevance, costs, extra=experiment_checks(exp))):
        if check.finding is not None:
            f = check.finding
            note = "" if f.severity == "warning" else " (a note)"
            body = (f"**Flagged{note}: {literal(f.title)}**\n\n{literal(f.explanation)}\n\n**Fix:** {literal(f.fix)}"
                    "\n\n**Evidence:** "
                    + literal("; ".join(f"{k} = {doctor.format_evidence(v, k)}" for k, v in f.evidence.items())))
            (st.warning if f.severity == "warning" else st.info)(body)
        elif check.status == "ok":
            st.success(f"**{literal(check.title)}**: {literal(check.summary)}")
        else:
            st.info(f"**{literal(check.title)}** ({literal(check.status)}): {literal(check.summary)}")


def depth_section(result, exp):
    st.subheader("Depth against quality")
    curves, verdicts = {}, {}
    for i, stage in enumerate(result.run.spec.stages):
        curves[stage.name] = depth_curve(result.run, exp.relevance, i)
        verdicts[stage.name] = phantom_depths(curves[stage.name], tolerance=MIN_DROP - 1e-9)
    st.plotly_chart(charts.depth_quality(curves, verdicts), key="depth-chart")
    st.caption("Final nDCG@10 as each rerank stage is handed more candidates (everything else as set), simulated "
               "from stored scores; dashed: the share of judged-relevant documents that reach the stage. Red marks "
               "'phantom' depths: quality falls although more relevant documents arrive, because deeper candidates "
               "the stage wrongly prefers push them out (Drowning in Documents, arXiv 2411.11767). The doctor above "
               "flags the current depth when it is one of them.")


def distributions_section(result, exp):
    st.subheader("Score distributions per step")
    scale = st.radio("Scale", list(doctor.NORMALISATIONS), horizontal=True, key="dist-scale",
                     captions=list(doctor.NORMALISATIONS.values()))
    dists = doctor.score_distributions(result.run, exp.relevance, scale)
    st.plotly_chart(charts.score_distributions(dists, scale), key="dist-chart")
    st.dataframe(doctor.distribution_table(dists), width="stretch")
    st.caption("Each step's own scorer output over the candidates it ranks, split by judged relevance. Scales differ "
               "between scorers; this library never sums raw scores: norm-sum min-max normalises each list first, "
               "rrf uses ranks only.")


result, exp = analysis_page("Compare & doctor")
with shown_errors():
    costs = exp.cost_models()
    if result.evaluation is None:
        st.info("This dataset has no relevance judgments: quality comparisons need them. Latency and score-scale "
                "checks follow.")
    elif not result.run.spec.stages:
        st.info("This cascade has no rerank stage: there is nothing to compare. Add one on **Build**.")
    else:
        cmp = single_pass_section(result, costs)
        lift = lift_section(result, costs)
        wins_section(result, cmp, lift)
    doctor_section(result, exp, costs)
    if result.evaluation is not None and result.run.spec.stages:
        depth_section(result, exp)
    if result.evaluation is not None:
        distributions_section(result, exp)
