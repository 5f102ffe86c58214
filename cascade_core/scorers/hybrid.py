"""Hybrid first pass: BM25 and dense retrieval fused in the library.

Two fusions:

* ``rrf``: reciprocal rank fusion, ``sum 1 / (k + rank)``. The constant ``k`` differs between
  systems (Qdrant's client defaults to 2; Elasticsearch, Vespa, ranx and most papers use 60). We
  default to 60 and always show it.
* ``norm-sum``: min-max normalise each list's scores, then ``w * dense + (1 - w) * bm25``.

Each side retrieves ``depth`` candidates (default: max(k, 100)); a document found by one side only
contributes that side alone (RRF) or 0 for the missing side (norm-sum).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..fusion import make_fusion
from .base import Param, Retriever, ScorerConfig, ScorerContext, number_param, register
from .bm25 import DEFAULTS as BM25_DEFAULTS, PARAMS as BM25_PARAMS, BM25Retriever, parse_bm25_params
from .dense import DEFAULT_BI_ENCODER, DenseRetriever

FUSIONS = ("rrf", "norm-sum")
OWN_PARAMS = ("fusion", "rrf_k", "weight", "depth")   # the rest go to its BM25 side


@register("hybrid", retriever=True)
class HybridRetriever(Retriever):
    label = "hybrid (BM25 + dense, fused)"
    default_model = DEFAULT_BI_ENCODER
    # Declared for the Build page and the CLI's listing; parse_params below checks the same rules.
    parameters = (
        Param("fusion", "choice", "rrf", choices=FUSIONS, help="rrf: reciprocal rank fusion; "
              "norm-sum: min-max normalised scores, weighted"),
        Param("rrf_k", "number", 60, low=0, low_open=True, help="RRF constant (Qdrant's client uses 2; papers 60)"),
        Param("weight", "number", 0.5, low=0, high=1, help="norm-sum: the weight of dense (BM25 gets the rest)"),
        Param("depth", "int", 100, low=1, help="candidates each side retrieves before fusion (at least k)"),
    ) + BM25_PARAMS

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        own = self.parse_params(config.params)
        self.fusion, self.rrf_k, self.weight, self.depth = (own[k] for k in OWN_PARAMS)
        bm25_cfg = ScorerConfig("bm25", None, {k: v for k, v in config.params.items() if k not in OWN_PARAMS})
        self.bm25 = BM25Retriever(bm25_cfg, ctx)
        self.dense = DenseRetriever(ScorerConfig("dense", config.model), ctx)

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        """Fusion settings (every one given is checked, used by its fusion or not) and BM25's.

        >>> HybridRetriever.parse_params({"rrf_k": 0})
        Traceback (most recent call last):
        ...
        cascade_core.errors.SpecError: hybrid parameter rrf_k must be a number > 0, not 0
        """
        fusion = params.get("fusion", "rrf")
        if fusion not in FUSIONS:
            raise SpecError(f"unknown hybrid fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        own = {"fusion": fusion,
               "rrf_k": float(number_param("hybrid", params, "rrf_k", 60, low=0, low_open=True)),
               "weight": float(number_param("hybrid", params, "weight", 0.5, low=0, high=1)),
               "depth": number_param("hybrid", params, "depth", 100, low=1, whole=True)}
        bm25 = parse_bm25_params({k: v for k, v in params.items() if k not in OWN_PARAMS}, "hybrid",
                                 known=OWN_PARAMS + tuple(BM25_DEFAULTS))
        return {**own, **bm25}

    @property
    def id(self) -> str:
        fusion = (f"rrf,rrf_k={self.rrf_k:g}" if self.fusion == "rrf"
                  else f"norm-sum,weight={self.weight:g}")
        # "lexical=matched": BM25 hits that match no query term are left out (see matched_only);
        # a new id, so lists stored before that rule are not reused as if made by it.
        return (f"first-pass:hybrid:{fusion},depth={self.depth},lexical=matched|{self.bm25.id}|{self.dense.id}")

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

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        depth = max(k, self.depth)
        lists = [matched_only(*self.bm25.retrieve(query, depth)), self.dense.retrieve(query, depth)]
        fused = make_fusion(self.fusion, self.rrf_k, self.weight).fuse(lists, weights=[1 - self.weight, self.weight])
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
