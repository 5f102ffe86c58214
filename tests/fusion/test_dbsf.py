"""DBSF, added in one file (cascade_core/fusion/dbsf.py), is Qdrant's distribution-based score
fusion exactly, and every reader of the registry offers it: the spec, the tuner's --combine, the
doctor's fixes and the Qdrant export (exact there; the Build page: tests/app/test_build_page.py)."""

import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cascade_core.doctor.harm import simulated_fixes
from cascade_core.fusion import DBSF, parse_fusion, tuning_candidates
from cascade_core.fusion.kernels import three_sigma
from tests.doctor.test_doctor_harm import N, Q, setup, spec
from tests.helpers import run_cli


def qdrant_distr_norm(scores: list[float]) -> list[float]:
    """Qdrant's ``distr_norm`` (lib/segment/src/common/score_fusion.rs), written out: Welford's mean
    and sample variance, the mean +/- 3 standard deviations as the extremes, 0.5 when they meet."""
    if len(scores) < 2:
        return [0.5] * len(scores)
    mean, aggregate = 0.0, 0.0
    for k, s in enumerate(scores, start=1):
        old = s - mean
        mean += old / k
        aggregate += old * (s - mean)
    std = math.sqrt(aggregate / (len(scores) - 1))
    lo, hi = mean - 3 * std, mean + 3 * std
    return [0.5] * len(scores) if lo == hi else [(s - lo) / (hi - lo) for s in scores]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=30))
@example([43.4647813231543] * 3)   # equal scores whose float mean is off by a rounding: 0.5 all the same
def test_the_normalisation_is_qdrants(scores):
    ours = three_sigma(np.array([scores]), np.ones((1, len(scores)), bool))[0]
    assert ours.tolist() == pytest.approx(qdrant_distr_norm(scores), abs=1e-9)


def test_fusing_lists_sums_each_documents_normalised_scores():
    lists = [(["a", "b", "c"], [9.0, 5.0, 1.0]), (["c", "d"], [0.8, 0.2])]
    fused = DBSF().fuse(lists)
    first, second = qdrant_distr_norm([9.0, 5.0, 1.0]), qdrant_distr_norm([0.8, 0.2])
    assert fused == pytest.approx({"a": first[0], "b": first[1], "c": first[2] + second[0], "d": second[1]})


def test_the_doctor_tries_it_as_a_fix():
    first = np.tile(np.arange(N, dtype=float), (Q, 1))
    m, rel = setup(first, np.tile(np.arange(N, dtype=float)[::-1], (Q, 1)))
    fixes = simulated_fixes(simulate_run(m), rel, 0)
    assert "combine it with the earlier score (dbsf)" in fixes
    assert DBSF() in tuning_candidates()


def simulate_run(m):
    from cascade_core.cascade import simulate

    return simulate(spec(("reverse", 5, {})), m)


def test_cascade_tune_combine_dbsf(tiny_beir, tmp_path):
    out = tmp_path / "tune.json"
    res = run_cli("tune", "--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "bm25@10", "--combine", "dbsf",
                  "--values", "2", "--folds", "2", "--repeats", "1", "--json", str(out), home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    tried = [c.get("combine bm25") for c in report["combinations"]]
    # every grid point combines by DBSF; the current spec (replace) and the first pass alone are there too
    assert tried.count("dbsf") == len(tried) - 2 > 0 and set(tried) == {"dbsf", "replace", "-"}
    assert parse_fusion("dbsf") == DBSF()


@pytest.mark.slow
def test_cascade_export_says_a_dbsf_hybrid_is_exact_and_checks_it(tiny_beir, tmp_path):
    out = tmp_path / "first-pass.json"
    res = run_cli("export", "--qdrant", str(out), "--dataset", str(tiny_beir), "--first-pass", "hybrid",
                  "--param", "first-pass.fusion=dbsf", "--pool-size", "20", "--check", "5", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "fused by DBSF" in res.stdout and "5 of 5 queries return the simulated first pass" in res.stdout
    body = json.loads(out.read_text())
    assert body["exact"] and body["query"]["body"]["query"] == {"fusion": "dbsf"}
