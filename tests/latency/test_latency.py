"""Cost models with profiles, spread, recency, the busy-CPU flag and the predicted tail, on
constructed cost records (timing real calls in a test would be flaky: speed is reported, not asserted)."""

import numpy as np
import pytest

from cascade_core.analysis.compare import heaviest_stage
from cascade_core.cascade import CascadeSpec
from cascade_core.errors import SpecError
from cascade_core.latency.model import (CostModel, apply_profile, apply_profiles, predict_latency,
                                        predict_spec_latency, tail_comparison)
from cascade_core.latency.profiles import CostProfile
from cascade_core.latency.timing import cores
from cascade_core.tuning import best_within_budget, grid_search
from cascade_draw import charts

from tests.tuning.test_search import constructed

MEASURED = [CostModel("fp", 1.0, 0.0, 30), CostModel("st", 0.0, 1.0, 30)]


def rows(sizes, seconds, stamp, waited=float("nan"), load=float("nan")):
    """Cost rows as the store gives them: (n_pairs, n_chars, wall s, recorded_at, quiet s, cpu s, load);
    ``waited``: the share of each call's wall time spent waiting for a core (NaN: not recorded)."""
    return [[n, 0, s, stamp, s * (1 - waited), s, load] for n, s in zip(sizes, seconds)]


def test_every_figure_says_where_it_comes_from():
    _, spec = constructed()
    gpu = spec.with_costs({"bi-encoder": "x0.025"})
    lat = predict_spec_latency(gpu, [40] * 6, MEASURED, budget_ms=10)
    assert [s.source for s in lat.stages] == ["measured here", "measured x 0.025"]
    assert lat.stages[1].predicted_ms == pytest.approx(40 * 0.025)
    api = spec.with_costs({"first-pass": "5+0", "bi-encoder": "300/16"})
    lat = predict_spec_latency(api, [40] * 6, MEASURED)
    assert [s.source for s in lat.stages] == ["user-set: 5 ms", "user-set: 300 ms per call of 16 pairs"]
    assert lat.stages[1].predicted_ms == pytest.approx(3 * 300)   # 40 pairs: three requests


def test_a_profile_is_applied_once_however_often_it_is_applied():
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "stages": [{"scorer": "bm25", "keep": 5}],
                                  "costs": {"bm25": "x0.5"}})
    once = apply_profiles(spec, MEASURED)
    assert apply_profiles(spec, once) == once and once[1].per_pair_ms == 0.5
    back = apply_profile(once[1], None)
    assert back.per_pair_ms == 1.0 and back.source == "measured here"


def test_a_gpu_profile_changes_the_budget_bars_and_the_recommendation():
    """Measured here the stage costs 1 ms per candidate: within 12 ms no pool reaches the relevant
    document at rank 15, so the tuner settles for less. Priced on a GPU (40x faster), pool 15+ fits."""
    exp, spec = constructed()
    grid = [spec.with_keeps(pool_size=p, keeps=[k]) for p in (10, 14, 15, 20, 40) for k in (5, 10) if k <= p]
    here = grid_search(exp, grid, budget_ms=12)
    chosen_here = here.spec_at(best_within_budget(here))
    assert chosen_here.pool_size < 15 and here.table.loc[best_within_budget(here), "ndcg@10"] == 0

    gpu_grid = [s.with_costs({"bi-encoder": {"factor": 0.025}}) for s in grid]
    gpu = grid_search(exp, gpu_grid, budget_ms=12)
    i = best_within_budget(gpu)
    assert gpu.spec_at(i).pool_size == 15 and gpu.table.loc[i, "ndcg@10"] == pytest.approx(1.0)
    assert gpu.table.loc[i, "latency_ms"] == pytest.approx(1.0 + 15 * 0.025)

    # The budget bars: over budget measured here, within it on the GPU; the bar names its profile.
    at_40 = spec.with_keeps(pool_size=40, keeps=[10])
    bars_here = predict_spec_latency(at_40, [40] * 6, exp.cost_models(), 10)
    bars_gpu = predict_spec_latency(at_40.with_costs({"bi-encoder": "x0.025"}), [40] * 6, exp.cost_models(), 10)
    assert bars_here.within_budget is False and bars_here.first_over_budget == "bi-encoder"
    assert bars_gpu.within_budget is True and bars_gpu.total_ms == pytest.approx(2.0)
    fig = charts.latency_bars(bars_gpu)
    stage_bar = [t for t in fig.data if t.name.startswith("bi-encoder")][0]
    assert stage_bar.name == "bi-encoder [measured x 0.025]" and "measured x 0.025" in stage_bar.hovertemplate
    assert "within budget" in fig.layout.title.text


def test_the_heaviest_stage_is_judged_by_the_profiles():
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "stages": [
        {"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 50},
        {"scorer": {"kind": "cross-encoder", "model": "c"}, "keep": 20}]})
    models = [CostModel("fp", 1, 0, 9), CostModel("bi", 5, 0.01, 9), CostModel("ce", 0, 2.0, 9)]
    assert heaviest_stage(spec, models) == 1
    assert heaviest_stage(spec.with_costs({"cross-encoder": "x0.001"}), models) == 0


def test_the_model_reads_the_latest_recording_first():
    old = rows([10, 20] * 20, [0.1, 0.2] * 20, stamp=1.0)                     # 10 ms per pair, wall clock only
    fresh = rows([10, 20] * 10, [0.011, 0.021] * 10, stamp=2.0, waited=0.0)   # 1 ms per pair, quiet
    model = CostModel.from_records("ce", np.array(fresh + old))               # newest first, as stored
    assert model.n_calls == 20 and model.per_pair_ms == pytest.approx(1.0) and model.basis == "quiet-equivalent"
    # too few fresh calls: older recordings are read (whole) until there are enough
    model = CostModel.from_records("ce", np.array(fresh[:4] + old))
    assert model.n_calls == 44


def test_spread_and_calls_come_with_every_figure():
    rng = np.random.default_rng(1)
    sizes = np.tile([25, 75, 100], 20)
    secs = (1 + 0.2 * sizes) * rng.uniform(0.8, 1.6, len(sizes)) / 1000
    model = CostModel.from_records("ce", np.array(rows(sizes, secs, 1.0)))
    lo, hi = model.spread
    assert 0.7 < lo < 1.0 < hi < 1.7
    [stage] = predict_latency(["ce"], [100], [model]).stages
    assert stage.low_ms < stage.predicted_ms < stage.high_ms and stage.n_calls == 60
    # a user-set figure has no spread and rests on no calls
    [user] = predict_latency(["ce"], [100], [apply_profile(model, CostProfile("user", per_pair_ms=0.05))]).stages
    assert user.low_ms == user.high_ms == pytest.approx(5.0) and user.n_calls == 0 and user.note is None


def test_timings_from_a_busy_cpu_predict_their_quiet_equivalent_and_say_so():
    """Calls that waited for a core half their time: the figure is the time they ran (the
    quiet-equivalent), the wall clock stays beside it, and the busy CPU is said next to the verdict."""
    busy = CostModel.from_records("fp", np.array(rows([100] * 30, [0.212] * 30, 1.0, waited=0.5, load=4.1)),
                                  per_query=True)
    lat = predict_latency(["first pass"], [100], [busy], budget_ms=100)
    [stage] = lat.stages
    assert stage.predicted_ms == pytest.approx(106.0) and stage.wall_ms == pytest.approx(212.0)
    assert stage.basis == "quiet-equivalent" and lat.busy_steps == ["first pass"] and not lat.trusted
    assert lat.notes[0].startswith("first pass: timed on a busy CPU (the work waited for a core 50% of the time; "
                                   "load average 4.1 on")
    assert lat.verdict() == ("Predicted 106.0 ms per query: over the 100 ms budget (first pass timed on a busy CPU: "
                             "predicted from the time the work ran, its quiet-equivalent; 212.0 ms as timed, wall clock)")
    assert "distrusted" in charts.latency_bars(lat).layout.title.text
    quiet = CostModel.from_records("fp", np.array(rows([100] * 30, [0.012] * 30, 1.0, waited=0.01, load=0.3)),
                                   per_query=True)
    assert predict_latency(["first pass"], [100], [quiet], budget_ms=100).trusted
    # a heavy load average with no wait recorded is still said: never "quiet" while the load exceeds the cores
    loaded = CostModel.from_records("fp", np.array(rows([100] * 30, [0.012] * 30, 1.0, waited=0.01, load=64.0)),
                                    per_query=True)
    assert "load average 64.0" in predict_latency(["first pass"], [100], [loaded]).notes[0]
    # a figure scaled to other hardware says nothing of this CPU
    scaled = apply_profile(busy, CostProfile("scaled", factor=0.5))
    assert predict_latency(["first pass"], [100], [scaled]).trusted


def test_a_busy_recording_is_read_with_the_parallelism_quiet_ones_showed():
    """A step whose pool thread works on while the calling thread waits for a core: on a busy
    CPU the wall less that wait undercounts (3.8 ms for a 4.8 ms call), its CPU time does not move
    much; read over the parallelism of the step's quiet calls (CPU 7.4 ms in 4.8 ms: 1.54), the
    busy recording predicts near the quiet one. Without quiet calls to learn from: as before."""
    quiet = [[1, 0, 0.0048, 1.0, 0.0048, 0.0074, 0.3]] * 30                 # waited 0
    busy = [[1, 0, 0.0065, 2.0, 0.0065 - 0.0027, 0.0066, 4.0]] * 30         # waited 2.7 of 6.5 ms
    alone = CostModel.from_records("bi", np.array(busy), per_query=True)
    assert alone.fixed_ms == pytest.approx(max(3.8, 6.6 / cores()))   # no quiet call known: as many cores as here
    both = CostModel.from_records("bi", np.array(busy + quiet), per_query=True)   # newest first, as stored
    assert both.n_calls == 30 and both.fixed_ms == pytest.approx(6.6 / (7.4 / 4.8), rel=1e-6)
    assert 0.85 < both.fixed_ms / CostModel.from_records("bi", np.array(quiet), per_query=True).fixed_ms < 1.0


def test_the_tail_is_sampled_per_query_from_each_steps_spread():
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
                                  "stages": [{"scorer": "bm25", "keep": 20}]})
    flat = [CostModel("fp", 10.0, 0.0, 30), CostModel("st", 0.0, 1.0, 30)]
    lat = predict_spec_latency(spec, [100] * 10, flat)
    t = lat.tail()
    assert t.p50 == t.p95 == t.p99 == t.sum_of_medians == pytest.approx(110.0)   # no spread: no tail
    # per-query counts: short lists cost less, the deep ones set p95
    t = predict_spec_latency(spec, [100] * 5 + [10] * 5, flat).tail()
    assert t.p95 == pytest.approx(110.0) and t.p50 < 110.0
    # a heavy-tailed step: p95 well above the sum of medians
    ratios = tuple(np.percentile(np.r_[np.ones(90), np.full(10, 4.0)], np.linspace(0, 100, 21)))
    tailed = [flat[0], CostModel("st", 0.0, 1.0, 30, ratios=ratios)]
    t = predict_spec_latency(spec, [100] * 10, tailed).tail(draws=400)
    assert t.sum_of_medians == pytest.approx(110.0, rel=0.05) and t.p95 > 1.5 * t.sum_of_medians
    assert t == predict_spec_latency(spec, [100] * 10, tailed).tail(draws=400)   # seeded: the same every time
    rows_ = tail_comparison(t, {"p50": t.p50, "p95": 2 * t.p95, "p99": t.p99})
    assert [r["measured / predicted"] for r in rows_] == pytest.approx([1.0, 2.0, 1.0])


def test_a_tail_drawn_once_is_not_drawn_again_for_the_same_counts_and_costs(monkeypatch):
    """A slider move that leaves every step's candidate counts as they were (a new report, the same
    inputs) gets the tail drawn before; other counts or other costs draw again."""
    from cascade_core.latency.model import LatencyReport

    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
                                  "stages": [{"scorer": "bm25", "keep": 20}]})
    ratios = tuple(np.linspace(0.5, 2.0, 21))
    costs = [CostModel("fp", 10.0, 0.0, 30, ratios=ratios), CostModel("st", 0.0, 1.0, 30, ratios=ratios)]
    drawn = []
    real = LatencyReport._draw_tail
    monkeypatch.setattr(LatencyReport, "_draw_tail", lambda self, *a: drawn.append(1) or real(self, *a))
    first = predict_spec_latency(spec, [100] * 5 + [60] * 5, costs).tail(draws=123)
    again = predict_spec_latency(spec, [100] * 5 + [60] * 5, costs).tail(draws=123)
    assert again == first and len(drawn) == 1
    other_counts = predict_spec_latency(spec, [100] * 10, costs).tail(draws=123)
    other_costs = predict_spec_latency(spec, [100] * 5 + [60] * 5, [costs[0], CostModel("st", 0.0, 2.0, 30, ratios=ratios)]
                                       ).tail(draws=123)
    assert len(drawn) == 3 and other_counts != first and other_costs.p50 > first.p50


def test_money_per_thousand_queries_from_prices():
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 40,
                                  "stages": [{"scorer": "bm25", "keep": 20}],
                                  "costs": {"bm25": {"per_call_ms": 100, "pairs_per_call": 20, "usd_per_call": 0.001},
                                            "first-pass": {"profile": "measured", "usd_per_hour": 3.6}}})
    lat = predict_spec_latency(spec, [40], [CostModel("fp", 10.0, 0.0, 30), CostModel("st", 0, 1, 30)])
    # first pass: 10 ms at $3.6/h = $0.00001 per query; stage: 2 calls at $0.001
    assert lat.usd_per_1k_queries == pytest.approx(1000 * (0.00001 + 0.002))


def test_a_measured_api_step_is_priced_per_search_or_per_call_of_its_batch():
    def priced(costs):
        spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 150,
                                      "stages": [{"scorer": "bm25", "keep": 20}], "costs": {"bm25": costs}})
        assert CascadeSpec.from_yaml(spec.to_yaml()) == spec   # the prices round-trip
        return predict_spec_latency(spec, [150], [CostModel("fp", 1.0, 0.0, 30), CostModel("st", 5, 1, 30)])

    # 150 candidates a query: 2 searches of up to 100 documents at $2 per 1,000 searches
    lat = priced({"usd_per_1k_searches": 2.0})
    assert lat.usd_per_1k_queries == pytest.approx(4.0) and lat.stages[1].source == "measured here"
    # measured time, priced per call of 32 candidates: 5 calls at $0.001
    assert priced({"usd_per_call": 0.001, "pairs_per_call": 32}).usd_per_1k_queries == pytest.approx(5.0)
    with pytest.raises(SpecError, match="pairs_per_call only beside usd_per_call"):
        priced({"profile": "measured", "pairs_per_call": 32})
