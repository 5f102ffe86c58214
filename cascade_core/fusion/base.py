"""What every fusion is: the protocol, its declared parameters, and how it says itself.

A fusion meets two rankings of the same question: a rerank stage's own scores and the order it
received (:meth:`Fusion.combine`, aligned matrices), or separate ranked lists of a hybrid first
pass (:meth:`Fusion.fuse`). A new one is one small class in one file of this package, registered
with :func:`~cascade_core.fusion.registry.register_fusion`: its ``name``, its ``parameters``
(:class:`~cascade_core.params.Param`, with ranges), the parameter sets the tuner and the doctor
try (``tuning``), and, where Qdrant can run it, its Query API form (:meth:`Fusion.qdrant`).
Everything else (the Build page's widgets, ``cascade tune --combine``, the spec's YAML, the
hybrid's cache id, the labels) is derived from that declaration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

import numpy as np

from ..errors import SpecError
from ..params import Param, check_param_names


@dataclass(frozen=True)
class QdrantFusion:
    """A fusion as Qdrant's Query API runs it over prefetches: the REST ``query`` body, the same in
    qdrant-client code and as a qdrant-edge object, and whether Qdrant then returns exactly what
    the simulation says (``exact``; ``note`` says what differs or what was converted)."""

    label: str                                # as Qdrant's documentation names it: "RRF k=61", "DBSF"
    query: dict
    client_code: str                          # an expression over ``models`` (qdrant_client.models)
    edge: Callable[[object], object]          # qdrant_edge module -> its fusion object
    exact: bool
    note: str = ""


class Fusion(ABC):
    """One way of meeting earlier scores; a value object (equal when name and parameters are).

    Construct with keyword parameters, checked against :attr:`parameters`:

    >>> from cascade_core.fusion import make_fusion
    >>> f = make_fusion("norm-sum", weight=0.3)
    >>> f.params(), f.label, f.flag, f.to_spec()
    ({'weight': 0.3}, 'norm-sum 0.3', 'norm-sum:0.3', {'combine': 'norm-sum', 'weight': 0.3})
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""          # for people: "reciprocal rank fusion"
    help: ClassVar[str] = ""           # one line for the Build page and --help: what it computes
    scale_note: ClassVar[str] = ""     # what it does to score scales (the doctor's score-scale check)
    scale_safe: ClassVar[bool] = False # True: it never adds raw scores of different scales (else the doctor warns)
    view_note: ClassVar[str] = ""      # how :meth:`view` shows one list's scores (the doctor's distributions)
    parameters: ClassVar[tuple[Param, ...]] = ()
    tuning: ClassVar[tuple[dict, ...]] = ({},)   # parameter sets the tuner and the doctor's fixes try
    fuses_lists: ClassVar[bool] = False          # can fuse separate ranked lists (a hybrid first pass)
    mixes: ClassVar[bool] = True                 # meets the earlier scores (False: the stage's own alone)
    position: ClassVar[int] = 100               # where the Build page and listings put it (replace: 0)
    label_format: ClassVar[str] = ""             # e.g. "rrf k={rrf_k:g}"; default: name and name=value pairs

    def __init__(self, *values, **params):
        if len(values) > len(self.parameters):
            raise SpecError(f"{self.name} takes {len(self.parameters)} parameter(s), not {len(values)}")
        for p, v in zip(self.parameters, values):   # RRF(60), NormSum(0.3): in declared order
            params.setdefault(p.name, v)
        self._params = self.parse_params(params)

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        """The parameters, checked (unknown names and values out of range are one ``SpecError``)."""
        check_param_names(cls.name, params, [p.name for p in cls.parameters])
        return {p.name: float(p.parse(cls.name, params)) if p.type == "number" else p.parse(cls.name, params)
                for p in cls.parameters}

    def params(self) -> dict:
        """``{name: value}`` of every parameter (the spec writes them beside ``combine``)."""
        return dict(self._params)

    def __getattr__(self, name: str):
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    # -- how it says itself ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        """Short, with its parameters: ``replace``, ``rrf k=60``, ``norm-sum 0.5``."""
        if self.label_format:
            return self.label_format.format(**self._params)
        return " ".join([self.name] + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in self._params.items()])

    @property
    def flag(self) -> str:
        """As ``cascade tune --combine`` writes it (:func:`~cascade_core.fusion.parse_fusion` reads it back)."""
        return ":".join([self.name] + [f"{v:g}" if isinstance(v, float) else str(v) for v in self._params.values()])

    @property
    def signature(self) -> str:
        """For cache ids: ``rrf,rrf_k=60`` (the hybrid first pass's id carries it)."""
        return ",".join([self.name] + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in self._params.items()])

    def to_spec(self) -> dict:
        """The stage keys of a spec that say this fusion: ``{"combine": name, **params}``."""
        return {"combine": self.name, **self._params}

    # -- what it computes -----------------------------------------------------------------------

    @abstractmethod
    def combine(self, new: np.ndarray, incoming: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The score to rank by, ``[Q, C]``. ``incoming`` is in incoming rank order (column 0 first)."""

    def fuse(self, lists: Sequence[tuple[Sequence[str], Sequence[float]]],
             weights: Sequence[float] | None = None) -> dict[str, float]:
        """Fuse ranked lists ``[(doc_ids, scores), ...]`` (best first) into ``{doc_id: score}``."""
        raise SpecError(f"{self.name} does not fuse separate lists")

    def view(self, scores: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
        """One list's scores as this fusion sees them before it adds them (None: as they are)."""
        return None

    def qdrant(self) -> QdrantFusion | None:
        """How Qdrant's Query API fuses prefetches the same way (None: it has no such fusion)."""
        return None

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._params == other._params

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self._params.items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"

