"""Recall curves, plateaus, and the recall at each step's own cut-off."""

import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.data import Qrels
from cascade_core.scorers import ScorerConfig
from cascade_core.tuning import default_grid, recall_at_cutoffs, recall_curves

N = 300


def test_recall_is_read_at_the_cut_off_itself_not_the_nearest_grid_point():
    """The one relevant document of every query sits at first-pass rank 250 (column 249). A pool
    of 250 keeps it; the nearest default grid point below 250 does not."""
    assert 250 not in default_grid(N)
    docs = np.tile(np.arange(N), (3, 1))
    first = np.tile(np.arange(N, 0, -1, dtype=float), (3, 1))
    stage = np.random.default_rng(0).random((3, N))
    matrix = ScoreMatrix(["q0", "q1", "q2"], [f"d{i}" for i in range(N)], docs, first, [stage])
    relevance = Relevance.of(matrix, Qrels({f"q{i}": {"d249": 1} for i in range(3)}))
    spec = CascadeSpec(ScorerConfig("bm25"), pool_size=250, stages=[StageSpec(ScorerConfig("bi-encoder"), 250)],
                       final_k=10)
    run = simulate(spec, matrix)
    at = recall_at_cutoffs(run, relevance)
    assert at["first pass"] == pytest.approx(1.0)
    assert at["bi-encoder"] == pytest.approx(1.0)
    # A pool deeper than the 300 retrieved keeps all of them.
    assert recall_at_cutoffs(simulate(spec.with_keeps(pool_size=400), matrix), relevance)["first pass"] == 1.0

    curves, _ = recall_curves(run, relevance)
    first_pass = curves[curves["step"] == "first pass"]
    below = first_pass[first_pass["k"] <= 250].iloc[-1]
    assert below["k"] < 250 and below["recall"] == pytest.approx(0.0)  # what the page used to show
