"""Where should each cut-off be? Recall curves per step and the plateau where recall stops rising.

A step's recall@k curve ranks the candidates the step *receives* by its own score, so it is
conditional on the steps before it: it answers "if this stage kept k, how much of what is
relevant would still be there?"

>>> plateau(np.array([10, 20, 50, 100]), np.array([0.5, 0.8, 0.9, 0.9]))
50
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.evaluation import Relevance
from ..cascade.simulate import CascadeRun

PLATEAU_TOLERANCE = 0.005   # recall within half a point of its maximum counts as "stopped rising"


def default_grid(max_k: int) -> np.ndarray:
    """Cut-offs to try: every k up to 20, then about 40 more on a log scale up to ``max_k``."""
    small = np.arange(1, min(20, max_k) + 1)
    large = np.unique(np.geomspace(max(20, 1), max(max_k, 1), 40).round().astype(int))
    return np.unique(np.concatenate([small, large[large <= max_k]]))


def recall_curve(run: CascadeRun, relevance: Relevance, step: int, ks=None) -> pd.DataFrame:
    """Mean recall@k over queries of one step's ordering of its input, for each k in ``ks``."""
    st = run.steps[step]
    n_in = st.order.shape[1]
    ks = default_grid(n_in) if ks is None else np.asarray([k for k in ks if 1 <= k <= n_in])
    # Only the columns up to the deepest k asked for (one cut-off reads k columns, not the whole
    # input: recall_at_cutoffs runs on every slider move).
    depth = int(ks.max()) if len(ks) else 0
    rel = (np.take_along_axis(relevance.grades, st.order[:, :depth], axis=1) > 0) & st.valid[:, :depth]
    found = np.cumsum(rel, axis=1)[:, ks - 1]
    n_rel = relevance.n_relevant[:, None].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(n_rel > 0, found / np.where(n_rel > 0, n_rel, 1), np.nan)
    return pd.DataFrame({"k": ks, "recall": np.nanmean(recall, axis=0), "step": st.name})


def recall_at_cutoffs(run: CascadeRun, relevance: Relevance) -> dict[str, float]:
    """Each step's mean recall at exactly its own cut-off (``keep``), by step name.

    The same quantity as the step's recall curve at ``k = keep``, but at the cut-off itself rather
    than the nearest grid point. A cut-off deeper than what the step receives keeps everything.

    >>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
    >>> # 1 query, 30 documents, relevant ones at first-pass ranks 3 and 23; the pool is 23.
    >>> m = ScoreMatrix(["q"], [f"d{i}" for i in range(30)], np.arange(30)[None], -np.arange(30.0)[None], [])
    >>> grades = np.zeros((1, 30)); grades[0, [2, 22]] = 1
    >>> rel = Relevance(grades, np.ones((1, 1)), np.array([2]))
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 23, "final_k": 10})
    >>> recall_at_cutoffs(simulate(spec, m), rel)
    {'first pass': 1.0}
    """
    out = {}
    for i, st in enumerate(run.steps):
        k = max(1, min(int(st.keep), st.order.shape[1]))
        out[st.name] = float(recall_curve(run, relevance, i, ks=[k])["recall"].iloc[0])
    return out


def plateau(ks: np.ndarray, recall: np.ndarray, tolerance: float = PLATEAU_TOLERANCE) -> int:
    """The smallest k whose recall is within ``tolerance`` of the curve's maximum."""
    recall = np.asarray(recall, dtype=float)
    best = np.nanmax(recall)
    return int(np.asarray(ks)[np.flatnonzero(recall >= best - tolerance)[0]])


def recall_curves(run: CascadeRun, relevance: Relevance) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every step's curve (long format) and each step's plateau cut-off."""
    frames, plateaus = [], {}
    for i, st in enumerate(run.steps):
        df = recall_curve(run, relevance, i)
        frames.append(df)
        plateaus[st.name] = plateau(df["k"].to_numpy(), df["recall"].to_numpy())
    return pd.concat(frames, ignore_index=True), plateaus


def cutoffs_and_plateaus(run: CascadeRun, relevance: Relevance, curves: pd.DataFrame,
                         plateaus: dict[str, int]) -> pd.DataFrame:
    """Each step's cut-off in use beside the plateau of its recall curve, one row per step (index:
    the step's name): ``current cut-off``, ``recall at it`` (exact, :func:`recall_at_cutoffs`),
    ``suggested (plateau)``, ``recall at plateau`` and ``points below plateau`` (100 x the recall
    the cut-off leaves on the table; 0 within the plateau's own tolerance). ``curves`` and
    ``plateaus`` are what :func:`recall_curves` returned for the same run.

    >>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
    >>> m = ScoreMatrix(["q"], [f"d{i}" for i in range(30)], np.arange(30)[None], -np.arange(30.0)[None], [])
    >>> grades = np.zeros((1, 30)); grades[0, [2, 22]] = 1
    >>> rel = Relevance(grades, np.ones((1, 1)), np.array([2]))
    >>> run = simulate(CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 10}), m)
    >>> # the second relevant document is at rank 23: cutting at 20 keeps half of the relevant
    >>> table = cutoffs_and_plateaus(run, rel, *recall_curves(run, rel))
    >>> table[["current cut-off", "recall at it", "suggested (plateau)"]].to_dict("records")
    [{'current cut-off': 20, 'recall at it': 0.5, 'suggested (plateau)': 23}]
    >>> table[["recall at plateau", "points below plateau"]].to_dict("records")
    [{'recall at plateau': 1.0, 'points below plateau': 50.0}]
    """
    at_cutoff = recall_at_cutoffs(run, relevance)
    rows = {}
    for name, keep in zip(run.spec.stage_names, run.spec.keeps):
        curve = curves[curves["step"] == name].set_index("k")["recall"]
        top = float(curve.get(plateaus[name], np.nan))
        below = top - at_cutoff[name]
        rows[name] = {"current cut-off": keep, "recall at it": at_cutoff[name], "suggested (plateau)": plateaus[name],
                      "recall at plateau": top, "points below plateau": 100 * below if below > PLATEAU_TOLERANCE else 0.0}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "step"
    return table
