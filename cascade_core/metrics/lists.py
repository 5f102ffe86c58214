"""The batched input of every metric: :class:`RankedLists`.

All metrics work on a batch of Q queries at once, each with a ranked list padded to length K:

* ``gains`` -- float ``[Q, K]``: the relevance grade of the document at rank ``r`` (0-based column)
  of query ``q``'s list; 0 for unjudged, judged non-relevant and padding. Grades <= 0 count as 0.
* ``valid`` -- bool ``[Q, K]``: True where a document is present, False for padding (padding is at
  the end of a row, so a row of length ``n`` is ``valid[q, :n]``).
* ``ideal`` -- float ``[Q, M]``: each query's judged-relevant grades (> 0) from the qrels, sorted
  descending and zero-padded. It includes relevant documents that were never retrieved, so it is
  what the IDCG and the recall/AP denominators are computed from.
* ``judged`` -- bool ``[Q, K]`` or None: True where the document at that rank has *any* judgment
  in the qrels (judged non-relevant included). Only judged@k and the condensed-list metrics read
  it (:mod:`cascade_core.metrics.judged`); None means every present document counts as judged
  (a grade matrix without holes), so those metrics then equal 1 and the standard ones.

>>> lists = RankedLists.from_runs(
...     run={"q1": ["d3", "d1", "d9"], "q2": []},
...     qrels={"q1": {"d1": 2, "d2": 1, "d9": 0}, "q2": {"d5": 1}},
...     query_ids=["q1", "q2"],
... )
>>> lists.gains
array([[0., 2., 0.],
       [0., 0., 0.]])
>>> lists.valid
array([[ True,  True,  True],
       [False, False, False]])
>>> lists.ideal
array([[2., 1.],
       [1., 0.]])
>>> lists.n_relevant
array([2, 1])
>>> lists.judged
array([[False,  True,  True],
       [False, False, False]])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True, eq=False, repr=False)
class RankedLists:
    """Q ranked lists, padded to a common length K, with what the metrics need from the qrels.

    The arrays are converted on construction (``gains``/``ideal`` to float64, ``valid`` to bool)
    and the derived arrays (:attr:`clean_gains`, :attr:`relevant`, :attr:`n_relevant`) are cached,
    so treat the arrays as read-only after building a ``RankedLists``.
    """

    gains: np.ndarray
    valid: np.ndarray
    ideal: np.ndarray
    judged: np.ndarray | None = None

    def __post_init__(self) -> None:
        gains = np.asarray(self.gains, dtype=np.float64)
        valid = np.asarray(self.valid, dtype=bool)
        ideal = np.asarray(self.ideal, dtype=np.float64)
        if self.judged is not None:
            judged = np.asarray(self.judged, dtype=bool)
            if judged.shape != gains.shape:
                raise ValueError(f"judged has shape {judged.shape} but gains has shape {gains.shape}")
            object.__setattr__(self, "judged", judged)
        if gains.ndim != 2:
            raise ValueError(f"gains must be a 2-D [Q, K] array, got shape {gains.shape}")
        if valid.shape != gains.shape:
            raise ValueError(f"valid has shape {valid.shape} but gains has shape {gains.shape}")
        if ideal.ndim != 2 or ideal.shape[0] != gains.shape[0]:
            raise ValueError(
                f"ideal must be a 2-D [Q, M] array with Q={gains.shape[0]} rows, got shape {ideal.shape}"
            )
        object.__setattr__(self, "gains", gains)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "ideal", ideal)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_runs(
        cls,
        run: Mapping[str, Sequence[str]],
        qrels: Mapping[str, Mapping[str, int]],
        query_ids: Sequence[str],
    ) -> "RankedLists":
        """Build the batch from ranked doc-id lists (best first) and graded qrels.

        A query missing from ``run`` gets an empty list; a query missing from ``qrels`` has no
        relevant documents (its recall/nDCG/AP are NaN). Rows follow ``query_ids``.
        Meant for tests and small uses; the simulation builds the arrays directly.

        >>> RankedLists.from_runs({"q": ["a", "b"]}, {"q": {"b": 3}}, ["q"]).gains
        array([[0., 3.]])
        """
        q = len(query_ids)
        rows = [list(run.get(qid, ())) for qid in query_ids]
        for qid, docs in zip(query_ids, rows):
            if len(set(docs)) != len(docs):
                raise ValueError(f"run for query {qid!r} lists a document more than once")
        k = max((len(r) for r in rows), default=0)
        rel_grades = [
            sorted((float(g) for g in qrels.get(qid, {}).values() if g > 0), reverse=True)
            for qid in query_ids
        ]
        m = max((len(r) for r in rel_grades), default=0)

        gains = np.zeros((q, k), dtype=np.float64)
        valid = np.zeros((q, k), dtype=bool)
        judged_at = np.zeros((q, k), dtype=bool)
        ideal = np.zeros((q, m), dtype=np.float64)
        for i, (qid, docs, rel) in enumerate(zip(query_ids, rows, rel_grades)):
            judged = qrels.get(qid, {})
            gains[i, : len(docs)] = [max(float(judged.get(d, 0)), 0.0) for d in docs]
            valid[i, : len(docs)] = True
            judged_at[i, : len(docs)] = [d in judged for d in docs]
            ideal[i, : len(rel)] = rel
        return cls(gains, valid, ideal, judged_at)

    # -- shape and derived arrays (cached) -------------------------------------------------------

    @property
    def n_queries(self) -> int:
        return self.gains.shape[0]

    @property
    def depth(self) -> int:
        """K, the padded list length."""
        return self.gains.shape[1]

    @cached_property
    def clean_gains(self) -> np.ndarray:
        """``gains`` with grades <= 0 and padding set to 0 (what every metric reads)."""
        return np.where(self.valid & (self.gains > 0), self.gains, 0.0)

    @cached_property
    def clean_ideal(self) -> np.ndarray:
        """``ideal`` with anything <= 0 set to 0."""
        return np.maximum(self.ideal, 0.0)

    @cached_property
    def relevant(self) -> np.ndarray:
        """bool ``[Q, K]``: a judged-relevant (grade > 0) document is at this rank."""
        return self.clean_gains > 0

    @cached_property
    def n_relevant(self) -> np.ndarray:
        """int ``[Q]``: judged-relevant documents per query, retrieved or not."""
        return (self.ideal > 0).sum(axis=1)

    @cached_property
    def relevant_cumsum(self) -> np.ndarray:
        """int ``[Q, K]``: relevant documents found at ranks 1..r (shared by AP and R-precision)."""
        return np.cumsum(self.relevant, axis=1, dtype=np.int64)

    @cached_property
    def judged_mask(self) -> np.ndarray:
        """bool ``[Q, K]``: a document with a judgment is at this rank (every present one when
        :attr:`judged` is None)."""
        return self.valid if self.judged is None else self.valid & self.judged

    @cached_property
    def condensed(self) -> "RankedLists":
        """The condensed lists (Sakai 2007): unjudged documents removed, the judged ones moved up
        in their order; the ideal is unchanged. Cached: every condensed metric shares one.

        >>> lists = RankedLists.from_runs({"q": ["u1", "a", "u2", "n"]}, {"q": {"a": 1, "n": 0}}, ["q"])
        >>> lists.condensed.gains, lists.condensed.valid
        (array([[1., 0.]]), array([[ True,  True]]))
        """
        if self.judged is None or not (self.valid & ~self.judged).any():
            return self   # no holes: the condensed list is the list
        gains, valid = condense_kernel(self.gains, self.judged_mask)
        return RankedLists(gains, valid, self.ideal, valid)

    def __repr__(self) -> str:
        return f"RankedLists(Q={self.n_queries}, K={self.depth}, M={self.ideal.shape[1]})"


# ---------------------------------------------------------------------------------------------
# Small kernels shared by every metric family (plain arrays in, plain arrays out).
# ---------------------------------------------------------------------------------------------


def check_k(k: int | None, *, required: bool = False) -> int | None:
    """Validate a cut-off: None (whole list, unless ``required``) or an int >= 1."""
    if k is None:
        if required:
            raise ValueError("this metric needs a cut-off k (an int >= 1)")
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"cut-off k must be an int >= 1 or None, got {k!r}")
    return int(k)


def divide_or_nan(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, NaN (no warning) where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) != 0)
    return out


def condense_kernel(gains: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's kept entries moved to the front in their order, the rest padding; the width
    shrinks to the longest kept row. ``[Q, K] -> [Q, K']``. A scatter to each kept entry's rank
    among the kept (a running count), not a sort: it runs for every step of every evaluation.

    >>> condense_kernel(np.array([[5.0, 6, 7], [8, 9, 0]]), np.array([[False, True, True], [True, False, False]]))
    (array([[6., 7.],
           [8., 0.]]), array([[ True,  True],
           [ True, False]]))
    """
    width = int(keep.sum(axis=1).max(initial=0))
    rows, cols = np.nonzero(keep)
    target = (np.cumsum(keep, axis=1) - 1)[rows, cols]
    moved = np.zeros((keep.shape[0], width), dtype=np.float64)
    valid = np.zeros((keep.shape[0], width), dtype=bool)
    moved[rows, target] = gains[rows, cols]
    valid[rows, target] = True
    return moved, valid
