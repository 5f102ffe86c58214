"""nDCG and DCG, vectorised over all queries.

Convention (trec_eval, pytrec_eval, ir_measures and BEIR): **linear gain** (gain = grade) and
discount ``1 / log2(rank + 1)`` with ranks starting at 1. Linear is the default so that numbers
match those tools; ``gain="exponential"`` uses ``2**grade - 1`` (Burges et al.; some leaderboards
and ranx's ``ndcg_burges``). With binary grades both conventions agree.

nDCG@k = DCG of the list's top k / DCG of the ideal top k, where the ideal comes from *all*
judged-relevant documents of the query (``RankedLists.ideal``), retrieved or not. Without k the
whole list is scored against the whole ideal (trec_eval ``ndcg``). A query with no relevant
document has nDCG NaN (average with ``np.nanmean``; trec_eval would report 0).

A single relevant document at rank 3: nDCG = 1 / log2(4) = 0.5.

>>> from cascade_core.metrics import RankedLists
>>> lists = RankedLists.from_runs({"q": ["a", "b", "c"]}, {"q": {"c": 1}}, ["q"])
>>> ndcg(lists, k=10)
array([0.5])

Graded: linear and exponential gains differ.

>>> lists = RankedLists.from_runs({"q": ["a", "b"]}, {"q": {"a": 1, "b": 3}}, ["q"])
>>> ndcg(lists).round(4), ndcg(lists, gain="exponential").round(4)
(array([0.7967]), array([0.7098]))
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .lists import RankedLists, check_k, divide_or_nan

Gain = Literal["linear", "exponential"]
GAINS: tuple[str, ...] = ("linear", "exponential")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def ndcg(lists: RankedLists, k: int | None = None, gain: Gain = "linear") -> np.ndarray:
    """Per-query nDCG@k, shape ``[Q]``; ``k=None`` scores the whole list.

    ``gain="linear"`` (default) matches trec_eval/pytrec_eval/BEIR; ``"exponential"`` uses
    ``2**grade - 1``. NaN for queries without any relevant document.

    >>> from cascade_core.metrics import RankedLists
    >>> lists = RankedLists.from_runs(
    ...     {"q1": ["x", "a"], "q2": ["b"], "q3": ["z"]},
    ...     {"q1": {"a": 1}, "q2": {"b": 2}, "q3": {"z": 0}},
    ...     ["q1", "q2", "q3"],
    ... )
    >>> ndcg(lists, k=1), ndcg(lists, k=2).round(4)
    (array([ 0.,  1., nan]), array([0.6309, 1.    ,    nan]))
    """
    k = check_k(k)
    _check_gain(gain)
    return ndcg_kernel(lists.clean_gains, lists.clean_ideal, k, gain)


def dcg(lists: RankedLists, k: int | None = None, gain: Gain = "linear") -> np.ndarray:
    """Per-query DCG@k of the lists as ranked, shape ``[Q]`` (0 for an empty list).

    >>> from cascade_core.metrics import RankedLists
    >>> dcg(RankedLists.from_runs({"q": ["a", "b", "c"]}, {"q": {"c": 2}}, ["q"]))
    array([1.])
    """
    k = check_k(k)
    _check_gain(gain)
    return dcg_kernel(apply_gain(lists.clean_gains, gain), k)


def ideal_dcg(lists: RankedLists, k: int | None = None, gain: Gain = "linear") -> np.ndarray:
    """Per-query DCG@k of the ideal ranking of all judged-relevant documents, shape ``[Q]``.

    >>> from cascade_core.metrics import RankedLists
    >>> ideal_dcg(RankedLists.from_runs({"q": []}, {"q": {"c": 2}}, ["q"]))
    array([2.])
    """
    k = check_k(k)
    _check_gain(gain)
    return dcg_kernel(apply_gain(lists.clean_ideal, gain), k)


def _check_gain(gain: str) -> None:
    if gain not in GAINS:
        raise ValueError(f"gain must be one of {GAINS}, got {gain!r}")


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------

def discounts(n: int) -> np.ndarray:
    """``1 / log2(rank + 1)`` for ranks 1..n."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def apply_gain(grades: np.ndarray, gain: str) -> np.ndarray:
    """Grades (already >= 0) to gains: themselves, or ``2**grade - 1`` (0 stays 0)."""
    if gain == "linear":
        return grades
    return np.exp2(grades) - 1.0


def dcg_kernel(gains: np.ndarray, k: int | None) -> np.ndarray:
    """DCG of each row's first ``k`` gains (all when ``k`` is None): ``[Q, K] -> [Q]``."""
    n = gains.shape[1] if k is None else min(k, gains.shape[1])
    return gains[:, :n] @ discounts(n)


def ndcg_kernel(grades: np.ndarray, ideal: np.ndarray, k: int | None, gain: str) -> np.ndarray:
    """nDCG@k from clean grades ``[Q, K]`` and the clean sorted ideal ``[Q, M]``; NaN if IDCG is 0."""
    return divide_or_nan(dcg_kernel(apply_gain(grades, gain), k), dcg_kernel(apply_gain(ideal, gain), k))
