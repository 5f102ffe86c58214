"""Average precision (AP / MAP) and AP@k, vectorised over all queries.

Relevant means grade > 0. AP is trec_eval's ``map``: the sum of precision@r over the ranks r that
hold a relevant document, divided by the query's number of judged-relevant documents R
(retrieved or not), so relevant documents that were never retrieved count as precision 0.

**AP@k convention** -- trec_eval ``map_cut_k``, which is what ir_measures' ``AP@k`` and
pytrec_eval compute: only ranks 1..k contribute, and the denominator is still **R** (all relevant
documents), *not* ``min(k, R)``. So AP@k <= AP, and a query with more than k relevant documents
cannot reach 1. (Some libraries, e.g. ranx ``map@k``, divide by the relevant documents retrieved
or by ``min(k, R)``; their numbers are higher.)

A query without relevant documents has AP NaN (average with ``np.nanmean``; trec_eval reports 0).

Relevant at ranks 1 and 3, with a third relevant document never retrieved:

>>> from cascade_core.metrics import RankedLists
>>> lists = RankedLists.from_runs(
...     {"q": ["a", "x", "b"]}, {"q": {"a": 1, "b": 1, "c": 1}}, ["q"]
... )
>>> average_precision(lists).round(4)    # (1/1 + 2/3) / 3
array([0.5556])
>>> average_precision(lists, k=2).round(4)    # (1/1) / 3
array([0.3333])
"""

from __future__ import annotations

import numpy as np

from .lists import RankedLists, check_k, divide_or_nan

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def average_precision(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Per-query AP (``k=None``) or AP@k (trec_eval ``map_cut``), shape ``[Q]``; NaN if R = 0.

    >>> from cascade_core.metrics import RankedLists
    >>> average_precision(RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1}}, ["q"]))
    array([0.5])
    """
    k = check_k(k)
    return average_precision_kernel(lists.relevant, lists.relevant_cumsum, lists.n_relevant, k)


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------


def average_precision_kernel(
    relevant: np.ndarray, relevant_cumsum: np.ndarray, n_relevant: np.ndarray, k: int | None
) -> np.ndarray:
    """Sum of precision@r at relevant ranks r <= k, over R. ``[Q, K]`` x2, ``[Q]`` -> ``[Q]``."""
    n = relevant.shape[1] if k is None else min(k, relevant.shape[1])
    ranks = np.arange(1, n + 1, dtype=np.float64)
    precision_at_hits = np.where(relevant[:, :n], relevant_cumsum[:, :n] / ranks, 0.0)
    return divide_or_nan(precision_at_hits.sum(axis=1), n_relevant)
