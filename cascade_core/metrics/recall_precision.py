"""Recall@k, precision@k and R-precision, vectorised over all queries.

Relevant means grade > 0 (trec_eval's default relevance level 1).

* recall@k = relevant in the top k / all judged-relevant of the query (retrieved or not);
  ``k=None`` is the whole list. NaN for a query without relevant documents.
* precision@k = relevant in the top k / k -- always k, even when the list is shorter
  (trec_eval ``P_k``). 0, not NaN, for a query without relevant documents.
* R-precision = precision at rank R, R = the query's number of relevant documents (trec_eval
  ``Rprec``; a list shorter than R is treated as padded with non-relevant). NaN when R = 0.

>>> from cascade_core.metrics import RankedLists
>>> lists = RankedLists.from_runs(
...     {"q": ["a", "x", "b", "y"]}, {"q": {"a": 1, "b": 2, "c": 1, "x": 0}}, ["q"]
... )
>>> recall(lists, k=1).round(4), recall(lists).round(4)
(array([0.3333]), array([0.6667]))
>>> precision(lists, k=2), precision(lists, k=10)
(array([0.5]), array([0.2]))
>>> r_precision(lists).round(4)
array([0.6667])
"""

from __future__ import annotations

import numpy as np

from .lists import RankedLists, check_k, divide_or_nan

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def recall(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Per-query recall@k, shape ``[Q]``; ``k=None`` is the whole list. NaN without relevant docs.

    >>> from cascade_core.metrics import RankedLists
    >>> lists = RankedLists.from_runs({"q1": ["a", "b"], "q2": ["c"]}, {"q1": {"b": 1}}, ["q1", "q2"])
    >>> recall(lists, k=1), recall(lists, k=2)
    (array([ 0., nan]), array([ 1., nan]))
    """
    k = check_k(k)
    return recall_kernel(lists.relevant, lists.n_relevant, k)


def precision(lists: RankedLists, k: int) -> np.ndarray:
    """Per-query precision@k, shape ``[Q]``: relevant in the top k divided by k (trec_eval).

    >>> from cascade_core.metrics import RankedLists
    >>> precision(RankedLists.from_runs({"q": ["a"]}, {"q": {"a": 1}}, ["q"]), k=5)
    array([0.2])
    """
    k = check_k(k, required=True)
    return precision_kernel(lists.relevant, k)


def r_precision(lists: RankedLists) -> np.ndarray:
    """Per-query R-precision (precision at R = number of relevant), shape ``[Q]``; NaN if R = 0.

    >>> from cascade_core.metrics import RankedLists
    >>> r_precision(RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1, "b": 1}}, ["q"]))
    array([0.5])
    """
    return r_precision_kernel(lists.relevant_cumsum, lists.n_relevant)


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------


def hits_kernel(relevant: np.ndarray, k: int | None) -> np.ndarray:
    """Relevant documents among each row's first ``k`` (all when None): bool ``[Q, K] -> [Q]``."""
    return relevant[:, :k].sum(axis=1) if k is not None else relevant.sum(axis=1)


def recall_kernel(relevant: np.ndarray, n_relevant: np.ndarray, k: int | None) -> np.ndarray:
    return divide_or_nan(hits_kernel(relevant, k), n_relevant)


def precision_kernel(relevant: np.ndarray, k: int) -> np.ndarray:
    return hits_kernel(relevant, k) / float(k)


def r_precision_kernel(relevant_cumsum: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    q, depth = relevant_cumsum.shape
    if depth == 0:
        return divide_or_nan(np.zeros(q), n_relevant)
    # hits in the top R: the cumulative count at rank min(R, K); 0 where R = 0 (masked to NaN).
    col = np.clip(np.minimum(n_relevant, depth) - 1, 0, None)
    hits = relevant_cumsum[np.arange(q), col]
    return divide_or_nan(np.where(n_relevant > 0, hits, 0), n_relevant)
