"""Bi-encoders: dense first pass from the Qdrant index, and a rerank stage over stored vectors.

Both use the same :class:`~cascade_core.index.VectorIndex`, so a corpus is encoded once per model
and any bi-encoder stage on the index's model reuses its vectors. A stage scores with the cosine
similarity between the query's vector and each candidate's stored vector; the timed cost is what
production pays per query: encode the query, fetch the candidates' vectors, one matrix product.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models import resolve_model
from .base import Retriever, Scorer, ScorerConfig, ScorerContext, register

DEFAULT_BI_ENCODER = "all-MiniLM-L6-v2"


class _UsesVectorIndex:
    """Shared by the bi-encoder scorer and the dense retriever: the index of their model."""

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        model = resolve_model(config.model or DEFAULT_BI_ENCODER)
        self.index = ctx.workspace.vector_index(ctx.corpus, model)


@register("bi-encoder", "bi", "dense")
class BiEncoderScorer(_UsesVectorIndex, Scorer):
    """Cosine similarity of query and document embeddings (documents from the index)."""

    @property
    def id(self) -> str:
        return f"bi-encoder:{self.index.model.key}"

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        self.index.encoder  # noqa: B018 - load the model outside the timed section
        if len(doc_ids):
            self.index.build(doc_ids, progress=progress)

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        q = self.index.encode_queries([query])[0]
        return self.index.vectors(doc_ids) @ q


@register("dense", "bi-encoder", "bi", retriever=True)
class DenseRetriever(_UsesVectorIndex, Retriever):
    """First pass: nearest neighbours of the query embedding in the Qdrant index."""

    @property
    def id(self) -> str:
        return f"first-pass:dense:{self.index.model.key}"

    def prepare(self, progress=None) -> None:
        self.index.build(progress=progress)

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        return self.index.search(self.index.encode_queries([query])[0], k)
