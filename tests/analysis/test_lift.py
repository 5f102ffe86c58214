"""The cascade against its own first pass, and each stage against its input: the numbers equal
the per-step evaluation, the paired tests are the library's, a drop is flagged as worse."""

import numpy as np
import pytest

from cascade_core.analysis.compare import paired_test
from cascade_core.analysis.evaluation import Relevance, evaluate_run
from cascade_core.analysis.lift import first_pass_lift, stage_changes
from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
from cascade_core.latency.model import CostModel, predict_spec_latency

Q, N = 8, 12


def matrix(stage_scores):
    """Q queries; the relevant document of query q sits at first-pass rank q % 4 + 1 (column q % 4)."""
    docs = np.tile(np.arange(N), (Q, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))
    grades = np.zeros((Q, N))
    grades[np.arange(Q), np.arange(Q) % 4] = 1
    rel = Relevance(grades, np.ones((Q, 1)), np.ones(Q, dtype=int))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], docs, first,
                    [np.asarray(s, float) for s in stage_scores])
    return m, rel


def spec(*stages, pool=N, final_k=4):
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": pool, "final_k": final_k,
                                  "stages": [{"name": n, "scorer": {"kind": "bi-encoder", "model": n}, "keep": k,
                                              **kw} for n, k, kw in stages]})


def test_a_stage_that_finds_the_relevant_document_lifts_every_metric():
    helpful = np.zeros((Q, N))
    helpful[np.arange(Q), np.arange(Q) % 4] = 5.0          # puts each relevant document first
    m, rel = matrix([helpful])
    run = simulate(spec(("good", 6, {})), m)
    ev = evaluate_run(run, None, ("ndcg@10", "mrr@10", "recall@10"), rel)
    lift = first_pass_lift(run, ev, predict_spec_latency(run.spec, m.lengths,
                                                         [CostModel("fp", 2.0, 0, 9), CostModel("s", 0, 0.5, 9)]))
    c = lift.changes["mrr@10"]
    assert c.before == pytest.approx(ev.steps[0].means["mrr@10"]) and c.after == pytest.approx(1.0)
    assert c.points == pytest.approx(100 * (1.0 - ev.steps[0].means["mrr@10"]))
    expected = paired_test(ev.final.per_query["mrr@10"], ev.steps[0].per_query["mrr@10"])
    assert (c.test.wins, c.test.losses, c.test.wilcoxon_p) == (expected.wins, expected.losses, expected.wilcoxon_p)
    assert lift.worse == []
    assert lift.first_pass_ms == pytest.approx(2.0) and lift.added_ms == pytest.approx(0.5 * N)
    d = lift.to_dict()
    assert set(d["metrics"]) == {"ndcg@10", "mrr@10", "recall@10"} and d["worse_on"] == []
    assert lift.first_pass_metrics() == {m: ev.steps[0].means[m] for m in ("ndcg@10", "mrr@10", "recall@10")}
    assert list(lift.table().index) == ["nDCG@10", "MRR@10", "Recall@10"]


def test_a_stage_that_buries_the_relevant_document_is_worse_and_says_where():
    harmful = np.tile(np.arange(N, dtype=float), (Q, 1))     # reverses the first pass
    m, rel = matrix([harmful])
    run = simulate(spec(("bad", N, {})), m)
    ev = evaluate_run(run, None, ("ndcg@10", "mrr@10", "recall@10"), rel)
    lift = first_pass_lift(run, ev)
    assert set(lift.worse) == {"ndcg@10", "mrr@10", "recall@10"}
    assert np.isnan(lift.added_ms)                            # no latency given: unknown, not 0
    (change,) = stage_changes(run, ev)
    assert change.stage == "bad" and change.worse == ["ndcg@10", "mrr@10", "recall@10"]
    assert "against the first pass" in lift.changes["ndcg@10"].describe()


def test_each_stage_is_compared_with_the_list_it_received():
    helpful = np.zeros((Q, N))
    helpful[np.arange(Q), np.arange(Q) % 4] = 5.0
    harmful = np.tile(np.arange(N, dtype=float), (Q, 1))
    m, rel = matrix([helpful, harmful])
    run = simulate(spec(("good", 8, {}), ("bad", 6, {})), m)
    ev = evaluate_run(run, None, ("ndcg@10",), rel)
    good, bad = stage_changes(run, ev, ("ndcg@10",))
    assert good.changes["ndcg@10"].before == pytest.approx(ev.steps[0].means["ndcg@10"])
    assert good.changes["ndcg@10"].after == pytest.approx(1.0) and not good.worse
    assert bad.changes["ndcg@10"].before == pytest.approx(1.0) and bad.worse == ["ndcg@10"]


def test_the_warning_says_worse_as_surely_as_the_paired_test_allows():
    """Worse is always a warning; "ranks worse" only when a paired test says so, otherwise "scores
    lower ... it may be noise" (the walkthrough's -0.2 points at p = 0.67 was stated as a fact)."""
    from cascade_core.analysis.lift import FirstPassLift, MetricChange

    def lift(p):
        test = paired_test(np.array([0.5, 0.6, 0.4]), np.array([0.5, 0.59, 0.41]))
        test = type(test)(**{**test.__dict__, "wilcoxon_p": p})
        return FirstPassLift({"ndcg@10": MetricChange("ndcg@10", 0.5, 0.498, test)}, 1.0, 2.0)

    assert lift(0.67).worse == ["ndcg@10"]
    assert lift(0.67).worse_headline().startswith("This cascade scores lower than its own first pass")
    assert "may be noise" in lift(0.67).worse_headline()
    assert lift(0.001).worse_headline() == "This cascade ranks worse than its own first pass"
