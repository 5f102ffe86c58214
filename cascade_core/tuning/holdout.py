"""Guard against tuning to the test set: choose cut-offs on some queries, measure on the others.

Repeated k-fold over queries: in each fold the tuner's choice is made on the training queries
only, by the same rule the user tuned with (best nDCG@10 within the budget, or the cheapest within
a point of the best recall@10: see :data:`.search.OBJECTIVES`), and its nDCG@10 and recall@10 are
measured on the held-out ones. The spread of held-out scores, and the gap to the in-sample score,
say how much of a tuned gain is real.

>>> import numpy as np
>>> folds = list(_folds(10, k=5, seed=0)); len(folds), sorted(np.concatenate(folds).tolist()) == list(range(10))
(5, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .search import GridResult, Rule, best_within_budget, choice_columns


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
    def held_out_first_pass(self) -> float:
        """The first pass alone on the same held-out queries (NaN when it was not in the grid): the
        out-of-sample number tuning must beat."""
        col = "held-out first pass ndcg@10"
        return float(self.folds[col].mean()) if col in self.folds else float("nan")

    @property
    def optimism(self) -> float:
        """In-sample minus held-out: how much tuning flattered itself."""
        return self.in_sample - self.held_out_mean


def _folds(n: int, k: int, seed: int):
    perm = np.random.default_rng(seed).permutation(n)
    return np.array_split(perm, k)


def holdout_validation(result: GridResult, k: int = 5, repeats: int = 2, seed: int = 0,
                       rule: Rule = best_within_budget) -> HoldoutResult:
    """k-fold (repeated) validation of the selection ``rule`` on ``result``'s grid.

    ``rule(result, queries=train)`` chooses a combination from the training queries alone (default
    :func:`best_within_budget`); pass the rule the tuner's recommendation came from, or the folds
    would validate a choice nobody made. Folds where the rule chooses nothing are left out.
    """
    n = result.per_query.shape[1]
    k = max(2, min(k, n))
    rows = []
    cutoff_cols = choice_columns(result.table)   # cut-offs and combinations: the whole choice
    alone = result.table.index[result.table["first_pass_only"]] if "first_pass_only" in result.table else []
    for r in range(repeats):
        for f, test in enumerate(_folds(n, k, seed + r)):
            train = np.setdiff1d(np.arange(n), test)
            chosen = rule(result, queries=train)
            if chosen is None:
                continue
            row = {"repeat": r + 1, "fold": f + 1, "queries held out": len(test)}
            row.update({c: result.table.loc[chosen, c] for c in cutoff_cols})
            row.update(_measured(result.per_query[chosen], train, test, "ndcg@10"))
            if len(alone):   # the baseline on the very same held-out queries
                row["held-out first pass ndcg@10"] = float(np.nanmean(result.per_query[alone[0]][test]))
            if result.per_query_recall is not None:
                row.update(_measured(result.per_query_recall[chosen], train, test, "recall@10"))
            rows.append(row)
    best = rule(result)
    in_sample = float(np.nanmean(result.per_query[best])) if best is not None else float("nan")
    columns = ["repeat", "fold", "queries held out", *cutoff_cols, "train ndcg@10", "held-out ndcg@10"]
    return HoldoutResult(pd.DataFrame(rows, columns=None if rows else columns), in_sample, best)


def _measured(per_query: np.ndarray, train: np.ndarray, test: np.ndarray, metric: str) -> dict[str, float]:
    return {f"train {metric}": float(np.nanmean(per_query[train])),
            f"held-out {metric}": float(np.nanmean(per_query[test]))}
