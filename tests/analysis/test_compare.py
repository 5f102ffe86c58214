"""Comparisons on constructed score matrices whose answers are known: the single-pass baseline,
each stage's lift, and paired significance tests (checked against scipy.stats directly)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cascade_core.analysis import compare
from cascade_core.analysis.evaluation import DEFAULT_METRICS, Relevance, evaluate_run
from cascade_core.analysis.experiment import ExperimentResult
from cascade_core.cascade.simulate import ScoreMatrix, simulate
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.errors import CascadeError
from cascade_core.latency.model import CostModel

Q, N = 8, 10


class Lab:
    """A constructed world: one first pass and every scorer's scores, and ``spec -> experiment``
    like :func:`compare.experiment_factory`. Scores set to NaN count as not stored yet;
    ``ensure_scores`` fills the ones a spec needs from ``truth`` (as scoring would)."""

    def __init__(self, grades, scores: dict, costs: dict, stored: dict | None = None):
        self.grades = np.asarray(grades, dtype=float)
        self.docs = np.tile(np.arange(N), (Q, 1))
        self.first = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))   # first pass: column order
        self.truth = {k: np.asarray(v, dtype=float) for k, v in scores.items()}
        self.stored = {k: np.array(v, dtype=float) for k, v in (stored or self.truth).items()}
        self.costs = costs
        self.relevance = Relevance(self.grades, -np.sort(-self.grades, axis=1), (self.grades > 0).sum(axis=1))

    def matrix(self, spec):
        return ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], self.docs, self.first,
                           [self.stored[st.scorer.model] for st in spec.stages])

    def cost_models(self, spec):
        return [self.costs["first"]] + [self.costs[st.scorer.model] for st in spec.stages]

    def __call__(self, spec):
        lab = self

        class Exp:
            def run(self, other=None, budget_ms=None):
                other = other or spec
                run = simulate(other, lab.matrix(other))
                ev = evaluate_run(run, None, DEFAULT_METRICS, lab.relevance)
                lat = compare.predicted_latency(other, lab.cost_models(other), compare.list_lengths(run.matrix))
                return ExperimentResult(run, ev, lat)

            def ensure_scores(self, other=None, progress=None):
                for s, st in enumerate((other or spec).stages):
                    prefix = (other or spec).prefix(s)
                    cols, valid = simulate(prefix, lab.matrix(prefix)).steps[-1].kept()
                    rows = np.repeat(np.arange(Q)[:, None], cols.shape[1], axis=1)
                    m = st.scorer.model
                    lab.stored[m][rows[valid], cols[valid]] = lab.truth[m][rows[valid], cols[valid]]

            def cost_models(self):
                return lab.cost_models(spec)

        return Exp()


def make_spec(pool, *stages, final_k=None):
    """``stages``: (model, keep) pairs; the scorer kind is only a label here."""
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": pool,
                                  "final_k": final_k or stages[-1][1],
                                  "stages": [{"scorer": {"kind": "bi-encoder", "model": m}, "keep": k, "name": m}
                                             for m, k in stages]})


def grades_at(*cols):
    g = np.zeros((Q, N))
    g[:, list(cols)] = 1
    return g


COSTS = {"first": CostModel("first", 1.0, 0.0, 5), "cheap": CostModel("cheap", 0.0, 0.1, 5),
         "heavy": CostModel("heavy", 0.0, 10.0, 5), "copy": CostModel("copy", 0.0, 0.5, 5)}
REVERSE = np.tile(np.arange(N, dtype=float), (Q, 1))          # ranks the first pass's list upside down
COPY = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))      # the first pass's own order


# -- derived specs ----------------------------------------------------------------------------

def test_heaviest_is_the_costliest_over_the_pool_else_the_last():
    spec = make_spec(10, ("heavy", 5), ("cheap", 3))
    assert compare.heaviest_stage(spec, [COSTS["first"], COSTS["heavy"], COSTS["cheap"]]) == 0
    assert compare.heaviest_stage(spec, [COSTS["first"], CostModel("x", math.nan, math.nan, 0), COSTS["cheap"]]) == 1
    assert compare.heaviest_stage(spec) == 1
    # a large fixed cost counts: 50 ms per query beats 0.1 ms per pair over 10 pairs
    assert compare.heaviest_stage(spec, [COSTS["first"], CostModel("q", 50, 0, 5), COSTS["cheap"]]) == 0
    with pytest.raises(CascadeError, match="no rerank stage"):
        compare.heaviest_stage(CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 5}))


def test_baseline_is_the_heaviest_stage_alone_over_the_pool():
    spec = make_spec(10, ("cheap", 5), ("heavy", 3), final_k=2)
    base = compare.baseline_spec(spec, [COSTS["first"], COSTS["cheap"], COSTS["heavy"]])
    assert base.pool_size == 10 and [s.name for s in base.stages] == ["heavy"]
    assert base.stages[0].keep == 3 and base.final_k == 2 and base.stages[0].combine == "replace"
    # the baseline's keep is at least final_k and never more than the pool
    wide = make_spec(4, ("heavy", 4), ("cheap", 2), final_k=2)
    assert compare.baseline_spec(wide, [COSTS["first"], COSTS["heavy"], COSTS["cheap"]]).stages[0].keep == 4


@pytest.mark.parametrize("keeps,final_k", [((50, 20, 10), 5), ((100, 100, 100), 100), ((7, 3, 1), 1)])
def test_a_spec_without_any_stage_stays_valid(keeps, final_k):
    spec = make_spec(100, *[(f"s{i}", k) for i, k in enumerate(keeps)], final_k=final_k)
    for i in range(len(keeps)):
        other = compare.without_stage(spec, i)
        other.validate()
        assert [s.name for s in other.stages] == [s.name for j, s in enumerate(spec.stages) if j != i]
        assert other.final_k == final_k <= other.keeps[-1]
    assert compare.without_stage(make_spec(20, ("a", 5)), 0).keeps == [20]
    with pytest.raises(CascadeError):
        compare.without_stage(spec, 3)


def test_predicted_latency_counts_pairs_like_the_experiment():
    lab = Lab(grades_at(0), {"cheap": REVERSE, "heavy": REVERSE}, COSTS)
    spec = make_spec(10, ("cheap", 5), ("heavy", 3))
    rep = compare.predicted_latency(spec, lab.cost_models(spec), [10] * Q)
    assert [s.n_pairs for s in rep.stages] == [10, 10, 5]
    assert rep.total_ms == pytest.approx(1 + 1 + 50)
    assert compare.predicted_latency(spec, lab.cost_models(spec), [4] * Q).total_ms == pytest.approx(1 + 0.4 + 40)


# -- single pass ------------------------------------------------------------------------------

def test_single_pass_comparison_table():
    # relevant documents at the bottom of the first pass; both stages reverse it, so the cascade
    # finds what the single pass finds, at a fraction of the cost.
    lab = Lab(grades_at(9, 8), {"cheap": REVERSE, "heavy": REVERSE}, COSTS)
    spec = make_spec(10, ("cheap", 5), ("heavy", 2))
    res = lab(spec).run(spec)
    cmp = compare.single_pass(res, lab.cost_models(spec), lab)
    assert cmp.heaviest == "heavy" and not cmp.same_as_cascade
    table = cmp.table()
    assert list(table.index) == ["cascade", "single pass", "cascade / single pass"]
    assert table.loc["cascade", "recall@10"] == pytest.approx(1.0)
    assert table.loc["single pass", "ndcg@10"] == pytest.approx(1.0)
    assert table.loc["cascade", "predicted ms"] == pytest.approx(1 + 1 + 50)
    assert table.loc["single pass", "predicted ms"] == pytest.approx(1 + 100)
    assert cmp.latency_ratio == pytest.approx(52 / 101)
    assert table.loc["cascade / single pass", "predicted ms"] == pytest.approx(52 / 101)


def test_a_one_stage_cascade_is_its_own_baseline():
    lab = Lab(grades_at(9), {"heavy": REVERSE}, COSTS)
    spec = make_spec(10, ("heavy", 3))
    cmp = compare.single_pass(lab(spec).run(spec), lab.cost_models(spec), lab)
    assert cmp.same_as_cascade
    assert cmp.table().loc["cascade / single pass"].tolist() == pytest.approx([1.0] * 4)


def test_missing_baseline_scores_are_reported_then_scored():
    heavy = REVERSE.copy()
    heavy[:, 0] = 100.0                    # the heavy stage knows d0 is best; the cheap one ranks it last
    truth = {"cheap": REVERSE, "heavy": heavy}
    stored = {"cheap": REVERSE, "heavy": np.where(REVERSE >= 5, heavy, np.nan)}   # heavy saw only cheap's top 5
    lab = Lab(grades_at(9, 0), truth, COSTS, stored)
    spec = make_spec(10, ("cheap", 5), ("heavy", 2))
    res = lab(spec).run(spec)
    cmp = compare.single_pass(res, lab.cost_models(spec), lab)
    assert cmp.baseline.result is None and "no stored score" in cmp.baseline.missing
    assert math.isnan(cmp.table().loc["single pass", "ndcg@10"])
    assert cmp.table().loc["single pass", "predicted ms"] == pytest.approx(101)   # latency needs no scores
    compare.score_missing(lab, [cmp.baseline.spec])
    again = compare.single_pass(res, lab.cost_models(spec), lab)
    assert again.baseline.result is not None
    # the cascade lost d0 at the cheap stage; the single pass keeps it
    assert again.table().loc["single pass", "recall@10"] == pytest.approx(1.0)
    assert again.table().loc["cascade", "recall@10"] == pytest.approx(0.5)


# -- lift -------------------------------------------------------------------------------------

def test_a_stage_that_adds_nothing_has_zero_lift_and_is_flagged():
    # the "copy" stage re-ranks exactly as the first pass did: with or without it, the same lists.
    lab = Lab(grades_at(9, 8), {"copy": COPY, "heavy": REVERSE}, COSTS)
    spec = make_spec(10, ("copy", 10), ("heavy", 2))
    report = compare.stage_lifts(lab(spec).run(spec), lab, cost_models=lab.cost_models(spec))
    table = report.table()
    assert table.loc["copy", "recall@10 lift (points)"] == pytest.approx(0)
    assert table.loc["copy", "ndcg@10 lift (points)"] == pytest.approx(0)
    assert table.loc["copy", "verdict"] == "does not pay: lifts no metric by 2 points"
    assert not table.loc["copy", "pays for itself"]
    assert report.rows[0].pays is False
    assert table.loc["copy", "ndcg@10 Wilcoxon p"] == 1.0          # all ties
    # without the heavy stage the final 2 are the first pass's top 2 (neither relevant): +100 points
    assert table.loc["heavy", "recall@10 lift (points)"] == pytest.approx(100)
    assert table.loc["heavy", "ndcg@10 lift (points)"] == pytest.approx(100)
    assert bool(table.loc["heavy", "pays for itself"]) and table.loc["heavy", "verdict"] == "pays for itself"
    assert report.flagged == ["copy"] and report.missing == []


def test_a_stage_that_lifts_recall_but_lowers_the_ranking_does_not_pay():
    from cascade_core.analysis.compare import StageLift

    row = StageLift("bi", None, {"recall@10": 3.0, "ndcg@10": -0.9, "mrr@10": -2.2})
    assert row.pays is False and row.lowers_ranking and row.verdict == "does not pay: it lowers the ranking"
    assert StageLift("bi", None, {"recall@10": 3.0, "ndcg@10": 0.1}).pays is True


def test_lift_of_a_stage_whose_removal_needs_new_scores():
    truth = {"cheap": REVERSE, "heavy": REVERSE}
    stored = {"cheap": REVERSE, "heavy": np.where(REVERSE >= 5, REVERSE, np.nan)}
    lab = Lab(grades_at(9), truth, COSTS, stored)
    spec = make_spec(10, ("cheap", 5), ("heavy", 2))
    report = compare.stage_lifts(lab(spec).run(spec), lab, cost_models=lab.cost_models(spec))
    assert [s.describe() for s in report.missing] == ["bm25 -> 10 -> bi-encoder(heavy) -> 2 -> final 2"]
    assert report.rows[0].pays is None and math.isnan(report.rows[0].lift["ndcg@10"])
    compare.score_missing(lab, report.missing)
    again = compare.stage_lifts(lab(spec).run(spec), lab)
    assert again.missing == [] and again.rows[0].lift["ndcg@10"] == pytest.approx(0)


# -- paired tests -----------------------------------------------------------------------------

def test_paired_tests_equal_scipy():
    rng = np.random.default_rng(7)
    b = rng.random(40)
    a = np.clip(b + rng.normal(0.05, 0.1, 40), 0, 1)
    t = compare.paired_test(a, b, "ndcg@10")
    assert t.wilcoxon_p == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert t.ttest_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert t.wins == int((a > b).sum()) and t.losses == int((a < b).sum()) and t.n == 40
    assert t.mean_diff == pytest.approx(np.mean(a - b))


def test_paired_test_counts_ties_aligns_by_query_and_skips_nan():
    a = pd.Series({"q1": 1.0, "q2": 0.5, "q3": 0.2, "q4": np.nan, "q5": 0.9})
    b = pd.Series({"q5": 0.3, "q3": 0.2, "q2": 0.7, "q1": 0.0, "q4": 0.1})
    t = compare.paired_test(a, b)
    assert (t.n, t.wins, t.losses, t.ties) == (4, 2, 1, 1)
    assert t.mean_diff == pytest.approx((1.0 - 0.2 + 0 + 0.6) / 4)
    assert t.wilcoxon_p == pytest.approx(stats.wilcoxon([1.0, -0.2, 0.6]).pvalue)


def test_all_ties_give_p_one_with_a_reason():
    t = compare.paired_test([0.3, 0.5, 0.5], [0.3, 0.5, 0.5])
    assert (t.wins, t.losses, t.ties) == (0, 0, 3)
    assert t.wilcoxon_p == 1.0 and t.ttest_p == 1.0
    assert "every query ties" in t.notes[0]


def test_wins_losses_of_two_results():
    lab = Lab(grades_at(9), {"heavy": REVERSE}, COSTS)
    spec = make_spec(10, ("heavy", 3))
    first_only = compare.without_stage(spec, 0)
    t = compare.wins_losses(lab(spec).run(spec), lab(first_only).run(first_only), "ndcg@10")
    assert (t.wins, t.losses, t.ties) == (Q, 0, 0) and t.mean_diff == pytest.approx(1.0)
