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

import math
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
    takes_model: bool = True   # False: a model given to this kind is refused, not silently ignored

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        self.config = config
        self.ctx = ctx
        self.corpus = ctx.corpus

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        """This kind's parameters, checked and with defaults filled in; a ``SpecError`` names a bad one.

        The spec calls it when it is validated, so a misspelled name or a bad value fails before
        any work, with a message (not a ``TypeError`` from deep inside a library); constructors
        call it too. Default: the kind takes no parameters.
        """
        check_param_names(cls.kind, params, ())
        return {}

    def load_model(self) -> None:
        """Load this step's model now, if it has one; default: none.

        Loaded models are cached per process, so scoring reuses them: loading first only moves
        the failure of a mistyped model id before the work of the steps ahead of it.
        """

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


# -- parameter checks, shared by the kinds ------------------------------------------------------

def check_param_names(kind: str, params: dict, known) -> None:
    """Refuse parameter names ``kind`` does not have, listing those it has.

    >>> check_param_names("cross-encoder", {"max_lenght": 256}, ("max_length", "batch_size"))
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: unknown cross-encoder parameter(s) max_lenght; known: batch_size, max_length
    """
    unknown = set(params) - set(known)
    if unknown:
        raise SpecError(f"unknown {kind} parameter(s) {', '.join(sorted(map(str, unknown)))}; "
                        f"known: {', '.join(sorted(known)) or 'none (it takes no parameters)'}")


def number_param(kind: str, params: dict, name: str, default, low=None, high=None, *,
                 low_open: bool = False, whole: bool = False):
    """``params[name]`` (or ``default``) checked to be a finite number in range.

    Numbers come back as given (so scorer ids, which show them, stay the same); numeric strings
    are converted; whole numbers come back as ``int``.

    >>> number_param("bm25", {"k1": 1.2}, "k1", 0.9, low=0)
    1.2
    >>> number_param("cross-encoder", {"max_length": "256"}, "max_length", 512, low=1, whole=True)
    256
    >>> number_param("bm25", {"b": "abc"}, "b", 0.4, low=0, high=1)
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: bm25 parameter b must be a number between 0 and 1, not 'abc'
    """
    value = params.get(name, default)
    num = _as_number(value)
    if (num is None or not math.isfinite(num) or (whole and not float(num).is_integer())
            or (low is not None and not (num > low if low_open else num >= low))
            or (high is not None and not num <= high)):
        raise SpecError(f"{kind} parameter {name} must be {_requirement(low, high, low_open, whole)}, "
                        f"not {value!r}")
    return int(num) if whole else num


def bool_param(kind: str, params: dict, name: str, default: bool) -> bool:
    """``params[name]`` (or ``default``) checked to be true or false (a string like "no" is truthy)."""
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise SpecError(f"{kind} parameter {name} must be true or false, not {value!r}")
    return value


def _as_number(value):
    """``value`` as an int or float, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _requirement(low, high, low_open: bool, whole: bool) -> str:
    """What a value must be, in words: ``a number between 0 and 1``, ``a whole number >= 1``."""
    what = "a whole number" if whole else "a number"
    if low is not None and high is not None and not low_open:
        return f"{what} between {low} and {high}"
    if low is not None:
        what += f" {'>' if low_open else '>='} {low}"
    if high is not None:
        what += f"{' and' if low is not None else ''} <= {high}"
    return what
