"""Every chart the dashboard and the HTML report draw, built from a small simulated cascade and
checked for the craft errors once seen in screenshots (cascade_draw.figure_check): float counts,
legends that miss or mislead, unreadable log axes, labels outside the plot, overlapping labels,
axis titles without room."""

import numpy as np
import plotly.graph_objects as go
import pytest

from cascade_core import doctor
from cascade_core.analysis.compare import paired_test
from cascade_core.analysis.evaluation import Relevance, evaluate_run
from cascade_core.analysis.explain import lost_by_stage
from cascade_core.analysis.flow import flow_table
from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
from cascade_core.cascade.live import LiveStep
from cascade_core.latency.model import CostModel, predict_spec_latency
from cascade_core.tuning import depth_curve, grid_search, pareto_front, phantom_depths, recall_curves, tuning_grid
from cascade_draw import charts
from cascade_draw.figure_check import craft_problems

Q, N = 12, 60


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    docs = np.tile(np.arange(N), (Q, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))
    stage = rng.random((Q, N))
    grades = np.zeros((Q, N))
    for q in range(Q):
        rel = rng.choice(N, size=2, replace=False)
        grades[q, rel] = 1
        stage[q, rel[0]] += 0.5
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], docs, first, [stage])
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 40, "final_k": 10, "stages": [
        {"name": "bi-encoder", "scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 20,
         "combine": "norm-sum"}]})
    run = simulate(spec, m)
    costs = [CostModel("fp", 7.0, 0.0, 50), CostModel("bi", 5.0, 0.4, 50)]
    return spec, m, rel, run, costs


def figures(case):
    spec, m, rel, run, costs = case
    ev = evaluate_run(run, None, ("ndcg@10", "mrr@10", "recall@10"), rel)
    flow = flow_table(run, rel, corpus_size=1813, final=True)
    latency = predict_spec_latency(spec, m.lengths, costs, budget_ms=15.0)
    curves, plateaus = recall_curves(run, rel)
    exp = type("Exp", (), {"snapshot": lambda self: (m, rel), "cost_models": lambda self: costs})()
    tuned = grid_search(exp, tuning_grid(spec, values=3), 30.0)
    front = pareto_front(tuned.table["latency_ms"].to_numpy(), tuned.table["ndcg@10"].to_numpy())
    chosen = int(tuned.table["ndcg@10"].idxmax())
    depth = depth_curve(run, rel, 0)
    funnel = ev.funnel_steps()
    diffs = paired_test(ev.final.per_query["ndcg@10"], ev.steps[0].per_query["ndcg@10"]).diffs
    live = [LiveStep("first pass", [], np.zeros(0), 40, 6.5), LiveStep("bi-encoder", [], np.zeros(0), 40, 21.0)]
    return {
        "candidate funnel": charts.candidate_funnel(flow),
        "relevant sankey": charts.relevant_sankey(flow),
        "latency bars": charts.latency_bars(latency),
        "latency bars, measured beside": charts.latency_bars(latency, {"first pass": 6.0, "bi-encoder": 20.0}),
        "recall funnel": charts.recall_funnel({s.name: s.per_query["recall"] for s in funnel},
                                              [s.recall for s in funnel]),
        "recall curves": charts.recall_curves(curves, plateaus, dict(zip(spec.stage_names, spec.keeps))),
        "live latency": charts.live_latency(live, {"first pass": 7.0, "bi-encoder": 13.0}),
        "pareto": charts.pareto_figure(tuned.table, front, tuned.specs.index(spec), chosen, tuned.budget_ms),
        "lost by stage": charts.lost_by_stage_bars(lost_by_stage(run, rel).by_stage),
        "score distributions": charts.score_distributions(doctor.score_distributions(run, rel)),
        "paired differences": charts.paired_differences(diffs, "nDCG@10", "cascade", "first pass alone"),
        "depth against quality": charts.depth_quality({"bi-encoder": depth},
                                                      {"bi-encoder": phantom_depths(depth, 0.01)}),
    }


def test_every_chart_is_free_of_the_known_craft_errors(case):
    problems = {name: craft_problems(fig) for name, fig in figures(case).items()}
    assert {name: p for name, p in problems.items() if p} == {}


def test_the_checker_finds_each_known_error():
    bad = go.Figure([go.Bar(x=["a", "b"], y=[1, 2], text=["1813.0", "kept 294.0"], name="counts",
                            marker_color=["red", "blue"], showlegend=True), go.Scatter(x=[1], y=[1])])
    bad.update_xaxes(type="log", title="k")
    bad.add_shape(type="line", x0=100, x1=100, y0=0, y1=1)
    bad.add_annotation(x=0.5, y=1.1, xref="paper", yref="paper", text="a", showarrow=False)
    bad.add_annotation(x=0.51, y=1.11, xref="paper", yref="paper", text="b", showarrow=False)
    bad.add_annotation(x=1.6, y=0.5, xref="paper", yref="paper", text="far", showarrow=False)
    found = " | ".join(craft_problems(bad))
    for expected in ("a count shown as a float: 1813.0", "kept 294.0", "bars of several colours",
                     "in the legend without a name", "log axis without explicit ticks", "without automargin",
                     "vertical line shape on a log x axis", "overlap", "outside the figure"):
        assert expected in found, expected
