"""The cascade doctor on constructed cascades whose failure modes are known: each is flagged with
its evidence and fix, a healthy cascade gets no finding, and nothing is claimed without data."""

import dataclasses
import math

import numpy as np
import pytest

from cascade_core.fusion import Fusion, fusion_names, make_fusion
from cascade_core import doctor
from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade.simulate import CascadeRun, ScoreMatrix, simulate
from cascade_core.cascade.spec import CascadeSpec, StageSpec
from cascade_core.latency.model import CostModel
from cascade_core.scorers import ScorerConfig

Q, N = 6, 20
FIRST = np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1))       # the first pass: column order
REVERSE = np.tile(np.arange(N, dtype=float), (Q, 1))            # a stage that reverses the first pass
COPY = FIRST.copy()                                             # a stage that agrees with the first pass
FAST = [CostModel("first", 1.0, 0.0, 9), CostModel("cheap", 0.0, 0.1, 9), CostModel("heavy", 0.0, 10.0, 9)]


def setup(relevant_cols, *stage_scores, depth=None, missing=None):
    grades = np.zeros((Q, N))
    grades[:, list(relevant_cols)] = 1
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], np.tile(np.arange(N), (Q, 1)),
                    FIRST, [np.asarray(s, float) for s in stage_scores], retrieved_depth=depth)
    return m, rel


def spec(pool, *stages, final_k=None, **stage_kw):
    return CascadeSpec(ScorerConfig("bm25"), pool_size=pool,
                       stages=[StageSpec(ScorerConfig("bi-encoder", name), keep, name=name, **stage_kw)
                               for name, keep in stages],
                       final_k=final_k or stages[-1][1])


def by_kind(checks):
    return {c.kind: c for c in checks}


def test_pool_too_small_is_flagged_with_the_plateau_fix():
    # relevant documents at first-pass ranks 14 and 15; the pool keeps 10; the stage would put them first.
    m, rel = setup([13, 14], REVERSE)
    sp = spec(10, ("heavy", 3))
    findings = doctor.diagnose(simulate(sp, m), rel, FAST[::2])
    # ... and a note not to hand the stage more than 15: past that, the reversed ranks bury them
    assert [(f.kind, f.severity) for f in findings] == [("pool-too-small", "warning"), ("depth-quality", "info")]
    assert "at or below 15" in findings[1].fix
    f = findings[0]
    assert f.severity == "warning"
    ev = f.evidence
    assert ev["recall at the pool"] == 0 and ev["recall at the stored depth"] == 1.0
    assert ev["relevant lost at the pool"] == 2 * Q and ev["plateau k"] == 15
    assert ev["predicted ms now"] == pytest.approx(1 + 10 * 10)
    assert ev["predicted ms at the plateau"] == pytest.approx(1 + 10 * 15)
    assert ev["final nDCG@10 change (points)"] == pytest.approx(100)
    assert "Raise the pool to 15" in f.fix and "101.0 -> 151.0 ms" in f.fix


def test_pool_loss_the_stage_would_not_use_is_only_info():
    # same loss, but the stage agrees with the first pass: the recovered documents stay at the bottom
    m, rel = setup([0, 14], COPY)
    (f,) = doctor.diagnose(simulate(spec(10, ("heavy", 3)), m), rel, FAST[::2])
    assert f.kind == "pool-too-small" and f.severity == "info"
    assert f.evidence["final nDCG@10 change (points)"] == pytest.approx(0)
    assert "does not pay here" in f.fix
    # the headline and the fix say so too: no "Pool too small ... raise it" for a note
    assert f.title.startswith("Relevant documents lie below the pool, but a deeper pool would not pay")
    assert f.fix.startswith("Keep the pool")


def test_pool_fix_not_verified_without_stage_scores():
    stage = np.where(FIRST > N - 10, REVERSE, np.nan)           # the stage scored only the pool of 10
    m, rel = setup([11], stage)
    (f,) = doctor.diagnose(simulate(spec(10, ("heavy", 3)), m), rel, FAST[::2])
    assert f.kind == "pool-too-small" and f.severity == "warning" and "Not verified" in f.fix


def test_pool_not_checked_when_the_first_pass_is_stored_only_pool_deep():
    m, rel = setup([11], REVERSE, depth=10)
    m = dataclasses.replace(m, docs=m.docs[:, :10], first=m.first[:, :10], stage_scores=[m.stage_scores[0][:, :10]])
    rel = dataclasses.replace(rel, grades=rel.grades[:, :10])
    checks = by_kind(doctor.run_checks(simulate(spec(10, ("heavy", 3)), m), rel, FAST[::2]))
    pool = checks["pool-too-small"]
    assert pool.status == "not checked" and "stored only 10 deep" in pool.summary
    assert pool.finding is None


def test_quality_gap_cheap_stage_drops_what_the_heavy_stage_would_rank_first():
    # pool = the whole list, so the pool is fine. The cheap stage keeps 5 of 20 and ranks relevant
    # d3 5th (kept) and d12 (dropped); the heavy stage ranks d3 first among what it gets.
    cheap = np.tile(np.zeros(N), (Q, 1))
    cheap[:, [0, 1, 2, 4]] = [9, 8, 7, 6]
    cheap[:, 3] = 5
    cheap[:, 12] = 1
    heavy = np.tile(np.zeros(N), (Q, 1))
    heavy[:, 3] = 10
    m, rel = setup([3, 12], cheap, heavy)
    sp = spec(N, ("cheap", 5), ("heavy", 2))
    checks = doctor.run_checks(simulate(sp, m), rel, FAST)
    gaps = [c for c in checks if c.kind == "quality-gap"]
    # first pass -> cheap: cheap ranks worse than the first pass here, so there is no gap for it to
    # close (not applicable, and not a green "ok" either); cheap -> heavy: the gap is flagged
    assert [c.status for c in gaps] == ["not applicable", "flagged"]
    assert gaps[0].evidence["gap (nDCG@10 points)"] < 0 and "no better than the step before it" in gaps[0].summary
    f = gaps[1].finding
    assert f.evidence["share dropped"] == pytest.approx(0.5) and f.evidence["relevant dropped"] == Q
    assert f.evidence["gap (nDCG@10 points)"] > 5
    assert f.evidence["plateau k"] == 6                               # cheap ranks d12 6th of its 20
    assert "Raise cheap's keep to 6" in f.fix
    # ... and cheap, which ranks worse than the first pass that fed it, is a harmful stage
    found = doctor.diagnose(simulate(sp, m), rel, FAST)
    assert [(x.kind, x.stage) for x in found] == [("quality-gap", None), ("harmful-stage", "cheap")]


def test_no_quality_gap_when_the_heavy_stage_is_no_better():
    cheap = REVERSE.copy()
    m, rel = setup([19, 3], cheap, REVERSE)        # d3 dropped by cheap, but heavy agrees with cheap
    checks = doctor.run_checks(simulate(spec(N, ("cheap", 5), ("heavy", 2)), m), rel, FAST)
    assert all(c.status == "ok" for c in checks if c.kind == "quality-gap")


def test_latency_regression_when_the_cascade_costs_more_than_a_single_pass():
    costly = [FAST[0], CostModel("cheap", 0.0, 7.0, 9), FAST[2]]   # 7 ms a pair "cheap" stage
    m, rel = setup([19], REVERSE, REVERSE)
    sp = spec(N, ("cheap", 10), ("heavy", 2))
    checks = by_kind(doctor.run_checks(simulate(sp, m), rel, costly))
    c = checks["latency-regression"]
    assert c.status == "flagged"
    assert c.evidence["cascade ms"] == pytest.approx(1 + 7 * 20 + 10 * 10)
    assert c.evidence["single pass ms"] == pytest.approx(1 + 10 * 20)
    assert "drop cheap" in c.finding.fix
    ok = by_kind(doctor.run_checks(simulate(sp, m), rel, FAST))["latency-regression"]
    assert ok.status == "ok" and ok.evidence["cascade ms"] == pytest.approx(1 + 2 + 100)


def test_latency_not_applicable_or_not_checked():
    m, rel = setup([19], REVERSE, REVERSE)
    one = by_kind(doctor.run_checks(simulate(spec(N, ("heavy", 2)), m), rel, FAST[::2]))
    assert one["latency-regression"].status == "not applicable"
    unknown = [FAST[0], CostModel("cheap", math.nan, math.nan, 0), FAST[2]]
    two = by_kind(doctor.run_checks(simulate(spec(N, ("cheap", 5), ("heavy", 2)), m), rel, unknown))
    assert two["latency-regression"].status == "not checked"


def test_a_healthy_cascade_has_no_findings():
    # everything relevant is high in the first pass; each stage keeps it; the cascade is cheap.
    m, rel = setup([0, 1], COPY, COPY)
    sp = spec(10, ("cheap", 5), ("heavy", 2))
    checks = doctor.run_checks(simulate(sp, m), rel, FAST)
    assert doctor.diagnose(simulate(sp, m), rel, FAST) == []
    assert {c.status for c in checks} == {"ok"}


def test_score_scales_normalised_combinations_pass_and_raw_sums_are_flagged():
    m, rel = setup([0], COPY, REVERSE)
    for combine in fusion_names()[1:]:   # every fusion but replace says it is scale-safe
        sp = CascadeSpec(ScorerConfig("bm25"), 10, [StageSpec(ScorerConfig("bi-encoder", "a"), 5),
                                                     StageSpec(ScorerConfig("bi-encoder", "b"), 2,
                                                               fusion=make_fusion(combine))], 2)
        c = doctor.check_score_scales(simulate(sp, m))
        assert c.status == "ok" and combine in c.summary
    sp = spec(10, ("a", 5))
    assert "own score alone" in doctor.check_score_scales(simulate(sp, m)).summary
    # a combination that sums raw scores (no built-in one does; a plugin's might, and says so)
    class RawSum(Fusion):
        name = "raw-sum"

        def combine(self, new, incoming, valid):
            return new + incoming

    raw_sum = dataclasses.replace(sp.stages[0], fusion=RawSum())
    object.__setattr__(sp, "stages", (raw_sum,))
    c = doctor.check_score_scales(CascadeRun(sp, m, []))
    assert c.status == "flagged" and c.finding.kind == "score-scales" and "norm-sum" in c.finding.fix


def test_hybrid_fusion_is_scale_safe():
    m, rel = setup([0], COPY)
    sp = CascadeSpec(ScorerConfig("hybrid", "x", {"fusion": "norm-sum"}), 10,
                     [StageSpec(ScorerConfig("bi-encoder", "a"), 5)], 5)
    c = doctor.check_score_scales(simulate(sp, m))
    assert c.status == "ok" and "hybrid" in c.summary


def test_without_judgments_nothing_is_claimed():
    m, rel = setup([0], COPY)
    checks = by_kind(doctor.run_checks(simulate(spec(10, ("a", 5)), m), None, FAST[:2]))
    assert checks["pool-too-small"].status == "not checked" and checks["quality-gap"].status == "not checked"


def test_score_distributions_split_relevant_and_non_relevant():
    m, rel = setup([19, 18], REVERSE)
    run = simulate(spec(10, ("a", 5)), m)
    raw = doctor.score_distributions(run, rel, bins=5)
    assert [d.step for d in raw] == ["first pass", "a"]
    fp, st = raw
    assert sorted(fp.relevant.tolist()) == [1.0] * Q + [2.0] * Q           # first-pass scores of d19, d18
    assert len(fp.non_relevant) == (N - 2) * Q
    assert fp.relevant_counts.sum() + fp.non_relevant_counts.sum() == N * Q and len(fp.edges) == 6
    assert len(st.relevant) == 0 and len(st.non_relevant) == 10 * Q   # the pool of 10 holds no relevant doc
    mm = doctor.score_distributions(run, rel, "norm-sum")[0]
    assert mm.relevant.min() == 0 and mm.non_relevant.max() == 1     # d19 is each list's minimum
    rr = doctor.score_distributions(run, rel, "rrf")[0]
    assert sorted(set(rr.relevant.round(6))) == sorted({round(1 / 80, 6), round(1 / 79, 6)})
    table = doctor.distribution_table(raw)
    assert table.loc[("first pass", "relevant"), "mean"] == pytest.approx(1.5)
    assert table.loc[("a", "relevant"), "count"] == 0
    with pytest.raises(ValueError):
        doctor.score_distributions(run, rel, "z-score")
