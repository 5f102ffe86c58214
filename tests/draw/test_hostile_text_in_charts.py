"""Issue 24 in the charts: Plotly draws a subset of HTML in every text of a figure (``<a href>`` is a
link, ``<b>``, ``<br>``, ``<span style>`` are honoured) and fills in ``%{...}`` in hovertemplates.
Every chart of cascade_draw, built from stage, spec, query, document and experiment names that are
a hostile tester's, must carry them escaped (cascade_draw.text.plain): no tag but the chart's own,
each name present as Plotly will show it, and category axes that still line up.

Checked on the figures' JSON here; tests/browser/test_hostile_text_in_plotly.py checks what
Chromium draws from it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cascade_core import doctor
from cascade_core.analysis.compare import paired_test
from cascade_core.analysis.evaluation import Relevance, evaluate_run
from cascade_core.analysis.explain import lost_by_stage
from cascade_core.analysis.flow import flow_table, kept_count_summary
from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
from cascade_core.cascade.live import LiveStep
from cascade_core.cascade.simulate import kept_counts
from cascade_core.latency.model import CostModel, predict_spec_latency
from cascade_core.present import StageBox
from cascade_core.tuning import depth_curve, grid_search, pareto_front, phantom_depths, recall_curves, tuning_grid
from cascade_draw import charts
from cascade_draw.text import plain
from tests.hostile import HOSTILE

LINK = '<a href="https://evil.example/x">go</a>'
# Two stage names that differ only where escaping acts (escaped, they must stay two names), with a
# placeholder no chart writes itself (in a hovertemplate, Plotly would fill it in).
STAGE_A = f"{LINK} <b>bold</b> %{{meta}} &lt;"
STAGE_B = f"{LINK} <b>bold</b> %{{meta}} <"
SPEC_NAME = "</script><script>alert(1)</script> line<br>break"
# Ids and names of the rest: HTML a chart would honour, a hovertemplate placeholder, a reference,
# and tests/hostile.py's Markdown (harmless to Plotly, but it must reach the chart as typed).
NAMES = [LINK, "<b>bold</b>", "line<br>break", "pct %{x} here", "x &lt; y", "</script>",
         '<span style="color:red">red</span>', "<img src=http://evil.example/p.png>", *HOSTILE]
# Every tag a chart writes itself; any other tag in a figure came from the data.
OWN_TAG = re.compile(r"</?(b|br|extra)>|<span style='color:#[0-9A-Fa-f]{6}'>|</span>")
SOURCE = "user-set: <b>my GPU</b> %{x}"
Q, N = 12, 60
COVERED = {"candidate_funnel", "relevant_sankey", "latency_bars", "recall_funnel", "recall_curves", "live_latency",
           "pareto_figure", "lost_by_stage_bars", "score_distributions", "paired_differences", "depth_quality",
           "kept_count_histogram", "experiments_scatter", "wins_losses_bars", "cascade_diagram"}


def qid(i: int) -> str:
    return f"{NAMES[i % len(NAMES)]} q{i}"


def hostile_case():
    """A small simulated cascade (two stages, the second query-adaptive) whose names are all hostile."""
    rng = np.random.default_rng(0)
    docs = np.tile(np.arange(N), (Q, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))
    stages = [rng.random((Q, N)), rng.random((Q, N))]
    grades = np.zeros((Q, N))
    for q in range(Q):
        rel = rng.choice(N, size=2, replace=False)
        grades[q, rel] = 1
        stages[0][q, rel[0]] += 0.5
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([qid(i) for i in range(Q)], [f"{NAMES[j % len(NAMES)]} d{j}" for j in range(N)], docs, first,
                    stages)
    spec = CascadeSpec.from_dict({"name": SPEC_NAME, "first_pass": {"kind": "bm25"}, "pool_size": 40, "final_k": 5,
                                  "stages": [
        {"name": STAGE_A, "scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 20, "combine": "norm-sum"},
        {"name": STAGE_B, "scorer": {"kind": "bi-encoder", "model": "n"}, "keep": {"drop": 0.2, "min": 5, "max": 10}}]})
    run = simulate(spec, m)
    costs = [CostModel("fp", 7.0, 0.0, 50), CostModel("a", 5.0, 0.4, 50), CostModel("b", 1.0, 0.9, 50)]
    return spec, m, rel, run, costs


def figures(case) -> dict:
    """Every chart function of cascade_draw.charts, on :func:`hostile_case`."""
    spec, m, rel, run, costs = case
    ev = evaluate_run(run, None, ("ndcg@10", "mrr@10", "recall@10"), rel)
    flow = flow_table(run, rel, corpus_size=1813, final=True)
    latency = predict_spec_latency(spec, m.lengths, costs, budget_ms=15.0, counts=kept_counts(run))
    # The library words a step's source itself today; the chart escapes it all the same.
    latency = replace(latency, stages=[replace(latency.stages[0], source=SOURCE), *latency.stages[1:]])
    curves, plateaus = recall_curves(run, rel)
    exp = type("Exp", (), {"snapshot": lambda self: (m, rel), "cost_models": lambda self: costs})()
    tuned = grid_search(exp, tuning_grid(spec, values=2), 30.0)
    front = pareto_front(tuned.table["latency_ms"].to_numpy(), tuned.table["ndcg@10"].to_numpy())
    funnel = ev.funnel_steps()
    diffs = paired_test(ev.final.per_query["ndcg@10"], ev.steps[0].per_query["ndcg@10"]).diffs
    diffs.index = [qid(i) for i in range(len(diffs))]
    depth = depth_curve(run, rel, 0)
    live = [LiveStep(name, [], np.zeros(0), 40, 6.5 + i) for i, name in enumerate(spec.stage_names)]
    experiments = pd.DataFrame({"cascade": [spec.describe(), "bm25", f"{LINK} cascade"],
                                "predicted ms": [5.0, 9.0, 12.0], "predicted p95 ms": [7.0, 11.0, 15.0],
                                "ndcg@10": [0.4, 0.5, 0.45], "wins": [0, 7, 3], "ties": [0, 1, 2], "losses": [0, 4, 7],
                                "Holm p": [float("nan"), 0.03, 0.4]}, index=[NAMES[1], NAMES[3], NAMES[6]])
    return {
        "candidate funnel": charts.candidate_funnel(flow),
        "relevant sankey": charts.relevant_sankey(flow),
        "latency bars": charts.latency_bars(latency, {"first pass": 6.0, STAGE_A: 20.0}),
        "recall funnel": charts.recall_funnel({s.name: s.per_query["recall"] for s in funnel},
                                              [s.recall for s in funnel]),
        "recall curves": charts.recall_curves(curves, plateaus, dict(zip(spec.stage_names, spec.keeps))),
        "live latency": charts.live_latency(live, {"first pass": 7.0, STAGE_A: 13.0, STAGE_B: 2.0}),
        "pareto": charts.pareto_figure(tuned.table, front, tuned.specs.index(spec) if spec in tuned.specs else None,
                                       int(tuned.table["ndcg@10"].idxmax()), tuned.budget_ms),
        "lost by stage": charts.lost_by_stage_bars(lost_by_stage(run, rel).by_stage),
        "score distributions": charts.score_distributions(doctor.score_distributions(run, rel), scale=NAMES[2]),
        "paired differences": charts.paired_differences(diffs, NAMES[3], SPEC_NAME, LINK),
        "depth against quality": charts.depth_quality({STAGE_A: depth}, {STAGE_A: phantom_depths(depth, 0.01)}),
        "kept counts": charts.kept_count_histogram(kept_counts(run), kept_count_summary(run)),
        "experiments": charts.experiments_scatter(experiments, NAMES[1]),
        "wins and losses": charts.wins_losses_bars(experiments, NAMES[1], NAMES[0]),
        "cascade diagram": charts.cascade_diagram(
            [StageBox(NAMES[0], NAMES[1], NAMES[2], "1,000", "fused"), StageBox("stage 1", NAMES[4], LINK, "20", "")],
            10),
    }


def strings(value) -> list[str]:
    """Every string in a figure's JSON: titles, axis titles, ticktext, trace names, category values,
    text, hovertext, hovertemplates, customdata, annotations, legend group titles."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        return [s for v in value for s in strings(v)]
    return []


def test_every_chart_function_is_covered():
    """A new chart function must join figures() above (and escape its names)."""
    defined = {name for name, f in vars(charts).items() if callable(f) and not name.startswith("_")
               and getattr(f, "__module__", "") == charts.__name__}
    assert defined - {"step_color", "row_color"} == COVERED


@pytest.fixture(scope="module")
def drawn():
    return {name: fig.to_plotly_json() for name, fig in figures(hostile_case()).items()}


def test_no_tag_from_the_data_reaches_a_figure(drawn):
    for name, fig in drawn.items():
        texts = strings(fig["data"]) + strings({k: v for k, v in fig["layout"].items() if k != "template"})
        tags = {t for text in texts for t in re.findall(r"<[^<>]*>?", OWN_TAG.sub("", text))}
        assert tags == set(), (name, tags)
        for raw in NAMES + [STAGE_A, STAGE_B, SPEC_NAME, SOURCE]:
            if plain(raw) != raw:
                assert not [t for t in texts if raw in t], (name, raw)


def test_hovertemplates_fill_in_only_their_own_placeholders(drawn):
    seen = 0
    for name, fig in drawn.items():
        for trace in fig["data"]:
            for template in strings([trace.get("hovertemplate"), (trace.get("node") or {}).get("hovertemplate")]):
                fields = set(re.findall(r"%\{([^}:]*)", template))
                assert fields <= {"x", "y", "text", "customdata"}, (name, template)
                seen += plain(STAGE_A) in template
    assert seen >= 4    # the stage's name is in hovertemplates (escaped), so the check above saw it


def test_the_names_reach_the_charts_escaped(drawn):
    """Not a vacuous pass: each chart shows its names, as plain() writes them (Plotly decodes them)."""
    def shown(name):
        fig = drawn[name]
        return "\n".join(strings(fig["data"]) + strings({k: v for k, v in fig["layout"].items() if k != "template"}))

    for name in ("candidate funnel", "relevant sankey", "latency bars", "recall funnel", "recall curves",
                 "live latency", "lost by stage", "score distributions", "kept counts"):
        steps = [STAGE_B] if name == "kept counts" else [STAGE_A, STAGE_B]
        for stage in steps:
            assert plain(stage) in shown(name), (name, stage)
    assert "user-set: &lt;b&gt;my GPU&lt;/b&gt; &#37;{x}" in shown("latency bars")   # plain(SOURCE)
    assert plain(NAMES[2]) in shown("score distributions")
    paired = shown("paired differences")
    assert plain(SPEC_NAME) in paired and plain(LINK) in paired and plain(qid(0)) in paired
    assert plain(f"combine {STAGE_B}") in shown("pareto")
    for experiment in (NAMES[3], NAMES[6]):
        assert plain(experiment) in shown("experiments") and plain(experiment) in shown("wins and losses")
    assert plain(LINK + " cascade") in shown("experiments")


def test_escaped_categories_stay_distinct_and_every_trace_lines_up(drawn):
    def axis_values(trace, axis):
        return [v for v in trace.get(axis, []) if isinstance(v, str)]

    for name, axis in (("recall funnel", "x"), ("live latency", "x"), ("lost by stage", "x"),
                       ("wins and losses", "y"), ("candidate funnel", "y")):
        traces = drawn[name]["data"]
        first = axis_values(traces[0], axis)
        assert plain(STAGE_A) in first or name == "wins and losses", (name, first)
        assert len(set(first)) == len(first), (name, first)     # STAGE_A and STAGE_B: still two
        for trace in traces[1:]:
            assert axis_values(trace, axis) == first, name
    # times looked up by the names as given, drawn under the escaped ones
    assert list(drawn["live latency"]["data"][1]["y"]) == [7.0, 13.0, 2.0]
    (bar,) = [t for t in drawn["latency bars"]["data"] if t["name"].startswith(plain(STAGE_A))]
    assert list(bar["x"])[1] == 20.0
