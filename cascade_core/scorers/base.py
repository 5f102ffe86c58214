"""One protocol for every stage: a scorer scores (query, documents); a retriever finds candidates.

A new kind of stage is one small class registered under a name:

>>> @register("constant")
... class ConstantScorer(Scorer):
...     def __init__(self, config, ctx):
...         super().__init__(config, ctx)
...     def score(self, query, doc_ids):
...         return np.ones(len(doc_ids))
>>> scorer_class("constant").__name__
'ConstantScorer'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..errors import SpecError

if TYPE_CHECKING:
    from ..data import Corpus
    from ..workspace import Workspace


@dataclass(frozen=True)
class ScorerConfig:
    """What to build: a kind, a model (where the kind has one), and parameters.

    >>> ScorerConfig("cross-encoder", "my/model", {"max_length": 256}).label
    'cross-encoder(my/model)'
    """

    kind: str
    model: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind}({self.model})" if self.model else self.kind

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.model:
            out["model"] = self.model
        if self.params:
            out["params"] = dict(self.params)
        return out

    def __hash__(self) -> int:  # params is a dict; hash its items
        return hash((self.kind, self.model, tuple(sorted(self.params.items()))))


@dataclass
class ScorerContext:
    """What a scorer may need besides its config: the corpus and the workspace's shared parts."""

    corpus: "Corpus"
    workspace: "Workspace"


class Component(ABC):
    """What scorers and retrievers share: a config, the corpus, and the workspace."""

    kind: str = ""

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        self.config = config
        self.ctx = ctx
        self.corpus = ctx.corpus

    @property
    def id(self) -> str:
        """Stable cache key: kind, model key and every parameter that changes a score."""
        return self.config.kind


class Scorer(Component):
    """Scores documents of the corpus for a query. Higher is better.

    ``pointwise`` scorers give each document a score that does not depend on which other
    documents are scored with it: for them "score once, cut anywhere" is exact.
    """

    pointwise: bool = True

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        """Offline work on the document side (indexing) before timed scoring; default: none."""

    @abstractmethod
    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        """Scores of ``doc_ids`` for ``query``, as a float array in the same order."""


class Retriever(Component):
    """A first pass: finds the top-``k`` documents of the whole corpus for a query."""

    def prepare(self, progress=None) -> None:
        """Build what retrieval needs (an index); default: none."""

    @abstractmethod
    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        """The top ``k`` document ids, best first, and their scores."""


_SCORERS: dict[str, type] = {}
_RETRIEVERS: dict[str, type] = {}
_ALIASES: dict[tuple[str, bool], str] = {}


def register(kind: str, *aliases: str, retriever: bool = False) -> Callable[[type], type]:
    """Class decorator: make a scorer (or first-pass retriever) kind available by name."""

    def deco(cls: type) -> type:
        cls.kind = kind
        (_RETRIEVERS if retriever else _SCORERS)[kind] = cls
        for a in aliases:
            _ALIASES[(a, retriever)] = kind
        return cls

    return deco


def canonical_kind(kind: str, retriever: bool = False) -> str:
    return _ALIASES.get((kind, retriever), kind)


def scorer_class(kind: str) -> type:
    kind = canonical_kind(kind)
    if kind not in _SCORERS:
        raise SpecError(f"unknown stage scorer kind {kind!r}; known: {', '.join(sorted(_SCORERS))}")
    return _SCORERS[kind]


def retriever_class(kind: str) -> type:
    kind = canonical_kind(kind, retriever=True)
    if kind not in _RETRIEVERS:
        raise SpecError(f"unknown first-pass kind {kind!r}; known: {', '.join(sorted(_RETRIEVERS))}")
    return _RETRIEVERS[kind]


def scorer_kinds() -> list[str]:
    return sorted(_SCORERS)


def retriever_kinds() -> list[str]:
    return sorted(_RETRIEVERS)


def params_signature(params: dict) -> str:
    """``k1=0.9,b=0.4`` style string of parameters, sorted, for scorer ids."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))
