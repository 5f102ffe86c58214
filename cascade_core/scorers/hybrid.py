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
from .base import Retriever, ScorerConfig, ScorerContext, register
from .bm25 import BM25Retriever, bm25_params
from .dense import DenseRetriever

FUSIONS = ("rrf", "norm-sum")


@register("hybrid", retriever=True)
class HybridRetriever(Retriever):
    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        p = dict(config.params)
        self.fusion = p.pop("fusion", "rrf")
        if self.fusion not in FUSIONS:
            raise SpecError(f"unknown hybrid fusion {self.fusion!r}; choose one of {FUSIONS}")
        self.rrf_k = float(p.pop("rrf_k", 60))
        self.weight = float(p.pop("weight", 0.5))
        self.depth = int(p.pop("depth", 100))
        bm25_cfg = ScorerConfig("bm25", None, p)
        bm25_params(bm25_cfg)  # validates what is left
        self.bm25 = BM25Retriever(bm25_cfg, ctx)
        self.dense = DenseRetriever(ScorerConfig("dense", config.model), ctx)

    @property
    def id(self) -> str:
        fusion = (f"rrf,rrf_k={self.rrf_k:g}" if self.fusion == "rrf"
                  else f"norm-sum,weight={self.weight:g}")
        return (f"first-pass:hybrid:{fusion},depth={self.depth}|{self.bm25.id}|{self.dense.id}")

    def prepare(self, progress=None) -> None:
        self.bm25.prepare(progress)
        self.dense.prepare(progress)

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        depth = max(k, self.depth)
        lists = [self.bm25.retrieve(query, depth), self.dense.retrieve(query, depth)]
        fused = fuse(lists, self.fusion, self.rrf_k, weights=[1 - self.weight, self.weight])
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [d for d, _ in ranked], np.asarray([s for _, s in ranked])


def fuse(lists, fusion: str, rrf_k: float = 60, weights=None) -> dict[str, float]:
    """Fuse ranked lists ``[(doc_ids, scores), ...]`` into ``{doc_id: fused score}``.

    >>> fuse([(["a", "b"], [3.0, 1.0]), (["b", "c"], [0.9, 0.1])], "rrf", rrf_k=60)["b"] == 1/62 + 1/61
    True
    """
    weights = weights or [1.0] * len(lists)
    out: dict[str, float] = {}
    for (ids, scores), w in zip(lists, weights):
        if fusion == "rrf":
            for rank, d in enumerate(ids, start=1):
                out[d] = out.get(d, 0.0) + 1.0 / (rrf_k + rank)
        else:
            s = np.asarray(scores, dtype=float)
            span = s.max() - s.min() if len(s) else 0.0
            norm = (s - s.min()) / span if span > 0 else np.ones_like(s)
            for d, v in zip(ids, norm):
                out[d] = out.get(d, 0.0) + w * float(v)
    return out
