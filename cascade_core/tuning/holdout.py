"""Guard against tuning to the test set: choose cut-offs on some queries, measure on the others.

Repeated k-fold over queries: in each fold the budget tuner's choice is made on the training
queries only and its nDCG@10 is measured on the held-out ones. The spread of held-out scores,
and the gap to the in-sample score, say how much of a tuned gain is real.

>>> import numpy as np
>>> folds = list(_folds(10, k=5, seed=0)); len(folds), sorted(np.concatenate(folds).tolist()) == list(range(10))
(5, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .search import GridResult, best_within_budget


@dataclass
class HoldoutResult:
    folds: pd.DataFrame          # one row per fold: chosen cut-offs, train and held-out nDCG@10
    in_sample: float             # nDCG@10 of the combination tuned on all queries
    in_sample_index: int | None

    @property
    def held_out_mean(self) -> float:
        return float(self.folds["held-out ndcg@10"].mean())

    @property
    def held_out_std(self) -> float:
        return float(self.folds["held-out ndcg@10"].std(ddof=1)) if len(self.folds) > 1 else 0.0

    @property
    def optimism(self) -> float:
        """In-sample minus held-out: how much tuning flattered itself."""
        return self.in_sample - self.held_out_mean


def _folds(n: int, k: int, seed: int):
    perm = np.random.default_rng(seed).permutation(n)
    return np.array_split(perm, k)


def holdout_validation(result: GridResult, k: int = 5, repeats: int = 2, seed: int = 0) -> HoldoutResult:
    """k-fold (repeated) validation of :func:`best_within_budget` on ``result``'s grid."""
    n = result.per_query.shape[1]
    k = max(2, min(k, n))
    rows = []
    cutoff_cols = [c for c in result.table.columns if c == "pool_size" or c.startswith("keep ")]
    for r in range(repeats):
        for f, test in enumerate(_folds(n, k, seed + r)):
            train = np.setdiff1d(np.arange(n), test)
            chosen = best_within_budget(result, train)
            if chosen is None:
                continue
            row = {"repeat": r + 1, "fold": f + 1, "queries held out": len(test)}
            row.update({c: result.table.loc[chosen, c] for c in cutoff_cols})
            row["train ndcg@10"] = float(np.nanmean(result.per_query[chosen, train]))
            row["held-out ndcg@10"] = float(np.nanmean(result.per_query[chosen, test]))
            rows.append(row)
    best = best_within_budget(result)
    in_sample = float(np.nanmean(result.per_query[best])) if best is not None else float("nan")
    return HoldoutResult(pd.DataFrame(rows), in_sample, best)
