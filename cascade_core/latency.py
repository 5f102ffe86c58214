"""Latency: a cost model per scorer, fitted on measured calls, and predicted budgets per stage.

Every timed call of a scorer is stored as (pairs, characters, seconds). The model is
``ms = fixed + per_pair * pairs`` fitted by non-negative least squares, which is what a stage
costs per query when it receives ``pairs`` candidates. The fit needs calls of more than one
size: scoring times a few queries' candidates in two parts of different sizes for that (see
``scoring.py``), because a stage that always receives the whole pool would otherwise give one
size only, and a per-query cost (encoding the query) would be mistaken for a per-pair one.

A first pass is fitted ``per_query``: BM25 and a vector search score or scan the whole corpus
whatever the pool size, so a smaller pool does not make it cheaper.

>>> m = CostModel.fit("x", np.array([[10, 0, 0.011], [20, 0, 0.021], [40, 0, 0.041]]))
>>> round(m.fixed_ms, 3), round(m.per_pair_ms, 3), round(m.predict_ms(100), 1)
(1.0, 1.0, 101.0)
>>> fp = CostModel.fit("bm25", np.array([[100, 0, 0.012], [1000, 0, 0.013], [100, 0, 0.011]]), per_query=True)
>>> round(fp.predict_ms(10), 1), round(fp.predict_ms(1000), 1)
(12.0, 12.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class CostModel:
    scorer_id: str
    fixed_ms: float
    per_pair_ms: float
    n_calls: int

    @classmethod
    def fit(cls, scorer_id: str, calls: np.ndarray, per_query: bool = False) -> "CostModel":
        """Fit on rows ``(n_pairs, n_chars, seconds)``.

        ``per_query``: the cost does not depend on the pairs (a first pass): the median call.
        With one call size only (costs stored before calibration), all cost is taken per pair:
        the cautious reading, which never predicts a deeper cut-off cheaper than it is.
        """
        calls = np.asarray(calls, dtype=float).reshape(-1, 3)
        if len(calls) == 0:
            return cls(scorer_id, float("nan"), float("nan"), 0)
        n, ms = calls[:, 0], calls[:, 2] * 1000.0
        if per_query:
            return cls(scorer_id, float(np.median(ms)), 0.0, len(calls))
        if len(np.unique(n)) < 2:
            per = float(np.median(ms / np.maximum(n, 1)))
            return cls(scorer_id, 0.0, per, len(calls))
        design = np.column_stack([np.ones_like(n), n])
        (fixed, per), _ = nnls(design, ms)
        # Calls slowed by something else on the machine (a busy CPU, a first-call warm-up) are
        # outliers, not costs: drop residuals beyond 3 MADs once and refit.
        resid = ms - design @ np.array([fixed, per])
        mad = np.median(np.abs(resid - np.median(resid))) or 1e-9
        keep = np.abs(resid - np.median(resid)) <= 3 * 1.4826 * mad
        if keep.sum() >= 2 and len(np.unique(n[keep])) >= 2:
            (fixed, per), _ = nnls(design[keep], ms[keep])
        return cls(scorer_id, float(fixed), float(per), len(calls))

    @property
    def known(self) -> bool:
        return self.n_calls > 0

    def predict_ms(self, n_pairs: float) -> float:
        return self.fixed_ms + self.per_pair_ms * float(n_pairs)


@dataclass(frozen=True)
class StageLatency:
    name: str
    n_pairs: float          # candidates the step scores per query
    predicted_ms: float     # NaN when the scorer has no recorded cost yet
    cumulative_ms: float
    over_budget: bool       # the cumulative time passes the budget at this step


@dataclass(frozen=True)
class LatencyReport:
    stages: list[StageLatency]
    budget_ms: float | None

    @property
    def total_ms(self) -> float:
        return self.stages[-1].cumulative_ms if self.stages else 0.0

    @property
    def within_budget(self) -> bool | None:
        return None if self.budget_ms is None else self.total_ms <= self.budget_ms

    @property
    def first_over_budget(self) -> str | None:
        return next((s.name for s in self.stages if s.over_budget), None)


def predict_latency(names: list[str], n_pairs: list[float], models: list[CostModel],
                    budget_ms: float | None = None) -> LatencyReport:
    """Per-step predicted cost per query, cumulated, against an optional budget."""
    stages, total = [], 0.0
    for name, n, model in zip(names, n_pairs, models):
        ms = model.predict_ms(n) if model.known else float("nan")
        total += 0.0 if np.isnan(ms) else ms
        over = budget_ms is not None and total > budget_ms
        stages.append(StageLatency(name, float(n), ms, total, over))
    return LatencyReport(stages, budget_ms)


def pairs_per_step(spec, lengths) -> list[float]:
    """Candidates each step of ``spec`` scores per query (mean over queries): the one count that
    every latency prediction uses (simulation, tuner, comparisons, explanations, the doctor).

    The first pass counts what it keeps (its cost is per query anyway); each stage what it
    receives, ``min(the cut-off before it, the query's first-pass list length)``. ``lengths``:
    each query's first-pass list length (:attr:`ScoreMatrix.lengths`).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}, {"scorer": {"kind": "bm25"}, "keep": 5}]})
    >>> pairs_per_step(spec, [100, 40])
    [70.0, 70.0, 20.0]
    """
    n = np.asarray(lengths, dtype=float)
    kept = np.minimum(n, spec.pool_size)
    counts = [float(kept.mean())]
    for stage in spec.stages:
        counts.append(float(kept.mean()))
        kept = np.minimum(kept, stage.keep)
    return counts


def predict_spec_latency(spec, lengths, models: list[CostModel], budget_ms: float | None = None) -> LatencyReport:
    """``spec``'s predicted cost per query from cost models and list lengths alone (no simulation)."""
    return predict_latency(spec.stage_names, pairs_per_step(spec, lengths), list(models), budget_ms)


def percentiles_ms(samples_s, qs=PERCENTILES) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` in ms from samples in seconds."""
    arr = np.asarray(samples_s, dtype=float) * 1000.0
    if arr.size == 0:
        return {f"p{q}": float("nan") for q in qs}
    return {f"p{q}": float(np.percentile(arr, q)) for q in qs}
