"""Metrics with holes: how much of a ranking was judged, and the condensed-list variant.

On a sparsely judged collection a reranker that surfaces documents nobody judged is punished:
every unjudged document counts as non-relevant. Two standard remedies, computed here:

* **judged@k** -- the share of the top k that has *any* judgment in the qrels (judged
  non-relevant counts as judged), as ir_measures' ``Judged@k``: divided by ``min(k, list
  length)``; NaN for an empty list (nothing to judge). A low value says the metrics of that list
  rest on guesses.
* **the condensed list** (Sakai, SIGIR 2007, "nDCG'") -- the unjudged documents removed from
  the ranking, the judged ones moved up in their order, then the ordinary metric; the ideal
  ranking is unchanged. The registry names it ``<family>_condensed`` (``ndcg_condensed@10``,
  alias ``ndcg'@10``). It equals ir_measures' metric on the run filtered to judged documents.

Read the condensed variant where judged non-relevant documents exist. With qrels that list
relevant documents only (SciFact, MS MARCO), the condensed list holds only relevant documents,
so condensed nDCG@10 of a deep list is its oracle ceiling (on the bundled sample's demo cascade:
first pass nDCG@10 0.691, condensed 0.947, oracle 0.947, judged@10 0.09). judged@10 says which
case a table is in.

A list with one relevant document at rank 3 behind two unjudged ones: standard nDCG@10 is 0.5,
the condensed list puts it first.

>>> from cascade_core.metrics import RankedLists, evaluate
>>> lists = RankedLists.from_runs({"q": ["u1", "u2", "a", "n"]}, {"q": {"a": 1, "n": 0}}, ["q"])
>>> evaluate(lists, ["judged@10", "judged@2", "ndcg@10", "ndcg_condensed@10"])
{'judged@10': array([0.5]), 'judged@2': array([0.]), 'ndcg@10': array([0.5]), 'ndcg_condensed@10': array([1.])}
"""

from __future__ import annotations

import numpy as np

from .lists import RankedLists, check_k, divide_or_nan

# Below this judged@10 a step's metrics are mostly guesses: every table flags it as a warning.
MOSTLY_UNJUDGED_BELOW = 0.5


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def judged(lists: RankedLists, k: int | None = None) -> np.ndarray:
    """Per-query share of the top k with a judgment (any grade), shape ``[Q]``.

    Divided by ``min(k, list length)`` as ir_measures' ``Judged@k``; NaN for an empty list.

    >>> from cascade_core.metrics import RankedLists
    >>> lists = RankedLists.from_runs({"q1": ["a", "x", "b"], "q2": []}, {"q1": {"a": 2, "b": 0}}, ["q1", "q2"])
    >>> judged(lists, k=2), judged(lists).round(4)
    (array([0.5, nan]), array([0.6667,    nan]))
    """
    k = check_k(k)
    return judged_kernel(lists.judged_mask, lists.valid, k)


def condensed(lists: RankedLists) -> RankedLists:
    """The condensed lists: unjudged documents removed (see :attr:`RankedLists.condensed`).

    >>> from cascade_core.metrics import RankedLists
    >>> condensed(RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1}}, ["q"])).gains
    array([[1.]])
    """
    return lists.condensed


def condensed_metric(compute):
    """A metric family's ``compute(lists, k)`` on the condensed lists instead (for the registry)."""
    def on_condensed(lists: RankedLists, k: int | None) -> np.ndarray:
        return compute(lists.condensed, k)

    return on_condensed


# ---------------------------------------------------------------------------------------------
# Kernels: plain arrays, no Python loop over queries.
# ---------------------------------------------------------------------------------------------


def judged_kernel(judged_mask: np.ndarray, valid: np.ndarray, k: int | None) -> np.ndarray:
    """Judged documents in each row's first ``k`` / present documents there (NaN if none)."""
    n = judged_mask.shape[1] if k is None else min(k, judged_mask.shape[1])
    return divide_or_nan(judged_mask[:, :n].sum(axis=1).astype(np.float64),
                         valid[:, :n].sum(axis=1).astype(np.float64))
