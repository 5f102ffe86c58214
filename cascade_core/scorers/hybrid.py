"""Hybrid first pass: BM25 and dense retrieval, each ``depth`` deep, fused in the library.

The fusion is any registered one that fuses separate lists (:func:`cascade_core.fusion.list_fusions`:
``rrf``, ``norm-sum``, ``dbsf``), chosen by the ``fusion`` parameter, its own parameters beside
it (``rrf_k``, ``weight``: the dense side's weight). Each side retrieves ``depth`` candidates
(default: max(k, 100)); a document found by one side only contributes that side alone. A new
fusion needs no edit here: its parameters and its choice appear by themselves (a fusion is
offered when it is registered before this module is imported: a built-in one, or a plugin's
through the ``cascade_explorer.fusions`` entry points; two fusions' parameters of one name share
one box, the first one's range).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..fusion import RRF, Fusion, fusion_class, list_fusions
from ..params import Param, check_param_names
from .base import Retriever, ScorerConfig, ScorerContext, register
from .bm25 import PARAMS as BM25_PARAMS
from .bm25 import BM25Retriever
from .dense import DEFAULT_BI_ENCODER, DenseRetriever
from .in_qdrant import QdrantSearch

FUSION, DEPTH = "fusion", "depth"


def _fusion_params() -> tuple[Param, ...]:
    """Every list fusion's parameters, each shown beside the fusion that takes it."""
    out: dict[str, Param] = {}
    for name, cls in list_fusions().items():
        for p in cls.parameters:
            out.setdefault(p.name, Param(p.name, p.type, p.default, p.low, p.high, p.low_open, p.choices,
                                         f"{name}: {p.help}", only_with=(FUSION, name)))
    return tuple(out.values())


@register("hybrid", retriever=True)
class HybridRetriever(Retriever):
    label = "hybrid (BM25 + dense, fused)"
    default_model = DEFAULT_BI_ENCODER
    uses_device = True   # its dense side encodes the query here
    libraries = BM25Retriever.libraries
    parameters = (
        Param(FUSION, "choice", RRF.name, choices=tuple(list_fusions()),
              help="how the two lists become one: " + "; ".join(f"{n}: {c.title}" for n, c in list_fusions().items())),
        *_fusion_params(),
        Param(DEPTH, "int", 100, low=1, help="candidates each side retrieves before fusion (at least k)"),
    ) + BM25_PARAMS
    own = (FUSION, DEPTH, *(p.name for p in _fusion_params()))   # the rest go to its BM25 side
    label_params = (FUSION,)   # "hybrid(MiniLM, fusion=dbsf)": the fusion is what this hybrid is

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.params = self.parse_params(config.params)
        self.fusion = self.fused_by(config.params)
        self.depth = self.params[DEPTH]
        self.bm25 = BM25Retriever(ScorerConfig("bm25", None, self.bm25_params(config.params)), ctx)
        self.dense = DenseRetriever(ScorerConfig("dense", config.model), ctx)

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        """Every parameter given is checked, by the fusion that takes it whether chosen or not.

        >>> HybridRetriever.parse_params({"rrf_k": 0})
        Traceback (most recent call last):
        ...
        cascade_core.errors.SpecError: hybrid parameter rrf_k must be a number > 0, not 0
        """
        check_param_names(cls.kind, params, [p.name for p in cls.parameters])
        name = params.get(FUSION, RRF.name)
        if name not in list_fusions():
            raise SpecError(f"unknown hybrid fusion {name!r}; choose one of {', '.join(list_fusions())}")
        return {p.name: p.parse(cls.kind, params) for p in cls.parameters}

    @classmethod
    def fused_by(cls, params: dict) -> Fusion:
        fusion = fusion_class(params.get(FUSION, RRF.name))
        return fusion(**{p.name: cls.parse_params(params)[p.name] for p in fusion.parameters})

    @classmethod
    def bm25_params(cls, params: dict) -> dict:
        return {k: v for k, v in params.items() if k not in cls.own}

    @property
    def id(self) -> str:
        # "lexical=matched": BM25 hits that match no query term are left out (see matched_only);
        # a new id, so lists stored before that rule are not reused as if made by it.
        return (f"first-pass:hybrid:{self.fusion.signature},depth={self.depth},lexical=matched|{self.bm25.id}|"
                f"{self.dense.id}")

    def load_model(self) -> None:
        self.dense.load_model()

    def resolved_models(self) -> list:
        return self.dense.resolved_models()

    @property
    def cuts(self):
        """The dense side's: BM25 reads whole documents (it has no length limit)."""
        return self.dense.cuts

    def prepare(self, progress=None) -> None:
        self.bm25.prepare(progress)
        self.dense.prepare(progress)

    @classmethod
    def qdrant_search(cls, config: ScorerConfig, pool_size: int) -> QdrantSearch:
        """Two prefetches, dense and BM25, ``depth`` deep (at least the pool), fused as here."""
        dense = DenseRetriever.qdrant_search(ScorerConfig(DenseRetriever.kind, config.model), pool_size)
        bm25 = BM25Retriever.qdrant_search(ScorerConfig(BM25Retriever.kind, None, cls.bm25_params(config.params)),
                                           pool_size)
        return QdrantSearch(dense.vectors + bm25.vectors, fusion=cls.fused_by(config.params),
                            depth=max(int(cls.parse_params(config.params)[DEPTH]), pool_size))

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        depth = max(k, self.depth)
        # BM25 first, dense second: a fusion that weighs its inputs gives the last list its weight
        lists = [matched_only(*self.bm25.retrieve(query, depth)), self.dense.retrieve(query, depth)]
        fused = self.fusion.fuse(lists)
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [d for d, _ in ranked], np.asarray([s for _, s in ranked])


def matched_only(ids: list[str], scores: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The BM25 hits with a positive score: those that match at least one query term.

    When fewer documents than the fusion depth share a term with the query, BM25's top-k is
    padded with zero-score documents in corpus order; under RRF each would earn 1/(k + rank)
    as if BM25 had ranked it, and push out a document the dense side found.

    >>> matched_only(["a", "b", "c"], np.array([2.0, 0.5, 0.0]))
    (['a', 'b'], array([2. , 0.5]))
    """
    scores = np.asarray(scores, dtype=float)
    keep = scores > 0
    return [d for d, k in zip(ids, keep) if k], scores[keep]
