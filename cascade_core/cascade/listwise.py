"""Listwise stages in a score-once world: scores kept per candidate list, and the "approximate" mark.

A pointwise stage gives a document the same score whatever else is scored with it, so its stored
scores serve every cut-off exactly. A listwise stage (an LLM reordering windows of candidates)
gives scores that depend on the list it ranked: which documents, and in which order they came
(a sliding window starts from the incoming order). So its scores are stored per list
(:meth:`cascade_core.store.scores.ScoreStore.put_list`), and the simulation looks, for each query, for
the stored list identical to the one the stage receives under the current cut-offs:

* found: the stage's scores are exact;
* not found, but a stored list holds every candidate it receives: that list's scores, restricted
  to those candidates, stand in (the shortest such list, the newest on a tie), and the run is
  marked approximate for that stage (:class:`ApproximateStage`: how many queries);
* no stored list covers them: the scores are missing (score first, as for any stage).

Scoring for the current spec (:func:`cascade_core.scoring.ensure.ensure_scores`) stores the list the
stage receives now, and the run becomes exact; the lists stored before are kept, so moving a
slider back to where it was is exact again at no cost.

>>> lists = StoredLists([[(np.array([0, 1, 2]), np.array([1.0, 3.0, 2.0]))]])
>>> lists.raw_scores(np.array([[0, 1, 2]]), np.array([[True, True, True]]))    # the stored list
(array([[1., 3., 2.]]), array([False]))
>>> lists.raw_scores(np.array([[1, 0, 9]]), np.array([[True, True, False]]))   # a shorter pool
(array([[ 3.,  1., nan]]), array([ True]))
>>> lists.raw_scores(np.array([[0, 5]]), np.array([[True, True]]))             # never ranked: missing
(array([[nan, nan]]), array([False]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ApproximateStage:
    """A listwise stage whose input list differs, for ``queries`` of ``of`` queries, from every
    list it was scored over: its scores there come from a longer stored list.

    >>> ApproximateStage("llm", 0, 3, 12).describe()
    "stage 'llm' is listwise and 3 of 12 queries hand it a candidate list it did not rank: scores of a longer list it ranked stand in (rescore for these cut-offs to make it exact)"
    """

    stage: str
    index: int        # 0-based, into the spec's stages
    queries: int
    of: int

    def to_dict(self) -> dict:
        return {"stage": self.stage, "queries": self.queries, "of": self.of}

    def describe(self) -> str:
        return (f"stage {self.stage!r} is listwise and {self.queries} of {self.of} queries hand it a candidate "
                "list it did not rank: scores of a longer list it ranked stand in (rescore for these "
                "cut-offs to make it exact)")


class StoredLists:
    """A listwise stage's stored rankings over a query set: per query, each list it ranked.

    ``per_query[q]`` is a list (oldest first) of ``(positions, scores)``: the corpus positions of
    the candidates in the order the stage received them, and its score of each.
    """

    def __init__(self, per_query: list[list[tuple[np.ndarray, np.ndarray]]]):
        self.per_query = [[(np.asarray(p, dtype=np.int64), np.asarray(s, dtype=float)) for p, s in lists]
                          for lists in per_query]
        # Lookups built once per loaded matrix: a simulation (a slider move) only reads them.
        self._exact = [{p.tobytes(): i for i, (p, _) in enumerate(lists)} for lists in self.per_query]
        self._sets: dict[tuple[int, int], set] = {}
        self._scores: dict[tuple[int, int], dict] = {}

    def __len__(self) -> int:
        return len(self.per_query)

    def deepest(self, q: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Query ``q``'s longest stored list (the newest of equal length), or None."""
        lists = self.per_query[q]
        if not lists:
            return None
        return max(reversed(lists), key=lambda ps: len(ps[0]))

    def raw_scores(self, seen: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stage's scores of the candidates it receives (``seen[q]``: corpus positions in the
        order received, where ``valid``), NaN where no stored list covers them; and, per query,
        whether they come from another list than the one received (approximate)."""
        Q, C = seen.shape
        raw = np.full((Q, C), np.nan)
        differs = np.zeros(Q, dtype=bool)
        for q in range(min(Q, len(self.per_query))):
            mask = valid[q]
            if not self.per_query[q] or not mask.any():
                continue
            ids = np.ascontiguousarray(seen[q][mask], dtype=np.int64)
            i = self._exact[q].get(ids.tobytes())
            if i is None:
                i = self._covering(q, ids)
                if i is None:
                    continue
                differs[q] = True
            scores = self._score_map(q, i)
            raw[q, mask] = [scores[p] for p in ids.tolist()]
        return raw, differs

    def _covering(self, q: int, ids: np.ndarray) -> int | None:
        """The shortest stored list of query ``q`` holding every id (the newest on a tie)."""
        want = set(ids.tolist())
        best = None
        for i, (p, _) in enumerate(self.per_query[q]):
            if len(p) < len(want) or (best is not None and len(p) > len(self.per_query[q][best][0])):
                continue
            key = (q, i)
            if key not in self._sets:
                self._sets[key] = set(p.tolist())
            if want <= self._sets[key]:
                best = i
        return best

    def _score_map(self, q: int, i: int) -> dict:
        key = (q, i)
        if key not in self._scores:
            p, s = self.per_query[q][i]
            self._scores[key] = dict(zip(p.tolist(), s.tolist()))
        return self._scores[key]
