"""Query-adaptive cut-offs on constructed scores: kept counts, what later stages receive, recall,
the latency priced from each query's count, the spec/CLI round trip, and the tuner's search."""

from types import SimpleNamespace

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance, evaluate_run
from cascade_core.analysis.flow import kept_count_summary
from cascade_core.cascade import CascadeSpec, ScoreMatrix, parse_stage, simulate
from cascade_core.cascade.cutoff import Cutoff
from cascade_core.cascade.simulate import kept_counts
from cascade_core.cascade.spec import stage_flag
from cascade_core.data import Qrels
from cascade_core.errors import SpecError
from cascade_core.latency.model import CostModel, pairs_per_query, predict_spec_latency
from cascade_core.tuning import adaptive_variants, grid_search, tuning_grid

N = 20


def matrix():
    """Three queries, 20 candidates each (a short list of 12 for q3). Stage 1's scores, best
    first in first-pass order: q1 has 3 clear winners (1.0, 0.95, 0.9, then <= 0.5), q2 a flat
    top (14 candidates within 0.05 of its best), q3 one winner. The relevant document of each
    query is its stage-1 rank 3 (column 2)."""
    docs = np.tile(np.arange(N), (3, 1))
    docs[2, 12:] = -1
    first = np.tile(np.arange(N, 0, -1, dtype=float), (3, 1))
    s1 = np.empty((3, N))
    s1[0] = [1.0, 0.95, 0.9] + list(np.linspace(0.5, 0.0, N - 3))
    s1[1] = list(np.linspace(0.9, 0.85, 14)) + list(np.linspace(0.3, 0.0, N - 14))
    s1[2] = [1.0] + list(np.linspace(0.2, 0.0, N - 1))
    s1[2, 2] = 0.19   # q3's relevant document: rank 3 still (0.2, 0.19 after the winner)
    s1[2, 12:] = np.nan
    s2 = -np.tile(np.arange(N, dtype=float), (3, 1))   # stage 2 keeps the incoming order
    m = ScoreMatrix(["q1", "q2", "q3"], [f"d{i}" for i in range(N)], docs, first, [s1, s2])
    qrels = Qrels({"q1": {"d2": 1}, "q2": {"d2": 1}, "q3": {"d2": 1}})
    return m, qrels


def spec(stage1: str, stage2_keep: int = 5, final_k: int = 5) -> CascadeSpec:
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": N, "final_k": final_k, "stages": [
        parse_stage(stage1).to_dict(), {"scorer": {"kind": "bm25"}, "keep": stage2_keep}]})


def test_a_relative_drop_keeps_each_query_its_own_count():
    m, _ = matrix()
    run = simulate(spec("bi@drop=0.15,min=2,max=15"), m)
    # q1: 1.0, 0.95, 0.9 are within 0.15 of the top (0.5 is not); q2: 14 in a flat top; q3: the
    # winner alone, raised to the minimum of 2.
    assert run.steps[1].n_kept.tolist() == [3, 14, 2]
    assert kept_counts(run)["bi-encoder"].tolist() == [3, 14, 2]
    # stage 2 receives exactly those counts, and the final list is cut from them
    assert run.steps[2].n_in.tolist() == [3, 14, 2]
    assert run.final.n_kept.tolist() == [3, 5, 2]


def test_max_and_short_lists_bound_the_count():
    m, _ = matrix()
    run = simulate(spec("bi@drop=1.0,min=1,max=10"), m)
    assert run.steps[1].n_kept.tolist() == [10, 10, 10]
    run = simulate(spec("bi@drop=10,min=1,max=15"), m)
    assert run.steps[1].n_kept.tolist() == [15, 15, 12]      # q3 has 12 candidates only


def test_an_absolute_threshold_and_the_normalised_scale():
    m, _ = matrix()
    assert simulate(spec("bi@score=0.8,min=1,max=20"), m).steps[1].n_kept.tolist() == [3, 14, 1]
    # normalised per query: q2's flat top (0.9..0.85 over a 0..0.9 range) stays above 0.9
    assert simulate(spec("bi@score=0.9,min=1,max=20,scale=norm"), m).steps[1].n_kept.tolist() == [3, 14, 1]


def test_recall_follows_the_counts():
    m, qrels = matrix()
    # q3 keeps only its winner at min=1: its relevant document (rank 3) is lost there
    ev = evaluate_run(simulate(spec("bi@drop=0.15,min=1,max=15"), m), qrels, ["recall@10"])
    assert ev.steps[1].per_query["recall"].tolist() == [1.0, 1.0, 0.0]
    assert ev.steps[1].n_kept == pytest.approx((3 + 14 + 1) / 3)
    # min=3 saves it
    ev = evaluate_run(simulate(spec("bi@drop=0.15,min=3,max=15"), m), qrels, ["recall@10"])
    assert ev.final.per_query["recall@10"].tolist() == [1.0, 1.0, 1.0]
    assert simulate(spec("bi@drop=0.15,min=1,max=15"), m).dropped_at()[2, 2] == 1   # dropped at stage 1


def test_latency_is_priced_from_the_actual_counts():
    m, _ = matrix()
    sp = spec("bi@drop=0.15,min=2,max=15")
    run = simulate(sp, m)
    models = [CostModel("fp", 1.0, 0.0, 30), CostModel("bi", 0.0, 0.1, 30), CostModel("ce", 2.0, 1.0, 30)]
    lat = predict_spec_latency(sp, m.lengths, models, counts=kept_counts(run))
    # stage 2 (1 ms per pair + 2 ms) scores 3, 14 and 2 candidates: mean 19/3 pairs
    assert lat.stages[2].n_pairs == pytest.approx(19 / 3)
    assert lat.stages[2].predicted_ms == pytest.approx(2.0 + 19 / 3)
    assert pairs_per_query(sp, m.lengths, kept_counts(run))[2].tolist() == [3, 14, 2]
    # the tail is each query's own count: q2's 14 pairs make p95 well above the mean
    tail = lat.tail()
    assert tail.p95 > lat.total_ms + 3
    # without counts an adaptive stage is priced at its maximum: an upper bound
    bound = predict_spec_latency(sp, m.lengths, models)
    assert bound.stages[2].n_pairs == pytest.approx((15 + 15 + 12) / 3)
    assert bound.total_ms > lat.total_ms


def test_kept_count_summary():
    m, _ = matrix()
    table = kept_count_summary(simulate(spec("bi@drop=0.15,min=2,max=15"), m))
    row = table.loc["bi-encoder"]
    assert row["cut-off"] == "drop 0.15, 2-15"
    assert (row["min"], row["max"], row["p50"]) == (2, 14, 3)
    assert kept_count_summary(simulate(spec("bi@10"), m)).empty


def test_spec_yaml_and_cli_round_trip():
    sp = spec("bi:all-MiniLM-L6-v2@drop=0.2,min=5,max=15,scale=norm")
    st = sp.stages[0]
    assert st.keep == 15 and st.cutoff == Cutoff("drop", 0.2, 5, "norm")
    assert sp.to_dict()["stages"][0]["keep"] == {"drop": 0.2, "min": 5, "max": 15, "scale": "norm"}
    assert CascadeSpec.from_yaml(sp.to_yaml()) == sp
    assert CascadeSpec.from_json(sp.to_json()) == sp
    assert parse_stage(stage_flag(st)).cutoff == st.cutoff
    assert "drop 0.2 (norm), 5-15" in sp.describe()
    # a slider moving the maximum below the minimum brings the minimum down with it
    assert sp.with_keeps(keeps=[3, 3], final_k=3).stages[0].cutoff.min_keep == 3
    # the scorer key ignores cut-offs: same stored scores as keep-N
    assert sp.scorer_key() == spec("bi:all-MiniLM-L6-v2@15").scorer_key()


def test_cli_flag(monkeypatch):
    from cascade_cli import cli, common

    args = cli.build_parser().parse_args(["eval", "--dataset", "x", "--pool-size", "100",
                                          "--stage", "bi:all-MiniLM-L6-v2@drop=0.2,min=10,max=100"])
    sp = common.spec_from_args(args)
    assert sp.stages[0].cutoff == Cutoff("drop", 0.2, 10, "raw") and sp.stages[0].keep == 100


@pytest.mark.parametrize("keep, message", [
    ({"drop": 0.2, "min": 5}, "needs a max"),
    ({"drop": 0.2, "score": 0.5, "max": 9}, "exactly one of"),
    ({"drop": -1, "max": 9}, ">= 0"),
    ({"drop": 0.2, "min": 10, "max": 5}, "larger than max"),
    ({"score": 2, "max": 5, "scale": "norm"}, "between 0 and 1"),
    ({"drop": 0.2, "max": 5, "scale": "log"}, "scale must be"),
    ({"drop": 0.2, "max": 5, "top": 1}, "unknown cut-off key"),
    ({"drop": 0.2, "max": 500}, "larger than pool_size"),
])
def test_bad_cutoffs_are_refused_with_a_reason(keep, message):
    with pytest.raises(SpecError, match=message):
        CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 5,
                               "stages": [{"scorer": {"kind": "bm25"}, "keep": keep}]})


def test_the_tuner_searches_relative_drops():
    m, qrels = matrix()
    models = [CostModel("fp", 1.0, 0.0, 30), CostModel("bi", 0.0, 0.1, 30), CostModel("ce", 0.0, 1.0, 30)]
    rel = Relevance.of(m, qrels)
    exp = SimpleNamespace(snapshot=lambda: (m, rel), cost_models=lambda: models)
    base = spec("bi@15", stage2_keep=5, final_k=2)
    grid = adaptive_variants([base], drops=(0.05, 0.15))
    assert [s.stages[i].cutoff_label for s in grid[1:] for i in range(2) if s.stages[i].adaptive] == [
        "drop 0.05 (norm), 2-15", "drop 0.15 (norm), 2-15", "drop 0.05 (norm), 2-5", "drop 0.15 (norm), 2-5"]
    result = grid_search(exp, grid)
    t = result.table
    assert "cutoff bi-encoder" in t.columns and "kept bi-encoder" in t.columns
    adaptive = t[t["cutoff bi-encoder"].str.startswith("drop 0.05")].iloc[0]
    fixed = t.iloc[0]
    # the drop keeps fewer than 15 candidates on average, so stage 2 costs less
    assert adaptive["kept bi-encoder"] < 15 and adaptive["latency_ms"] < fixed["latency_ms"]
    assert len(tuning_grid(base, values=2, fusions=None, drops=(0.1,))) > len(tuning_grid(base, values=2, fusions=None))
