"""Rank-of-the-first-hit metrics: MRR@k (reciprocal rank) and success@k (hit@k).

Relevant means grade > 0. Both are 0, not NaN, for a query without relevant documents or with an
empty list, like trec_eval's ``recip_rank``/``success`` and MS MARCO's ``MRR@10``.

* reciprocal rank@k = 1 / rank of the first relevant document if it is within the top k, else 0.
  ``mrr@k`` in the registry is this value per query; its mean over queries is the MRR.
* success@k = 1 if any relevant document is in the top k, else 0.

A single relevant document at rank 3:

>>> from cascade_core.metrics import RankedLists
>>> lists = RankedLists.from_runs({"q": ["a", "b", "c"]}, {"q": {"c": 1}}, ["q"])
>>> reciprocal_rank(lists, k=10).round(4), reciprocal_rank(lists, k=2)
(array([0.3333]), array([0.]))
>>> success(lists, k=3), success(lists, k=2)
(array([1.]), array([0.]))
"""

from __future__ import annotations

import numpy as np

from .lists import RankedLists, check_k

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def first_relevant_rank(lists: RankedLists) -> np.ndarray:
    """1-based rank of each query's first relevant document, 0 where there is none; int ``[Q]``.

    >>> from cascade_core.metrics import RankedLists
    >>> first_relevant_rank(RankedLists.from_runs({"q1": ["x", "a"], "q2": ["y"]}, {"q1": {"a": 1}}, ["q1", "q2"]))
    array([2, 0])
    """
    return first_rank_kernel(lists.relevant)


def reciprocal_rank(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Per-query reciprocal rank of the first relevant document within the top k (0 if none).

    ``k=None`` looks at the whole list.

    >>> from cascade_core.metrics import RankedLists
    >>> reciprocal_rank(RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1}}, ["q"]))
    array([0.5])
    """
    k = check_k(k)
    return reciprocal_rank_kernel(first_rank_kernel(lists.relevant), k)


def success(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Per-query success@k (hit@k): 1.0 if any relevant document is in the top k, else 0.0.

    >>> from cascade_core.metrics import RankedLists
    >>> success(RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1}}, ["q"]), k=1)
    array([0.])
    """
    k = check_k(k)
    return success_kernel(first_rank_kernel(lists.relevant), k)


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------


def first_rank_kernel(relevant: np.ndarray) -> np.ndarray:
    """bool ``[Q, K]`` -> int ``[Q]``: 1-based rank of the first True, 0 for a row without one."""
    if relevant.shape[1] == 0:
        return np.zeros(relevant.shape[0], dtype=np.int64)
    return np.where(relevant.any(axis=1), relevant.argmax(axis=1) + 1, 0)


def _found_within(first_rank: np.ndarray, k: int | None) -> np.ndarray:
    found = first_rank > 0
    return found if k is None else found & (first_rank <= k)


def reciprocal_rank_kernel(first_rank: np.ndarray, k: int | None) -> np.ndarray:
    found = _found_within(first_rank, k)
    return np.where(found, 1.0 / np.maximum(first_rank, 1), 0.0)


def success_kernel(first_rank: np.ndarray, k: int | None) -> np.ndarray:
    return _found_within(first_rank, k).astype(np.float64)
