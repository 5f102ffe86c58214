"""The budget tuner, Pareto frontier and held-out validation on constructed cases."""

from types import SimpleNamespace

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec
from cascade_core.data import Qrels
from cascade_core.latency.model import CostModel
from cascade_core.scorers import ScorerConfig
from cascade_core.tuning import (OBJECTIVES, best_within_budget, cheapest_within_recall, cutoff_grid, grid_search,
                                 holdout_validation, pareto_front)

N = 40


def fake_experiment(matrix, qrels):
    """What the tuner reads of an Experiment, over ``matrix``: first pass 1 ms per query, the
    stage 1 ms per candidate it scores; and the BM25 -> N -> bi-encoder -> 10 -> 5 spec."""
    models = [CostModel("fp", 1.0, 0.0, 10), CostModel("st", 0.0, 1.0, 10)]
    relevance = Relevance.of(matrix, qrels)
    exp = SimpleNamespace(matrix=matrix, relevance=relevance, snapshot=lambda: (matrix, relevance),
                          cost_models=lambda: models)
    spec = CascadeSpec(ScorerConfig("bm25"), pool_size=N, stages=[StageSpec(ScorerConfig("bi-encoder"), 10)],
                       final_k=5)
    return exp, spec


def constructed(n_queries=6):
    """Each query's single relevant document sits at first-pass rank 15 (column 14); the stage
    scores it highest. So any pool >= 15 finds it at rank 1, a smaller pool never does."""
    docs = np.tile(np.arange(N), (n_queries, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (n_queries, 1))
    stage = np.random.default_rng(0).random((n_queries, N))
    stage[:, 14] = 10.0
    doc_ids = [f"d{i}" for i in range(N)]
    matrix = ScoreMatrix([f"q{i}" for i in range(n_queries)], doc_ids, docs, first, [stage])
    qrels = Qrels({f"q{i}": {"d14": 1} for i in range(n_queries)})
    return fake_experiment(matrix, qrels)


def test_grid_covers_valid_combinations_only():
    _, spec = constructed()
    grid = cutoff_grid(spec, values=4)
    assert spec in grid
    for s in grid:
        assert s.final_k <= s.stages[0].keep <= s.pool_size <= N


def test_budget_decides_whether_the_relevant_document_is_reached():
    exp, spec = constructed()
    grid = [spec.with_keeps(pool_size=p, keeps=[k]) for p in (10, 14, 15, 20, 40) for k in (5, 10) if k <= p]
    generous = grid_search(exp, grid, budget_ms=100)
    best = generous.spec_at(best_within_budget(generous))
    assert best.pool_size == 15  # the cheapest pool that reaches rank 15; nDCG@10 = 1
    assert generous.table.loc[best_within_budget(generous), "ndcg@10"] == pytest.approx(1.0)
    assert generous.table.loc[best_within_budget(generous), "latency_ms"] == pytest.approx(16.0)

    tight = grid_search(exp, grid, budget_ms=15)  # 1 + pool <= 15: pool <= 14 never finds it
    chosen = best_within_budget(tight)
    assert tight.spec_at(chosen).pool_size <= 14
    assert tight.table.loc[chosen, "ndcg@10"] == 0.0
    assert best_within_budget(grid_search(exp, grid, budget_ms=1)) is None


def test_cheapest_within_recall_and_pareto():
    exp, spec = constructed()
    grid = [spec.with_keeps(pool_size=p, keeps=[5]) for p in (10, 15, 20, 40)]
    result = grid_search(exp, grid)
    assert result.spec_at(cheapest_within_recall(result, 0.0)).pool_size == 15
    front = pareto_front(result.table["latency_ms"], result.table["ndcg@10"])
    assert [result.spec_at(i).pool_size for i in front] == [10, 15]


def test_uncovered_combinations_are_marked_not_guessed():
    exp, spec = constructed()
    exp.matrix.stage_scores[0][:, 30:] = np.nan  # never scored below rank 30
    result = grid_search(exp, [spec.with_keeps(pool_size=20, keeps=[5]), spec.with_keeps(pool_size=40, keeps=[5])])
    assert result.table["covered"].tolist() == [True, False]
    assert np.isnan(result.per_query[1]).all()


def test_holdout_reports_spread_and_optimism():
    exp, spec = constructed(n_queries=20)
    grid = [spec.with_keeps(pool_size=p, keeps=[5]) for p in (10, 15, 40)]
    result = grid_search(exp, grid, budget_ms=100)
    h = holdout_validation(result, k=4, repeats=2)
    assert len(h.folds) == 8
    assert (h.folds["pool_size"] == 15).all()  # every fold finds the same answer here
    assert h.held_out_mean == pytest.approx(1.0) and h.optimism == pytest.approx(0.0)


def one_hard_query(n_queries=200):
    """Every query's relevant document is at first-pass rank 4 (column 3), except the last
    query's, at rank 15 (column 14); the stage scores the relevant document highest. So pool 10
    misses one query in 200 (recall@10 0.995, within a point of the best) while pool 15 finds
    all: the two objectives disagree (best nDCG@10: 15; cheapest within a point: 10)."""
    docs = np.tile(np.arange(N), (n_queries, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (n_queries, 1))
    stage = np.random.default_rng(0).random((n_queries, N))
    rel_col = np.full(n_queries, 3)
    rel_col[-1] = 14
    stage[np.arange(n_queries), rel_col] = 10.0
    matrix = ScoreMatrix([f"q{i}" for i in range(n_queries)], [f"d{i}" for i in range(N)], docs, first, [stage])
    qrels = Qrels({f"q{i}": {f"d{c}": 1} for i, c in enumerate(rel_col)})
    exp, spec = fake_experiment(matrix, qrels)
    return grid_search(exp, [spec.with_keeps(pool_size=p, keeps=[5]) for p in (10, 15, 40)], budget_ms=100)


def test_holdout_folds_use_the_chosen_objective():
    result = one_hard_query()
    by_ndcg, by_recall = (OBJECTIVES["best nDCG@10 within the budget"],
                          OBJECTIVES["cheapest within 1 point of the best recall@10"])
    assert result.spec_at(by_ndcg(result)).pool_size == 15
    assert result.spec_at(by_recall(result)).pool_size == 10

    h = holdout_validation(result, k=4, repeats=2, rule=by_recall)
    # Whether the hard query is trained on or held out, pool 10 stays within a point: every fold.
    assert len(h.folds) == 8 and (h.folds["pool_size"] == 10).all()
    assert h.in_sample_index == by_recall(result)
    assert h.in_sample == pytest.approx(0.995)
    assert {"train recall@10", "held-out recall@10"} <= set(h.folds.columns)

    # The default rule, for contrast: folds that train on the hard query pick pool 15.
    default = holdout_validation(result, k=4, repeats=2)
    assert default.in_sample_index == by_ndcg(result)
    assert set(default.folds["pool_size"]) == {10, 15}


def test_cheapest_within_recall_on_a_subset_of_queries():
    result = one_hard_query()
    easy = np.arange(199)  # without the hard query pool 10 is as good as any, and cheapest
    assert result.spec_at(cheapest_within_recall(result, 0.0, queries=easy)).pool_size == 10
    assert result.spec_at(cheapest_within_recall(result, 0.0)).pool_size == 15


def test_a_new_budget_rejudges_without_simulating():
    result = one_hard_query()  # latencies 11, 16, 41 ms
    assert result.with_budget(12).table["within_budget"].tolist() == [True, False, False]
    assert result.with_budget(12).budget_ms == 12 and result.budget_ms == 100
    assert result.spec_at(best_within_budget(result.with_budget(12))).pool_size == 10
    assert best_within_budget(result.with_budget(5)) is None


def test_holdout_with_no_choice_still_reports():
    h = holdout_validation(one_hard_query().with_budget(1), k=3, repeats=1)
    assert h.folds.empty and "held-out ndcg@10" in h.folds.columns and h.in_sample_index is None


def test_the_grid_searches_how_stages_combine_and_includes_the_first_pass_alone():
    from cascade_core.fusion import NormSum, Replace
    from cascade_core.tuning import closest_over_budget, first_pass_only, tuning_grid

    exp, spec = constructed()
    grid = tuning_grid(spec, values=3, fusions=(Replace(), NormSum(0.5)))
    assert first_pass_only(spec) in grid and spec in grid
    assert {s.stages[0].fusion.label for s in grid if s.stages} == {"replace", "norm-sum 0.5"}
    result = grid_search(exp, grid, budget_ms=100)
    t = result.table
    first = t[t["first_pass_only"]]
    assert len(first) == 1 and first["latency_ms"].iloc[0] == pytest.approx(1.0)   # the first pass alone
    assert first["combine bi-encoder"].iloc[0] == "-" and first["keep bi-encoder"].isna().all()
    assert set(t.loc[~t["first_pass_only"], "combine bi-encoder"]) == {"replace", "norm-sum 0.5"}
    # held-out folds report the whole choice, combination included
    h = holdout_validation(result, k=3, repeats=1)
    assert "combine bi-encoder" in h.folds.columns
    # nothing fits a tiny budget: the closest options, cheapest first, with how far over they are
    tight = result.with_budget(0.5)
    closest = closest_over_budget(tight)
    assert best_within_budget(tight) is None and len(closest) >= 1
    assert closest["over_ms"].iloc[0] == pytest.approx(0.5) and closest["first_pass_only"].iloc[0]
    assert closest_over_budget(result).empty                  # something fits: nothing to show


def test_a_difference_no_page_can_show_is_a_tie_and_the_cheaper_wins():
    """0.7452 and 0.7449 both show as 0.745: recommending twice the latency for that is refused
    (the dashboard walkthrough's "norm-sum at 28.8 ms over the first pass alone at 14.9 ms")."""
    import pandas as pd

    from cascade_core.tuning.search import GridResult

    def grid(qualities, latencies):
        per_query = np.array([[q] * 4 for q in qualities])
        table = pd.DataFrame({"ndcg@10": qualities, "recall@10": [0.9] * len(qualities), "latency_ms": latencies,
                              "covered": True, "within_budget": True})
        return GridResult([None] * len(qualities), table, per_query, ["a", "b", "c", "d"], None)

    assert best_within_budget(grid([0.7452, 0.7449], [28.8, 14.9])) == 1
    assert best_within_budget(grid([0.7480, 0.7449], [28.8, 14.9])) == 0   # 0.748 > 0.745: a real difference
