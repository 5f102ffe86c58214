"""The doctor's harmful-stage check: a stage that ranks worse than its input is a warning with
per-query evidence and a simulated fix; a stage that helps is ok."""

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
from cascade_core.doctor.harm import check_harmful_stages, simulated_fixes
from cascade_core.fusion import tuning_candidates

Q, N = 10, 10


def setup(*stage_scores):
    """The relevant document of every query is column 1 (first-pass rank 2)."""
    grades = np.zeros((Q, N))
    grades[:, 1] = 1
    rel = Relevance(grades, np.ones((Q, 1)), np.ones(Q, dtype=int))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], np.tile(np.arange(N), (Q, 1)),
                    np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1)), [np.asarray(s, float) for s in stage_scores])
    return m, rel


def spec(*stages, final_k=3):
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": N, "final_k": final_k,
                                  "stages": [{"name": n, "scorer": {"kind": "bi-encoder", "model": n}, "keep": k,
                                              **kw} for n, k, kw in stages]})


def test_a_stage_that_pushes_the_relevant_document_down_is_a_warning_with_a_fix():
    # the stage likes column 0 and 2 best and the relevant column 1 least but one: it falls to rank 3
    stage = np.tile([9.0, 7.0, 8.0, 1, 1, 1, 1, 1, 1, 0], (Q, 1))
    stage[:, 1] = 7.0
    m, rel = setup(stage)
    (check,) = check_harmful_stages(simulate(spec(("st", 5, {})), m), rel)
    assert check.status == "flagged" and check.stage == "st"
    f = check.finding
    assert f.severity == "warning" and f.kind == "harmful-stage"
    ev = f.evidence
    assert ev["MRR@10 in"] == pytest.approx(0.5) and ev["MRR@10 out"] == pytest.approx(1 / 3)
    assert ev["MRR@10 wins / losses"] == f"0 / {Q}"
    assert ev["MRR@10 Wilcoxon p"] < 0.05 and "significant" in f.explanation
    # Fusing with the first pass (norm-sum 0.5) brings the relevant document back to where the first
    # pass had it, as dropping the stage does: a tie, and a tie goes to the fix that also saves the
    # stage's latency.
    assert ev["final nDCG@10 if drop the stage"] == pytest.approx(ev["nDCG@10 in"])
    assert ev["final nDCG@10 if combine it with the earlier score (norm-sum 0.5)"] == pytest.approx(
        ev["final nDCG@10 if drop the stage"])
    assert ev["best fix"] == "drop the stage"
    assert "final nDCG@10" in f.fix and "->" in f.fix


def test_a_fusion_that_ranks_better_than_dropping_the_stage_is_the_fix():
    # The stage knows something (it puts the relevant column 1 above column 0) but not all: alone it
    # ranks it third; summed with the first pass (norm-sum 0.5) it comes first, above what dropping
    # the stage gives (second, as the first pass had it).
    stage = np.tile([0.0, 8.0, 8.6, 8.5, 9.0, 1, 1, 1, 1, 1], (Q, 1))
    m, rel = setup(stage)
    (check,) = check_harmful_stages(simulate(spec(("st", 5, {})), m), rel)
    ev = check.finding.evidence
    fused = ev["final nDCG@10 if combine it with the earlier score (norm-sum 0.5)"]
    assert fused > ev["final nDCG@10 if drop the stage"] + 0.1
    assert ev["best fix"].startswith("combine it with the earlier score")


def test_a_stage_that_ranks_the_relevant_document_first_is_ok():
    stage = np.zeros((Q, N))
    stage[:, 1] = 5.0
    m, rel = setup(stage)
    (check,) = check_harmful_stages(simulate(spec(("st", 5, {})), m), rel)
    assert check.status == "ok" and check.finding is None and "+" in check.summary


def test_dropping_a_middle_stage_is_simulated_only_where_the_scores_allow():
    first = np.tile(np.arange(N, dtype=float), (Q, 1))       # the middle stage reverses the first pass
    last = np.full((Q, N), np.nan)
    last[:, N - 5:] = 1.0                                     # the last stage scored only what the middle kept
    m, rel = setup(first, last)
    fixes = simulated_fixes(simulate(spec(("mid", 5, {}), ("last", 3, {})), m), rel, 0)
    assert fixes["drop the stage"] is None                    # the last stage never saw the first pass's top 5
    assert len(fixes) == len(tuning_candidates())             # every other combination was tried, and dropping


def test_no_stage_is_not_applicable():
    m, rel = setup(np.zeros((Q, N)))
    (check,) = check_harmful_stages(simulate(CascadeSpec.from_dict(
        {"first_pass": {"kind": "bm25"}, "pool_size": N, "final_k": 3, "stages": []}), m), rel)
    assert check.status == "not applicable"
