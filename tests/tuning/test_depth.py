"""Depth against quality: final nDCG@10 over a stage's input depth, and the "phantom" depths where
quality falls while the stage receives more of the relevant documents."""

import time

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance, evaluate_run
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.errors import SpecError
from cascade_core.scorers import ScorerConfig
from cascade_core.tuning import depth_curve, input_depth, phantom_depths, with_input_depth
from cascade_core.tuning.depth import default_depths

Q, N = 4, 300
IDEAL_2 = 1 + 1 / np.log2(3)           # the ideal DCG of two relevant documents


def matrix(relevant_cols, *stage_scores, depth=None):
    grades = np.zeros((Q, N))
    grades[:, list(relevant_cols)] = 1
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{j}" for j in range(N)], np.tile(np.arange(N), (Q, 1)),
                    np.tile(np.arange(N, 0, -1, dtype=float), (Q, 1)), [np.asarray(s, float) for s in stage_scores],
                    retrieved_depth=depth)
    return m, rel


def spec(pool, *keeps, final_k=10):
    return CascadeSpec(ScorerConfig("bm25"), pool_size=pool,
                       stages=[StageSpec(ScorerConfig("bi-encoder"), k, name=f"s{i}") for i, k in enumerate(keeps)],
                       final_k=final_k)


def phantom_stage():
    """Relevant: d0 (first-pass rank 1) and d150 (rank 151). The stage ranks d0 first, unless it is
    handed d80 (rank 81, not relevant), which it likes best: the phantom. It ranks d150 below every
    other document, so handing it d150 raises its input recall but not the final list's quality."""
    s = np.tile(1 + np.linspace(0, 0.9, N)[::-1], (Q, 1))   # fillers between 1 and 2, first-pass order
    s[:, 0], s[:, 80], s[:, 150] = 5.0, 9.0, 0.0
    return s


def test_a_phantom_deeper_in_the_first_pass_lowers_quality_while_recall_rises():
    m, rel = matrix([0, 150], phantom_stage())
    run = simulate(spec(200, 10), m)
    curve = depth_curve(run, rel, 0, depths=[10, 50, 100, 200, 300])
    assert curve["depth"].tolist() == [10, 50, 100, 200, 300]
    assert curve["current"].tolist() == [False, False, False, True, False]
    assert curve["covered"].all() and (curve["stage"] == "s0").all() and (curve["step_index"] == 1).all()
    # d0 first up to 80 deep; then the phantom first and d0 second
    assert curve["ndcg@10"].to_numpy() == pytest.approx([1 / IDEAL_2] * 2 + [1 / np.log2(3) / IDEAL_2] * 3)
    assert curve["mrr@10"].tolist() == pytest.approx([1, 1, .5, .5, .5])
    assert curve["recall_in"].tolist() == pytest.approx([.5, .5, .5, 1, 1])
    assert curve["recall@10"].tolist() == pytest.approx([.5] * 5)     # d150 never reaches the top 10
    assert curve["candidates_in"].tolist() == [10, 50, 100, 200, 300]

    v = phantom_depths(curve)
    assert (v.peak_depth, v.peak_recall_in) == (10, .5)                 # ties go to the smaller depth
    assert v.peak_ndcg == pytest.approx(1 / IDEAL_2)
    assert v.phantom == [200, 300]                                      # quality down, recall up
    assert v.falls == [100, 200, 300]                                   # 100: down, with no more recall
    assert v.current_depth == 200 and v.current_is_phantom and v.current_falls
    assert (v.deepest_depth, v.deepest_recall_in) == (300, 1.0)


def test_the_curve_matches_evaluate_run_on_each_simulated_spec():
    """Each point is the spec with that input depth, evaluated like everywhere else."""
    rng = np.random.default_rng(0)
    m, rel = matrix([0, 7, 40, 150], rng.random((Q, N)), rng.random((Q, N)))
    run = simulate(spec(100, 30, 10), m)
    curve = depth_curve(run, rel, 1, depths=[10, 30, 60, 200]).set_index("depth")
    for d in (10, 30, 60, 200):
        other = simulate(with_input_depth(run.spec, 1, d), m)
        ev = evaluate_run(other, None, relevance=rel)
        assert curve.loc[d, "ndcg@10"] == pytest.approx(ev.final.means["ndcg@10"])
        assert curve.loc[d, "mrr@10"] == pytest.approx(ev.final.means["mrr@10"])
        assert curve.loc[d, "recall_in"] == pytest.approx(ev.steps[1].recall)   # what s0 keeps is s1's input
    assert curve["current"].tolist() == [False, True, False, False]


def test_quality_that_rises_with_depth_has_no_phantom():
    # the stage ranks every relevant document first; deeper inputs only bring more of them
    m, rel = matrix([0, 40, 120, 250], np.tile(np.zeros(N), (Q, 1)) + np.isin(np.arange(N), [0, 40, 120, 250]))
    curve = depth_curve(simulate(spec(100, 10), m), rel, 0)
    assert curve["ndcg@10"].is_monotonic_increasing and curve["recall_in"].is_monotonic_increasing
    v = phantom_depths(curve)
    assert v.phantom == [] and v.falls == [] and not v.current_is_phantom
    assert v.peak_depth == 300 and v.peak_ndcg == pytest.approx(1.0)


def test_depths_without_stored_scores_are_not_covered():
    s = phantom_stage()
    s[:, 120:] = np.nan                                  # the stage was scored 120 deep
    m, rel = matrix([0, 150], s, depth=250)             # the first pass was stored 250 deep
    curve = depth_curve(simulate(spec(100, 10), m), rel, 0, depths=[10, 100, 200, 280])
    assert curve["covered"].tolist() == [True, True, False, False]
    assert curve.loc[~curve["covered"], ["ndcg@10", "recall_in"]].isna().all().all()
    v = phantom_depths(curve)
    assert v.covered == 2 and v.deepest_depth == 100 and v.phantom == [] and v.falls == [100]


def test_nothing_covered_gives_an_empty_verdict():
    s = np.full((Q, N), np.nan)
    s[:, :10] = 1.0                                      # the stage was scored only over a pool of 10
    m, rel = matrix([0], s)
    curve = depth_curve(simulate(spec(10, 5, final_k=5), m), rel, 0, depths=[20, 50])
    v = phantom_depths(curve)
    assert not curve["covered"].any() and v.covered == 0 and v.peak_depth is None
    assert v.current_depth is None and v.phantom == [] and not v.current_is_phantom


def test_other_cut_offs_adjust_only_to_stay_valid():
    sp = spec(100, 50, 20, 10, final_k=5)
    assert input_depth(sp, 0) == 100 and input_depth(sp, 2) == 20
    assert with_input_depth(sp, 2, 60).keeps == [100, 60, 60, 10]       # s0 raised to hand s1 60
    assert with_input_depth(sp, 1, 30).keeps == [100, 30, 20, 10]
    deeper = with_input_depth(sp, 0, 8)                                   # later ones clipped to 8
    assert deeper.keeps == [8, 8, 8, 8] and deeper.final_k == 5
    assert with_input_depth(sp, 0, 3).final_k == 3
    with pytest.raises(SpecError, match="stage 3 does not exist"):
        with_input_depth(sp, 3, 10)


def test_default_depths_run_from_final_k_to_the_stored_depth_and_include_the_current_one():
    m, rel = matrix([0], np.zeros((Q, N)), depth=250)
    d = default_depths(simulate(spec(123, 10), m), 0)
    assert d[0] == 10 and d[-1] == 250 and 123 in d and 12 <= len(d) <= 17
    assert (np.diff(d) > 0).all()


def test_three_hundred_queries_a_thousand_deep_in_well_under_a_second():
    rng = np.random.default_rng(0)
    q, n = 300, 1000
    grades = (rng.random((q, n)) < 0.005).astype(float)
    rel = Relevance(grades, -np.sort(-grades, axis=1), (grades > 0).sum(axis=1))
    m = ScoreMatrix([f"q{i}" for i in range(q)], [f"d{j}" for j in range(n)], np.tile(np.arange(n), (q, 1)),
                    np.tile(np.arange(n, 0, -1, dtype=float), (q, 1)), [rng.random((q, n)) + grades])
    run = simulate(spec(100, 10), m)
    start = time.perf_counter()
    curve = depth_curve(run, rel, 0)
    elapsed = time.perf_counter() - start
    assert 14 <= len(curve) <= 16 and curve["covered"].all()
    # ~0.08 s on a 2-core machine; the bound leaves room for a busy one
    assert elapsed < 2.0


def test_on_the_bundled_sample_when_its_scores_are_already_stored(tmp_path):
    """BM25 -> 100 -> MiniLM bi-encoder on sample_data/ from the data folder's stored scores (a
    copy: the test never writes there). Skipped where nothing is stored: it never scores."""
    import shutil
    from pathlib import Path

    from cascade_core.analysis.experiment import Experiment
    from cascade_core.data import load_dataset
    from cascade_core.doctor.depth import check_depth_quality
    from cascade_core.errors import CascadeError
    from cascade_core.home import cascade_home
    from cascade_core.scoring.workspace import Workspace

    store = cascade_home() / "scores.sqlite"
    if not store.is_file():
        pytest.skip(f"no score store at {store}")
    home = tmp_path / "home"
    home.mkdir()
    for suffix in ("", "-wal"):
        if Path(f"{store}{suffix}").is_file():
            shutil.copy(f"{store}{suffix}", home / f"scores.sqlite{suffix}")
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "scifact-mini"
    sp = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10,
                                "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 20}]})
    ws = Workspace(home)
    try:
        exp = Experiment(load_dataset(sample, split="test"), sp, ws)
        matrix, rel = exp.snapshot()
        result = exp.run()
    except CascadeError as exc:                         # not stored (MissingScoresError), model absent, ...
        pytest.skip(f"the sample's scores are not stored: {exc}")
    finally:
        ws.close()
    if matrix.depth < 200:
        pytest.skip(f"the first pass is stored only {matrix.depth} deep")
    start = time.perf_counter()
    curve = depth_curve(result.run, rel, 0)
    elapsed = time.perf_counter() - start
    assert curve["covered"].sum() >= 3 and elapsed < 2.0
    now = curve[curve["current"]].iloc[0]
    assert now["depth"] == 100
    assert now["ndcg@10"] == pytest.approx(result.evaluation.final.means["ndcg@10"])
    assert now["recall_in"] == pytest.approx(result.evaluation.steps[0].recall)
    (check,) = check_depth_quality(result.run, rel)
    assert check.status in {"ok", "flagged"} and check.evidence["current depth"] == 100
