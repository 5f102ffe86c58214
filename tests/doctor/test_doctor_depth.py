"""The doctor's depth-quality check on constructed cascades: a stage handed a "phantom" is a
warning (with the peak's fix), one that would only be hurt deeper is a note, a healthy one
passes, and too few scored depths say what to score."""

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.doctor.depth import check_depth_quality
from cascade_core.scorers import ScorerConfig

Q, N = 4, 300
DEPTHS = [10, 20, 50, 80, 100, 200, 300]
PEAK = 1 / (1 + 1 / np.log2(3))               # d0 first of two relevant: nDCG@10 0.613


def setup(relevant_cols, *stage_scores):
    grades = np.zeros((Q, N))
    grades[:, list(relevant_cols)] = 1
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], np.tile(np.arange(N), (Q, 1)),
                    np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1)), [np.asarray(s, float) for s in stage_scores])
    return m, rel


def spec(pool, *stages, final_k=10):
    return CascadeSpec(ScorerConfig("bm25"), pool_size=pool,
                       stages=[StageSpec(ScorerConfig("cross-encoder"), keep, name=name) for name, keep in stages],
                       final_k=final_k)


def phantom():
    """d0 and d150 relevant; the stage ranks d0 first unless handed d80 (not relevant), and d150 last."""
    s = np.tile(1 + np.linspace(0, 0.9, N)[::-1], (Q, 1))
    s[:, 0], s[:, 80], s[:, 150] = 5.0, 9.0, 0.0
    return s


def test_a_current_depth_past_a_phantom_is_a_warning_with_the_peak_as_fix():
    m, rel = setup([0, 150], phantom())
    (c,) = check_depth_quality(simulate(spec(200, ("ce", 10)), m), rel, depths=DEPTHS)
    assert (c.kind, c.stage, c.status, c.severity) == ("depth-quality", "ce", "flagged", "warning")
    f = c.finding
    assert f.title.startswith("Phantom hits: ce ranks worse handed 200 candidates than 10")
    ev = f.evidence
    assert ev["peak depth"] == 10 and ev["current depth"] == 200 and ev["deepest covered depth"] == 300
    assert ev["nDCG@10 at the peak"] == pytest.approx(PEAK)
    assert ev["nDCG@10 below the peak (points)"] == pytest.approx(100 * PEAK * (1 - 1 / np.log2(3)))   # d0 1st -> 2nd
    assert ev["recall in at the peak"] == .5 and ev["recall in at the current depth"] == 1.0
    assert ev["depths where quality falls while recall rises"] == "200, 300"
    assert f.fix.startswith("Hand ce 10 candidates (the pool = 10: bm25 -> 10 -> cross-encoder -> 10 -> final 10): "
                            "nDCG@10 0.387 -> 0.613")
    assert "in-sample" in f.fix and "held-out check on the Tune page" in f.fix
    assert "2411.11767" in f.explanation
    d = c.to_dict()
    assert (d["check"], d["severity"], d["stage"]) == ("depth-quality", "warning", "ce") and d["fix"] == f.fix


def test_a_fall_with_no_more_recall_is_a_warning_too():
    """At 100 the stage gets no more relevant documents than at 10, only the phantom: still worse."""
    m, rel = setup([0, 150], phantom())
    (c,) = check_depth_quality(simulate(spec(100, ("ce", 10)), m), rel, depths=DEPTHS)
    assert c.severity == "warning" and c.finding.title.startswith("Too deep: ce ranks worse handed 100")
    assert "no more of the judged-relevant documents" in c.finding.explanation


def test_falls_only_deeper_than_the_current_depth_are_a_note_not_to_deepen():
    m, rel = setup([0, 150], phantom())
    (c,) = check_depth_quality(simulate(spec(50, ("ce", 10)), m), rel, depths=DEPTHS)
    assert (c.status, c.severity) == ("flagged", "info")
    f = c.finding
    assert f.title == ("Do not deepen ce's input: nDCG@10 falls when it is handed 100 or more candidates "
                       "although more of the relevant documents reach it")
    assert f.fix.startswith("Keep the pool at or below 80")
    assert "Handed 200" in f.explanation and "100.0%" in f.explanation     # the fall with recall rising


def test_quality_rising_with_depth_is_ok():
    cols = [0, 40, 120, 250]
    m, rel = setup(cols, np.tile(np.isin(np.arange(N), cols).astype(float), (Q, 1)))
    (c,) = check_depth_quality(simulate(spec(100, ("ce", 10)), m), rel)
    assert (c.status, c.severity, c.finding) == ("ok", "ok", None)
    assert "never falls a point below its peak" in c.summary and "handed 300 it would reach 1.000" in c.summary
    assert c.evidence["depths where quality falls while recall rises"] == "none"


def test_too_few_scored_depths_is_not_checked_and_says_what_to_score():
    s = np.full((Q, N), np.nan)
    s[:, :10] = 1.0                                 # scored only over the pool of 10
    m, rel = setup([0], s)
    (c,) = check_depth_quality(simulate(spec(10, ("ce", 10)), m), rel)
    assert (c.status, c.severity) == ("not checked", "info")
    assert "only 1 input depth(s) of ce have stored scores (10" in c.summary
    assert "hand ce 300 candidates once (the pool = 300)" in c.summary


def test_one_check_per_stage_and_none_without_judgments():
    rng = np.random.default_rng(0)
    m, rel = setup([0, 30], rng.random((Q, N)), rng.random((Q, N)))
    sp = spec(100, ("bi", 30), ("ce", 10))
    checks = check_depth_quality(simulate(sp, m), rel)
    assert [(c.kind, c.stage) for c in checks] == [("depth-quality", "bi"), ("depth-quality", "ce")]
    assert {c.status for c in checks} <= {"ok", "flagged"}
    none = check_depth_quality(simulate(sp, m), None)
    assert [(c.stage, c.status) for c in none] == [("bi", "not checked"), ("ce", "not checked")]
    assert check_depth_quality(simulate(spec(100, final_k=10), m), rel) == []
