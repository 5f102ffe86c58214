"""Bi-encoders: dense first pass from the Qdrant index, and a rerank stage over stored vectors.

Both use the same :class:`~cascade_core.vectors.index.VectorIndex`, so a corpus is encoded once per model
and any bi-encoder stage on the index's model reuses its vectors. A stage scores with the cosine
similarity between the query's vector and each candidate's stored vector.

Document vectors are read from Qdrant once (in ``prepare``) and kept in memory, shared by every
scorer on the same index in the process. So the timed cost per query is encoding the query and
one matrix product: what production pays when candidates arrive with their vectors (as a dense
first pass returns them). Fetching vectors by id from a vector database per query costs more.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models import resolve_model
from ..models.resolve import MINILM
from .base import Retriever, Scorer, ScorerConfig, ScorerContext, register
from .in_qdrant import QdrantSearch, QdrantVector, RetrieverVectors

DEFAULT_BI_ENCODER = MINILM


class _UsesVectorIndex:
    """Shared by the bi-encoder scorer and the dense retriever: the index of their model."""

    default_model = DEFAULT_BI_ENCODER
    cost_shape = "per-query"   # documents' vectors are stored in the index
    uses_device = True

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.parse_params(config.params)   # none: a stray name is refused, not ignored
        model = resolve_model(config.model or DEFAULT_BI_ENCODER)
        self.index = ctx.workspace.vector_index(ctx.corpus, model)
        self.index.device = ctx.device   # its encoder runs where the spec says (float32: vectors are shared)

    def load_model(self) -> None:
        self.index.encoder  # noqa: B018 - loads and caches it

    def resolved_models(self) -> list:
        return [self.index.model]


@register("bi-encoder", "bi", "dense")
class BiEncoderScorer(_UsesVectorIndex, Scorer):
    """Cosine similarity of query and document embeddings (documents from the index)."""

    label = "bi-encoder (cosine of embeddings)"


    @property
    def _vectors(self) -> dict:
        return self.ctx.workspace.shared_objects.setdefault(("vectors", self.index.name), {})

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        self.index.encoder  # noqa: B018 - load the model outside the timed section
        if len(doc_ids):
            rep = self.index.build(doc_ids, progress=progress)
            self.cuts.add(rep.truncated_ids, rep.max_tokens)
            self._cache(doc_ids)

    def _cache(self, doc_ids: Sequence[str]) -> None:
        cache = self._vectors
        missing = [d for d in dict.fromkeys(doc_ids) if d not in cache]
        for lo in range(0, len(missing), 2048):
            chunk = missing[lo:lo + 2048]
            cache.update(zip(chunk, self.index.vectors(chunk)))

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        q = self.index.encode_queries([query])[0]
        cache = self._vectors
        if any(d not in cache for d in doc_ids):
            self._cache(doc_ids)
        if not len(doc_ids):
            return np.zeros(0)
        return np.stack([cache[d] for d in doc_ids]) @ q


@register("dense", "bi-encoder", "bi", retriever=True)
class DenseRetriever(_UsesVectorIndex, Retriever):
    """First pass: nearest neighbours of the query embedding in the Qdrant index."""

    label = "dense (bi-encoder in Qdrant)"


    def prepare(self, progress=None) -> None:
        rep = self.index.build(progress=progress)
        self.cuts.add(rep.truncated_ids, rep.max_tokens)

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        return self.index.search(self.index.encode_queries([query])[0], k)

    @classmethod
    def qdrant_search(cls, config: ScorerConfig, pool_size: int) -> QdrantSearch:
        model = config.model or DEFAULT_BI_ENCODER
        return QdrantSearch((QdrantVector(
            VECTOR, "dense", query=f"the query's embedding by {model} (cosine)",
            document=f"the document's embedding by {model} (title + text, cut to the model's limit, unit length)",
            config=ScorerConfig(cls.kind, model), facts={"model": model}),))

    def vector_source(self, name: str) -> "_DenseVectors":
        return _DenseVectors(self)


VECTOR = "dense"


class _DenseVectors(RetrieverVectors):
    """The vector index's embeddings, as the collection and the query need them."""

    def documents(self, doc_ids):
        return [v.tolist() for v in self.retriever.index.vectors(doc_ids)]

    def query(self, text: str):
        return self.retriever.index.encode_queries([text])[0].tolist()
