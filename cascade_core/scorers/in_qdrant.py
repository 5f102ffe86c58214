"""What a first pass runs inside Qdrant, declared by its kind: the named vectors, and their fusion.

A first-pass kind that Qdrant can run itself answers :meth:`~.base.Retriever.qdrant_search` with a
:class:`QdrantSearch`: one named vector (a plain search), or several fused (prefetches and a
fusion, :meth:`cascade_core.fusion.Fusion.qdrant`). Each :class:`QdrantVector` says, in words, how
a document's and a query's vector are made, and its retriever hands the vectors themselves
(:meth:`~.base.Retriever.vector_source`): the export (:mod:`cascade_core.export.qdrant`) builds
the request, the collection and the check from these declarations, with no list of kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

SPARSE_FILL = ("a sparse search returns only documents sharing a term with the query: where fewer than the "
               "pool match, Qdrant returns fewer documents than the tool's first pass, which fills the pool with "
               "score-0 documents in corpus order (they carry no signal); every document that scores is ranked "
               "the same")


@dataclass(frozen=True)
class QdrantVector:
    """One named vector of the exported collection, and how this tool makes it."""

    name: str                      # "dense", "bm25", "splade": the collection's vector name
    type: str                      # "dense" (cosine) or "sparse" (dot product)
    query: str                     # how a query's vector is made, in words
    document: str                  # how a document's vector is made, in words
    config: object                 # the ScorerConfig of the first pass whose index makes them
    facts: dict = field(default_factory=dict)    # model, parameters: written in the export's JSON
    notes: tuple[str, ...] = ()
    client_helpers: str = ""       # Python functions a qdrant-client user needs to make them

    def describe(self) -> dict:
        return {"type": self.type, "from": self.query, "document": self.document, **self.facts}


@dataclass(frozen=True)
class QdrantSearch:
    """A first pass as Qdrant runs it: one vector searched, or several fused by ``fusion``."""

    vectors: tuple[QdrantVector, ...]
    fusion: object = None          # a cascade_core.fusion.Fusion, for several vectors
    depth: int = 0                 # each prefetch's limit (at least the pool)


class VectorSource(Protocol):
    """A retriever's vectors for the export: every document's, and a query's."""

    def prepare(self, progress=None) -> None: ...

    def documents(self, doc_ids: Sequence[str]) -> list:
        """One vector per document: a list of floats, or ``(indices, values)``."""

    def query(self, text: str):
        """The query's vector, in the same form."""

    def attachment(self) -> tuple[str, str, dict] | None:
        """A file written beside the export, ``(JSON key, file suffix, data)`` (BM25's vocabulary), or None."""


class RetrieverVectors:
    """A first pass's own vectors (:class:`VectorSource`): made by preparing the retriever (its index
    built), with no file beside the export; a kind adds ``documents`` and ``query``."""

    def __init__(self, retriever):
        self.retriever = retriever

    def prepare(self, progress=None) -> None:
        self.retriever.prepare(progress)

    def attachment(self):
        return None
