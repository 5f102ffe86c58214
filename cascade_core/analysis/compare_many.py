"""Many saved experiments side by side: metrics, latency, and per-query wins and losses against a
chosen baseline with paired tests, corrected for testing several at once.

Each experiment other than the baseline is compared with it query by query on one metric
(:func:`cascade_core.analysis.compare.paired_test`: wins, losses, ties, the Wilcoxon signed-rank test).
With N experiments that is N - 1 tests, so the Wilcoxon p-values are adjusted by Holm's
step-down method (:func:`holm`), which keeps the chance of any false "significant" at 5% without
assuming the tests are independent. Experiments of different corpora, judgments or query sets are
refused: their per-query numbers are not paired (:func:`check_comparable` says which differ).

>>> holm([0.01, 0.04, 0.03]).round(3).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import CascadeError
from .compare import PairedComparison, paired_test
from .saved import SavedExperiment

METRICS = ("ndcg@10", "recall@10", "mrr@10")
ALPHA = 0.05


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input's order (NaN stays NaN, and is not counted).

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i + 1``, then made monotone:
    a hypothesis is rejected at level ``a`` exactly when its adjusted p is at most ``a``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out


def check_comparable(experiments: list[SavedExperiment]) -> None:
    """Refuse, with the reason, experiments whose per-query numbers cannot be paired."""
    if len(experiments) < 2:
        raise CascadeError("compare needs at least two saved experiments")
    names = [e.name for e in experiments]
    if len(set(names)) < len(names):
        raise CascadeError(f"an experiment is named twice: {', '.join(names)}")
    first = experiments[0]
    for e in experiments[1:]:
        for key, what in (("corpus", "corpus (documents)"), ("judgments", "relevance judgments")):
            if e.dataset.get(key) != first.dataset.get(key):
                raise CascadeError(
                    f"cannot compare {first.name!r} and {e.name!r}: they were evaluated on different {what} "
                    f"({first.dataset.get('name')} {first.dataset.get(key)} vs {e.dataset.get('name')} "
                    f"{e.dataset.get(key)}); per-query results only pair up on one dataset")
        if e.query_ids != first.query_ids:
            a, b = set(first.query_ids), set(e.query_ids)
            why = (f"{len(a - b)} queries only in {first.name!r}, {len(b - a)} only in {e.name!r}" if a != b
                   else "the same queries in another order")
            raise CascadeError(f"cannot compare {first.name!r} and {e.name!r}: different query sets ({why}); "
                               "save both with the same dataset and --queries")


@dataclass
class ManyComparison:
    """``table``: one row per experiment (the baseline first); ``tests``: each other one against
    the baseline; ``per_query``: ``[queries x experiments]`` of the metric."""

    experiments: list[SavedExperiment]
    baseline: str
    metric: str
    table: pd.DataFrame
    tests: dict[str, PairedComparison]
    per_query: pd.DataFrame

    def to_csv(self) -> str:
        return self.table.to_csv(float_format="%.6g")

    def wins_losses(self) -> pd.DataFrame:
        """Per query, each experiment's metric minus the baseline's (the wins-and-losses chart)."""
        base = self.per_query[self.baseline]
        return self.per_query.drop(columns=[self.baseline]).sub(base, axis=0)

    def significant(self, alpha: float = ALPHA) -> list[str]:
        """The experiments whose difference from the baseline holds after Holm's correction."""
        col = self.table["Holm p"]
        return [n for n, p in col.items() if p == p and p <= alpha]


def compare_experiments(experiments: list[SavedExperiment], baseline: str | None = None,
                        metric: str = "ndcg@10", metrics=METRICS) -> ManyComparison:
    """The side-by-side table of ``experiments`` against ``baseline`` (default: the first).

    Columns: the cascade, each of ``metrics`` (mean), predicted mean and p95 ms per query,
    measured p50/p95 ms (where a live run measured them), and against the baseline on ``metric``:
    wins, losses, ties, mean difference, the Wilcoxon p and its Holm-adjusted p.
    """
    check_comparable(experiments)
    by_name = {e.name: e for e in experiments}
    baseline = baseline or experiments[0].name
    if baseline not in by_name:
        raise CascadeError(f"baseline {baseline!r} is not among the compared experiments: {', '.join(by_name)}")
    ordered = [by_name[baseline]] + [e for e in experiments if e.name != baseline]
    qids = ordered[0].query_ids
    per_query = pd.DataFrame({e.name: e.values(metric) for e in ordered}, index=pd.Index(qids, name="query"))
    tests = {e.name: paired_test(per_query[e.name], per_query[baseline], metric) for e in ordered[1:]}
    adjusted = dict(zip(tests, holm([t.wilcoxon_p for t in tests.values()])))
    rows = []
    for e in ordered:
        means, lat = e.means, e.latency
        measured = lat.get("measured") or {}
        row = {"experiment": e.name, "cascade": e.cascade,
               **{m: means.get(m, float("nan")) for m in metrics},
               "predicted ms": _num(lat.get("predicted_ms")), "predicted p95 ms": _num(lat.get("p95")),
               "measured p50 ms": _num(measured.get("p50")), "measured p95 ms": _num(measured.get("p95"))}
        t = tests.get(e.name)
        nan = float("nan")   # the baseline's own row: nothing tested (NaN, not None: numeric columns)
        row.update({"wins": t.wins if t else nan, "losses": t.losses if t else nan, "ties": t.ties if t else nan,
                    f"{metric} diff": t.mean_diff if t else nan,
                    "Wilcoxon p": t.wilcoxon_p if t else nan, "Holm p": adjusted.get(e.name, nan)})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("experiment")
    return ManyComparison(ordered, baseline, metric, table, tests, per_query)


def _num(x) -> float:
    return float(x) if x is not None and not (isinstance(x, float) and math.isnan(x)) else float("nan")
