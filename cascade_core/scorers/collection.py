"""An existing Qdrant collection as the first pass: nothing is indexed again.

Point a cascade at a collection someone already filled (on a Qdrant server, or an embedded Qdrant
Edge shard folder): its name (or folder), the vector to search (a name, or the unnamed default),
the payload field that holds the document id (or the point id itself), and the model that
encodes the queries as the collection's documents were encoded. The first pass is that
collection's nearest neighbours; every later stage scores documents of the loaded corpus, matched
by id.

Before the first query the collection is checked: the vector's dimension against the query
encoder's, and its ids against the corpus. Corpus documents the collection lacks can never be
retrieved: they are counted in a note (and the judged ones among them named, see
:meth:`CollectionRetriever.judged_missing`); ids the collection has and the corpus does not are
dropped from its results and counted. No overlap at all is an error that shows the ids it found
(a wrong ``id_field`` is the usual cause).

>>> CollectionRetriever.parse_params({"collection": "docs", "url": "http://qdrant:6333"})["id_field"]
'doc_id'
>>> CollectionRetriever.parse_params({})
Traceback (most recent call last):
...
cascade_core.errors.SpecError: collection parameter collection is required: a server collection's name, or an embedded Qdrant shard folder
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import IndexingError, SpecError, require
from ..models import load_bi_encoder
from ..params import Param
from ..readback import Unreadable, read_record
from .base import Retriever, ScorerConfig, ScorerContext, register
from .dense import DEFAULT_BI_ENCODER

MAX_SCROLL = 5_000_000   # ids read to check the collection against the corpus (beyond: sampled, said so)
SHOWN = 5
_lock = threading.Lock()


@register("collection", "qdrant-collection", retriever=True)
class CollectionRetriever(Retriever):
    label = "an existing Qdrant collection (nothing re-indexed)"
    default_model = DEFAULT_BI_ENCODER
    default_model_note = "the query encoder: the model that encoded the collection's documents"
    cost_shape = "per-query"
    uses_device = True   # the query encoder runs here
    parameters = (
        Param("collection", "path", "", help="a server collection's name, or an embedded Qdrant Edge shard folder"),
        Param("url", "url", "", help="the Qdrant server's URL (API key from QDRANT_API_KEY); empty: embedded"),
        Param("vector", "text", "", help="the vector to search ('' = the collection's unnamed vector)"),
        Param("id_field", "text", "doc_id", help="the payload field holding the document id ('' = the point id)"),
        Param("exact", "bool", True, help="exact search; off: the collection's HNSW index"),
    )

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        p = self.parse_params(config.params)
        self.collection, self.url, self.vector = p["collection"], p["url"], p["vector"]
        self.id_field, self.exact = p["id_field"], p["exact"]
        self.notes: list[str] = []
        self.missing_ids: list[str] = []     # corpus documents the collection lacks
        self._known = set(self.corpus.ids) if self.corpus is not None else set()
        self._encoder = None

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        parsed = super().parse_params(params)
        if not parsed["collection"]:
            raise SpecError("collection parameter collection is required: a server collection's name, or an "
                            "embedded Qdrant shard folder")
        return parsed

    @classmethod
    def opened_paths(cls, params: dict) -> list[str]:
        """The shard folder, when embedded; with a ``url``, ``collection`` is a server's collection name."""
        return [] if str(params.get("url") or "").strip() else super().opened_paths(params)

    def coverage_note(self, qrels) -> str | None:
        """One line naming the judged-relevant documents the collection lacks (None: none): the
        part of the recall loss the collection, not any cut-off, causes."""
        if not self.missing_ids or qrels is None:
            return None
        judged = {d for docs in qrels.judgments.values() for d, grade in docs.items() if grade > 0}
        missing = self.judged_missing(judged)
        if not missing:
            return None
        return (f"collection {self.collection}: {len(missing):,} judged documents are not in it and can never be "
                f"retrieved, whatever the cut-offs (e.g. {', '.join(map(repr, missing[:SHOWN]))})")

    @property
    def id(self) -> str:
        where = self.url.rstrip("/") if self.url else f"embedded:{Path(self.collection).expanduser().resolve()}"
        name = self.collection if self.url else ""
        return (f"first-pass:collection:{where}:{name}:vector={self.vector}:id={self.id_field or '<point id>'}:"
                f"exact={self.exact}:{self.resolved_model.key}")

    # -- the query encoder ---------------------------------------------------------------------

    def load_model(self) -> None:
        self.encoder  # noqa: B018 - loads and caches it

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_bi_encoder(self.resolved_model, self.device)
        return self._encoder

    def _encode(self, text: str) -> list[float]:
        return self.encoder.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)[0].astype(np.float32).tolist()

    # -- the collection ------------------------------------------------------------------------

    def _handle(self):
        """The open collection, one per process and location (an embedded shard is locked per process)."""
        key = ("collection", self.url or str(Path(self.collection).expanduser().resolve()), self.collection)
        cache = self.ctx.workspace.shared_objects
        with _lock:
            if key not in cache:
                cache[key] = _ServerCollection(self.url, self.collection) if self.url else _EdgeCollection(self.collection)
            return cache[key]

    def prepare(self, progress=None) -> None:
        """Check the collection against the query encoder and the corpus (see the module's notes)."""
        handle = self._handle()
        dim = handle.dim(self.vector)
        model_dim = len(self._encode("a"))
        if dim is not None and dim != model_dim:
            raise IndexingError(f"collection {self.collection}: vector {self.vector or '(unnamed)'} has {dim} "
                                f"dimensions, the query encoder {self.model_name} makes {model_dim}: name the model "
                                "that encoded the collection")
        ids, total = handle.ids(self.id_field, MAX_SCROLL)
        found = set(ids) & self._known
        if not found:
            raise IndexingError(f"collection {self.collection}: none of its {total:,} points names a document of "
                                f"this corpus by {self._id_words()} (it holds e.g. {', '.join(map(repr, ids[:SHOWN]))}; "
                                f"the corpus e.g. {', '.join(map(repr, self.corpus.ids[:SHOWN]))}): set id_field")
        self.missing_ids = [d for d in self.corpus.ids if d not in found] if len(ids) >= total else []
        unknown = len(set(ids) - self._known)
        self.notes = [f"collection {self.collection}: {total:,} points; {len(found):,} of the corpus's "
                      f"{len(self.corpus):,} documents found by {self._id_words()}"
                      + (f"; {len(self.missing_ids):,} corpus documents are not in it (never retrieved; e.g. "
                         f"{', '.join(map(repr, self.missing_ids[:SHOWN]))})" if self.missing_ids else "")
                      + (f"; {unknown:,} points name no corpus document (dropped from its results)" if unknown else "")
                      + ("" if len(ids) >= total else f"; checked the first {len(ids):,} points only")]

    def _id_words(self) -> str:
        return f"payload field {self.id_field!r}" if self.id_field else "point id"

    def judged_missing(self, judged: set[str]) -> list[str]:
        """The judged documents the collection lacks (after :meth:`prepare`): no cut-off can find them."""
        return [d for d in self.missing_ids if d in judged]

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        ids, scores = self._handle().search(self._encode(query), self.vector, self.id_field, k, self.exact)
        keep = [i for i, d in enumerate(ids) if d in self._known]
        return [ids[i] for i in keep], np.asarray([scores[i] for i in keep], dtype=float)


class _EdgeCollection:
    """An embedded Qdrant Edge shard folder (made by anyone: this tool only reads it)."""

    def __init__(self, folder: str):
        EdgeShard = require("qdrant_edge", "an existing Qdrant Edge collection").EdgeShard

        path = Path(folder).expanduser()
        if not (path / "edge_config.json").exists():
            raise IndexingError(f"{path} is not a Qdrant Edge shard folder (no edge_config.json)")
        try:
            self.shard = EdgeShard.load(str(path))
        except Exception as exc:  # noqa: BLE001 - the engine raises plain Exceptions
            raise IndexingError(f"cannot open the Qdrant Edge shard {path}: {str(exc).splitlines()[0][:200]}") from None
        self.path = path

    def close(self) -> None:
        self.shard.close()

    def dim(self, vector: str) -> int | None:
        try:
            config = read_record(self.path / "edge_config.json")
            return int(config["vectors"][vector]["size"])
        except (Unreadable, ValueError, KeyError, TypeError):
            raise IndexingError(f"{self.path}: no dense vector named {vector!r} in this shard") from None

    def ids(self, field: str, limit: int) -> tuple[list[str], int]:
        from qdrant_edge import CountRequest, ScrollRequest

        total = int(self.shard.count(CountRequest(exact=True)))
        out, offset = [], None
        while len(out) < limit:
            records, offset = self.shard.scroll(ScrollRequest(offset=offset, limit=10_000,
                                                              with_payload=[field] if field else False,
                                                              with_vector=False))
            out += [_doc_id(r, field) for r in records]
            if offset is None:
                break
        return [d for d in out if d is not None], total

    def search(self, vector: list[float], using: str, field: str, k: int, exact: bool):
        from qdrant_edge import Query, QueryRequest, SearchParams

        res = self.shard.query(QueryRequest(limit=int(k), query=Query.Nearest(vector, using=using or None),
                                            with_payload=[field] if field else False,
                                            params=SearchParams(exact=exact)))
        return [_doc_id(p, field) for p in res], [float(p.score) for p in res]


class _ServerCollection:
    """A collection of a Qdrant server (or anything qdrant-client reaches)."""

    def __init__(self, url: str, name: str):
        QdrantClient = require("qdrant_client", "a Qdrant server's collection").QdrantClient

        self.client = QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY") or None, timeout=10)
        self.name = name
        if not self.client.collection_exists(name):
            raise IndexingError(f"no collection named {name!r} on {url}")

    def close(self) -> None:
        self.client.close()

    def dim(self, vector: str) -> int | None:
        vectors = self.client.get_collection(self.name).config.params.vectors
        params = vectors.get(vector) if isinstance(vectors, dict) else (vectors if not vector else None)
        if params is None:
            raise IndexingError(f"collection {self.name}: no dense vector named {vector!r}")
        return int(params.size)

    def ids(self, field: str, limit: int) -> tuple[list[str], int]:
        total = int(self.client.count(self.name, exact=True).count)
        out, offset = [], None
        while len(out) < limit:
            points, offset = self.client.scroll(self.name, limit=10_000, offset=offset,
                                                with_payload=[field] if field else False, with_vectors=False)
            out += [_doc_id(p, field) for p in points]
            if offset is None:
                break
        return [d for d in out if d is not None], total

    def search(self, vector: list[float], using: str, field: str, k: int, exact: bool):
        from qdrant_client import models

        with warnings.catch_warnings():   # a local client standing in for a server is always exact
            warnings.filterwarnings("ignore", message="Local mode performs exact")
            res = self.client.query_points(self.name, query=vector, using=using or None, limit=int(k),
                                           with_payload=[field] if field else False,
                                           search_params=models.SearchParams(exact=exact))
        return [_doc_id(p, field) for p in res.points], [float(p.score) for p in res.points]


def _doc_id(record, field: str) -> str | None:
    """The document id a point carries: its payload field, or its own id."""
    if not field:
        return str(record.id)
    value = (record.payload or {}).get(field)
    return None if value is None else str(value)


__all__ = ["CollectionRetriever"]
