"""Depth against quality: does a rerank stage get *worse* when it is handed more candidates?

A deeper input brings the stage more of the relevant documents (its input recall rises), but
also more non-relevant ones that it may rank above them: "phantom" hits (Jacob et al., "Drowning
in Documents", arXiv 2411.11767, saw rerankers' quality fall as the depth they rerank grows).
:func:`depth_curve` varies one stage's *input depth* (the pool for the first stage, else the
previous stage's keep) and simulates each point from the stored scores (no model call);
:func:`phantom_depths` finds the depths where the final nDCG@10 falls below its peak while the
stage receives more of the relevant documents.

>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
>>> from cascade_core.analysis.evaluation import Relevance
>>> from cascade_core.scorers import ScorerConfig
>>> # 1 query, 40 documents in first-pass order; d0 (rank 1) and d30 (rank 31) are relevant.
>>> # The stage puts d0 first, unless it is handed d20 (rank 21, not relevant): a phantom.
>>> stage = np.zeros((1, 40)); stage[0, [0, 20, 30]] = [2.0, 3.0, 1.0]
>>> m = ScoreMatrix(["q"], [f"d{i}" for i in range(40)], np.arange(40)[None], -np.arange(40.0)[None], [stage])
>>> grades = np.zeros((1, 40)); grades[0, [0, 30]] = 1
>>> rel = Relevance(grades, np.ones((1, 2)), np.array([2]))
>>> spec = CascadeSpec(ScorerConfig("bm25"), pool_size=25, stages=[StageSpec(ScorerConfig("bi-encoder"), 1)],
...                    final_k=1)
>>> curve = depth_curve(simulate(spec, m), rel, 0, depths=[10, 25, 40])
>>> curve[["depth", "ndcg@10", "recall_in", "current"]]
   depth   ndcg@10  recall_in  current
0     10  0.613147        0.5    False
1     25  0.000000        0.5     True
2     40  0.000000        1.0    False
>>> v = phantom_depths(curve)    # at 25 quality falls with no more recall; at 40 recall rises too
>>> v.peak_depth, v.phantom, v.falls, v.current_is_phantom
(10, [40], [25, 40], False)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..analysis.evaluation import Relevance
from ..cascade.simulate import CascadeRun, simulate
from ..cascade.spec import MAX_POOL, CascadeSpec
from ..errors import MissingScoresError, SpecError
from ..metrics import evaluate, mean_metrics

DEPTH_POINTS = 15          # about this many depths on the default geometric grid
FINAL_METRICS = ("ndcg@10", "mrr@10", "recall@10")
COLUMNS = ["stage", "step_index", "depth", *FINAL_METRICS, "recall_in", "candidates_in", "covered", "current"]


def input_depth(spec: CascadeSpec, stage: int) -> int:
    """The number of candidates stage ``stage`` (0-based) is handed: the pool, or the previous keep.

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 20}, {"scorer": {"kind": "bm25"}, "keep": 10}]})
    >>> input_depth(spec, 0), input_depth(spec, 1)
    (100, 20)
    """
    _check_stage(spec, stage)
    return spec.keeps[stage]


def with_input_depth(spec: CascadeSpec, stage: int, depth: int) -> CascadeSpec:
    """``spec`` with stage ``stage`` handed ``depth`` candidates, other cut-offs kept where valid.

    Earlier cut-offs are raised to at least ``depth`` (they must pass that many on); later ones
    and ``final_k`` are clipped to at most ``depth`` (cut-offs never grow down the cascade).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 20}, {"scorer": {"kind": "bm25"}, "keep": 10}]})
    >>> with_input_depth(spec, 1, 200).describe()
    'bm25 -> 200 -> bi-encoder -> 200 -> bm25 -> 10 -> final 10'
    >>> with_input_depth(spec, 0, 5).describe()
    'bm25 -> 5 -> bi-encoder -> 5 -> bm25 -> 5 -> final 5'
    """
    _check_stage(spec, stage)
    depth = int(depth)
    if depth < 1:
        raise SpecError(f"an input depth must be >= 1, not {depth}")
    keeps = spec.keeps
    new = [max(k, depth) if i < stage else depth if i == stage else min(k, depth) for i, k in enumerate(keeps)]
    return spec.with_keeps(pool_size=new[0], keeps=new[1:], final_k=min(spec.final_k, new[-1]))


def stored_depth(run: CascadeRun) -> int:
    """How deep the first pass is stored for every query (the deepest input any stage can get)."""
    m = run.matrix
    return int(min(m.retrieved_depth or m.depth, m.depth))


def default_depths(run: CascadeRun, stage: int, points: int = DEPTH_POINTS) -> np.ndarray:
    """A geometric grid of input depths from ``final_k`` to the first pass's stored depth, plus
    the stage's current input depth.

    >>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
    >>> m = ScoreMatrix(["q"], [f"d{i}" for i in range(1000)], np.arange(1000)[None], -np.arange(1000.0)[None],
    ...                 [np.zeros((1, 1000))])
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 30,
    ...     "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 10}]})
    >>> default_depths(simulate(spec, m), 0).tolist()
    [10, 14, 19, 27, 30, 37, 52, 72, 100, 139, 193, 268, 373, 518, 720, 1000]
    """
    spec = run.spec
    current = input_depth(spec, stage)
    top, floor = min(stored_depth(run), MAX_POOL), spec.final_k
    grid = [top] if top <= floor else np.geomspace(floor, top, points).round().astype(int)
    return np.unique(np.concatenate([np.asarray(grid, dtype=int), [current]]))


def depth_curve(run: CascadeRun, relevance: Relevance, stage: int, depths=None) -> pd.DataFrame:
    """Final quality against stage ``stage``'s input depth, one row per depth (ascending).

    Each depth is simulated from ``run.matrix``'s stored scores with :func:`with_input_depth`'s
    cut-offs. Columns: ``stage`` (name), ``step_index`` (its position among the run's steps, first
    pass 0), ``depth``, the final list's ``ndcg@10``, ``mrr@10`` and ``recall@10``, ``recall_in``
    (mean share of judged-relevant documents the stage receives: the funnel recall of the step
    before it), ``candidates_in`` (mean candidates it receives: fewer than ``depth`` where lists
    are short), ``covered`` (False, and NaN metrics, where a needed score is not stored) and
    ``current`` (the spec's own depth). Means over queries as :func:`~cascade_core.metrics.mean_metrics`
    takes them (nDCG and recall skip queries without judged-relevant documents).
    """
    spec = run.spec
    current = input_depth(spec, stage)
    depths = default_depths(run, stage) if depths is None else np.unique(np.asarray(list(depths), dtype=int))
    if len(depths) and depths.min() < 1:
        raise SpecError(f"input depths must be >= 1, not {int(depths.min())}")
    name = spec.stages[stage].name
    rows = []
    for d in depths.tolist():
        row = {"stage": name, "step_index": stage + 1, "depth": d, "covered": True, "current": d == current}
        try:
            # The spec's own depth is the run itself: no need to simulate it again.
            sim = run if d == current else simulate(with_input_depth(spec, stage, d), run.matrix)
        except MissingScoresError:
            nan = dict.fromkeys([*FINAL_METRICS, "recall_in", "candidates_in"], np.nan)
            rows.append({**row, **nan, "covered": False})
            continue
        rows.append({**row, **_final_metrics(sim, relevance), **_input_of(sim, relevance, stage)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _final_metrics(run: CascadeRun, relevance: Relevance) -> dict[str, float]:
    cols, valid = run.final.kept()
    return mean_metrics(evaluate(relevance.lists(cols, valid), FINAL_METRICS))


def _input_of(run: CascadeRun, relevance: Relevance, stage: int) -> dict[str, float]:
    """What stage ``stage`` receives: the step before it keeps it (its recall is the funnel's)."""
    before = run.steps[stage]
    cols, valid = before.kept()
    recall = mean_metrics(evaluate(relevance.lists(cols, valid), ["recall"]))["recall"]
    return {"recall_in": recall, "candidates_in": float(before.n_kept.mean())}


@dataclass
class DepthVerdict:
    """Where a stage's final nDCG@10 peaks over its input depth, and where depth costs quality.

    ``phantom``: covered depths past the peak whose nDCG@10 is more than the tolerance below the
    peak's *while* the stage receives more of the relevant documents than at the peak (quality
    falls while recall rises). ``falls``: every covered depth past the peak more than the
    tolerance below it, with or without more recall (a superset of ``phantom``; the difference is
    depths that add no relevant document and only cost quality).
    """

    stage: str
    tolerance: float
    covered: int                         # depths with stored scores
    peak_depth: int | None               # None: no depth covered
    peak_ndcg: float
    peak_recall_in: float
    current_depth: int | None
    current_ndcg: float
    current_recall_in: float
    deepest_depth: int | None            # the deepest covered depth
    deepest_ndcg: float
    deepest_recall_in: float
    phantom: list[int] = field(default_factory=list)
    falls: list[int] = field(default_factory=list)

    @property
    def current_is_phantom(self) -> bool:
        return self.current_depth in self.phantom

    @property
    def current_falls(self) -> bool:
        return self.current_depth in self.falls


def phantom_depths(curve: pd.DataFrame, tolerance: float = 0.005) -> DepthVerdict:
    """The peak of a :func:`depth_curve` and the depths past it where quality falls while recall
    rises (the peak: the best nDCG@10 among covered depths, ties to the smaller depth).

    >>> curve = pd.DataFrame({"stage": "ce", "depth": [10, 20, 50, 100], "ndcg@10": [.60, .65, .64, .62],
    ...                       "recall_in": [.7, .8, .9, .9], "covered": True, "current": [False, False, True, False]})
    >>> v = phantom_depths(curve)
    >>> v.peak_depth, v.phantom, v.falls, v.current_is_phantom
    (20, [50, 100], [50, 100], True)
    """
    c = curve.sort_values("depth", kind="stable")
    stage = str(c["stage"].iloc[0]) if "stage" in c and len(c) else ""
    ok = c[c["covered"].astype(bool) & c["ndcg@10"].notna()]
    cur = c[c["current"].astype(bool)]
    current_depth = int(cur["depth"].iloc[0]) if len(cur) else None
    current = ok[ok["depth"] == current_depth]
    nan = float("nan")
    if ok.empty:
        return DepthVerdict(stage, tolerance, 0, None, nan, nan, current_depth, nan, nan, None, nan, nan)
    ndcg, recall, depth = ok["ndcg@10"].to_numpy(float), ok["recall_in"].to_numpy(float), ok["depth"].to_numpy(int)
    p = int(np.argmax(ndcg))        # the first maximum: ties go to the smaller depth
    past = (depth > depth[p]) & (ndcg < ndcg[p] - tolerance)
    # A hair of float noise in a mean must not read as "more recall".
    more_recall = recall > recall[p] + 1e-12
    return DepthVerdict(
        stage, tolerance, len(ok), int(depth[p]), float(ndcg[p]), float(recall[p]), current_depth,
        float(current["ndcg@10"].iloc[0]) if len(current) else nan,
        float(current["recall_in"].iloc[0]) if len(current) else nan,
        int(depth[-1]), float(ndcg[-1]), float(recall[-1]),
        depth[past & more_recall].tolist(), depth[past].tolist())


def _check_stage(spec: CascadeSpec, stage: int) -> None:
    if not 0 <= stage < len(spec.stages):
        raise SpecError(f"stage {stage} does not exist: the cascade has {len(spec.stages)} rerank stage(s) "
                        f"(0-based)")

