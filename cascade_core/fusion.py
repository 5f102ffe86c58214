"""Fusion: how two rankings of the same question become one. One small class per way, one home.

Used everywhere scores meet: a rerank stage's ``combine`` with the order it received (the
simulation), the hybrid first pass fusing BM25 with dense retrieval, the doctor's score-scale
check and its normalised score views, and the tuner's search over combinations.

* ``replace`` -- the new score alone (the usual cascade);
* ``rrf`` -- reciprocal rank fusion, ``1 / (k + rank)`` summed; ``k`` differs between systems
  (Qdrant's client uses 2; Elasticsearch, Vespa, ranx and most papers 60): always shown;
* ``norm-sum`` -- min-max normalise each list over the candidates present, then
  ``weight * new + (1 - weight) * earlier``.

Two shapes of input, one rule each:

* :meth:`Fusion.combine` -- aligned matrices ``[queries, candidates]``: the same candidates scored
  twice (a stage's own score and the incoming one, the incoming already in rank order);
* :meth:`Fusion.fuse` -- ranked lists of possibly different documents (a hybrid first pass).

>>> import numpy as np
>>> new, incoming, valid = np.array([[0.1, 0.9, 0.5]]), np.array([[3.0, 2.0, 1.0]]), np.ones((1, 3), bool)
>>> make_fusion("norm-sum", weight=0.5).combine(new, incoming, valid).round(2)
array([[0.5 , 0.75, 0.25]])
>>> make_fusion("rrf", rrf_k=60).label, make_fusion("norm-sum", weight=0.3).label
('rrf k=60', 'norm-sum 0.3')
>>> sorted(FUSIONS)
['norm-sum', 'replace', 'rrf']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from .errors import SpecError


class Fusion(ABC):
    """One way of meeting earlier scores. ``scale_note`` says what it does to score scales."""

    name: str = ""
    scale_note: str = ""

    @property
    def label(self) -> str:
        """Short, with its parameter: ``replace``, ``rrf k=60``, ``norm-sum 0.5``."""
        return self.name

    def params(self) -> dict:
        """The spec fields it sets beside ``combine`` (``rrf_k`` or ``weight``)."""
        return {}

    @abstractmethod
    def combine(self, new: np.ndarray, incoming: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The score to rank by, ``[Q, C]``. ``incoming`` is in incoming rank order (column 0 first)."""

    def fuse(self, lists: Sequence[tuple[Sequence[str], Sequence[float]]],
             weights: Sequence[float] | None = None) -> dict[str, float]:
        """Fuse ranked lists ``[(doc_ids, scores), ...]`` (best first) into ``{doc_id: score}``."""
        raise SpecError(f"{self.name} does not fuse separate lists: use rrf or norm-sum")

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params().items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"


class Replace(Fusion):
    name = "replace"
    scale_note = "the stage's own score alone: nothing is mixed"

    def combine(self, new, incoming, valid):
        return new


class RRF(Fusion):
    name = "rrf"
    scale_note = "reciprocal rank fusion: ranks only, score scales do not matter"

    def __init__(self, rrf_k: float = 60.0):
        if not rrf_k > 0:
            raise SpecError("rrf_k must be > 0")
        self.rrf_k = float(rrf_k)

    @property
    def label(self) -> str:
        return f"rrf k={self.rrf_k:g}"

    def params(self) -> dict:
        return {"rrf_k": self.rrf_k}

    def rank_scores(self, scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """``1 / (k + rank)`` of each candidate within its row (rank 1 = highest score)."""
        return 1.0 / (self.rrf_k + ranks(scores, valid))

    def combine(self, new, incoming, valid):
        old_rank = np.arange(1, new.shape[1] + 1)[None, :]
        return self.rank_scores(new, valid) + 1.0 / (self.rrf_k + old_rank)

    def fuse(self, lists, weights=None):
        # Unweighted, as the hybrid first pass has always fused (its stored lists depend on it).
        out: dict[str, float] = {}
        for ids, _ in lists:
            for rank, d in enumerate(ids, start=1):
                out[d] = out.get(d, 0.0) + 1.0 / (self.rrf_k + rank)
        return out


class NormSum(Fusion):
    name = "norm-sum"
    scale_note = "min-max normalised per list, then a weighted sum"

    def __init__(self, weight: float = 0.5):
        if not 0 <= weight <= 1:
            raise SpecError("weight must be between 0 and 1")
        self.weight = float(weight)

    @property
    def label(self) -> str:
        return f"norm-sum {self.weight:g}"

    def params(self) -> dict:
        return {"weight": self.weight}

    def combine(self, new, incoming, valid):
        return self.weight * minmax(new, valid) + (1 - self.weight) * minmax(incoming, valid)

    def fuse(self, lists, weights=None):
        weights = weights or [1.0] * len(lists)
        out: dict[str, float] = {}
        for (ids, scores), w in zip(lists, weights):
            s = np.asarray(scores, dtype=float)[None, :]
            norm = minmax(s, np.ones_like(s, dtype=bool))[0] if s.size else s[0]
            for d, v in zip(ids, norm):
                out[d] = out.get(d, 0.0) + w * float(v)
        return out


FUSIONS: dict[str, type[Fusion]] = {f.name: f for f in (Replace, RRF, NormSum)}
COMBINES = tuple(FUSIONS)


def make_fusion(name: str, rrf_k: float = 60.0, weight: float = 0.5) -> Fusion:
    """The fusion called ``name``, with its parameter (the other one is ignored)."""
    if name not in FUSIONS:
        raise SpecError(f"combine must be one of {', '.join(COMBINES)}, not {name!r}")
    if name == "rrf":
        return RRF(rrf_k)
    if name == "norm-sum":
        return NormSum(weight)
    return Replace()


def parse_fusion(text: str) -> Fusion:
    """A fusion from its short form: ``replace``, ``rrf``, ``rrf:60``, ``norm-sum:0.3``.

    >>> parse_fusion("norm-sum:0.3").label, parse_fusion("rrf").label
    ('norm-sum 0.3', 'rrf k=60')
    """
    name, _, value = text.strip().partition(":")
    if value:
        try:
            number = float(value)
        except ValueError:
            raise SpecError(f"{text!r}: the value after ':' must be a number") from None
        if name == "rrf":
            return make_fusion(name, rrf_k=number)
        if name == "norm-sum":
            return make_fusion(name, weight=number)
        raise SpecError(f"{text!r}: {name} takes no value")
    return make_fusion(name)


# -- kernels --------------------------------------------------------------------------------------

def minmax(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Min-max normalise each row over its valid entries (a constant row becomes 1; invalid 0).

    >>> minmax(np.array([[2.0, 4.0, 0.0]]), np.array([[True, True, False]])).tolist()
    [[0.0, 1.0, 0.0]]
    """
    lo = np.where(valid, x, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, x, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 1.0)
    return np.where(valid, out, 0.0)


def ranks(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """1-based rank of each entry within its row by descending score (ties: earlier column first).

    >>> ranks(np.array([[0.2, 0.9, 0.5]]), np.ones((1, 3), bool)).tolist()
    [[3, 1, 2]]
    """
    key = np.where(valid, scores, -np.inf)
    return np.argsort(np.argsort(-key, axis=1, kind="stable"), axis=1) + 1
