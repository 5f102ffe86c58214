"""Oracle ceilings: the best a perfect reranker could do with the documents a stage kept.

A reranker can only reorder what it is given. ``oracle_ndcg(lists, k)`` sorts each query's
*present* documents by their true grade and scores that ordering with nDCG@k against the full
ideal (all judged-relevant documents, retrieved or not). It equals 1 when every relevant document
is in the list, and is lower when some were lost upstream: the gap between a stage's nDCG and
its oracle is what a better reranker could still win; the gap between the oracle and 1 can only
be won by a better candidate generator.

>>> from cascade_core.metrics import RankedLists, ndcg
>>> lists = RankedLists.from_runs(
...     {"q1": ["x", "b", "a"], "q2": ["x", "a"]},
...     {"q1": {"a": 2, "b": 1}, "q2": {"a": 2, "b": 1}},
...     ["q1", "q2"],
... )
>>> ndcg(lists, k=10).round(4)
array([0.6199, 0.4796])
>>> oracle_ndcg(lists, k=10).round(4)     # q2 lost "b": its ceiling is below 1
array([1.    , 0.7602])
"""

from __future__ import annotations

import numpy as np

from .lists import RankedLists, check_k
from .ndcg import Gain, _check_gain, ndcg_kernel
from .recall_precision import recall_kernel

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def oracle_ndcg(lists: RankedLists, k: int | None = 10, gain: Gain = "linear") -> np.ndarray:
    """Best nDCG@k reachable by reordering each query's present documents, shape ``[Q]``.

    Linear gain by default (trec_eval); NaN for queries without relevant documents.
    ``k=None`` uses the whole list.

    >>> from cascade_core.metrics import RankedLists
    >>> oracle_ndcg(RankedLists.from_runs({"q": ["x", "y", "a"]}, {"q": {"a": 1}}, ["q"]), k=1)
    array([1.])
    """
    k = check_k(k)
    _check_gain(gain)
    return ndcg_kernel(oracle_order_kernel(lists.clean_gains), lists.clean_ideal, k, gain)


def oracle_recall(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Best recall@k reachable by reordering each query's present documents, shape ``[Q]``.

    >>> from cascade_core.metrics import RankedLists
    >>> oracle_recall(RankedLists.from_runs({"q": ["x", "a", "b"]}, {"q": {"a": 1, "b": 1}}, ["q"]), k=1)
    array([0.5])
    """
    k = check_k(k)
    return recall_kernel(oracle_order_kernel(lists.clean_gains) > 0, lists.n_relevant, k)


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------


def oracle_order_kernel(grades: np.ndarray) -> np.ndarray:
    """Each row's grades sorted descending (the ideal reordering of what is present)."""
    return -np.sort(-grades, axis=1)
