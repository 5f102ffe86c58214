"""Vector indexes in Qdrant: one index = one corpus x one model x vector settings.

An index is named from a fingerprint of the corpus content and the model, so indexing the same
corpus with the same model twice is a no-op, and a changed corpus never reuses stale vectors.

Crash safety: point ids are derived from document ids (uuid5), each batch is upserted as soon as
it is encoded, and the collection's ``complete`` flag is written last. Re-running after a kill
encodes only the documents that are not stored yet; an index without the flag is never searched.
In embedded mode the store's SQLite file is switched to WAL commits (see
``_relax_embedded_commits``): just as safe against a kill, and indexing is no longer slowed
by one disk sync per point.

A corpus with no text at all is refused (the loaders keep empty documents, with a warning).
Documents are cut to what the model reads before its tokenizer sees them (characters first, see
:mod:`cascade_core.truncation`), and a point's payload keeps a bounded excerpt of the
text (``PAYLOAD_CHARS``); the whole text stays in the corpus. An index whose storage turns out
damaged is moved aside and rebuilt (:mod:`cascade_core.index_repair`).

>>> index_name("3f2a9c0d1e2b4a5c", "all-MiniLM-L6-v2")
'cx-3f2a9c0d1e2b4a5c-fa870ee1e9'
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .damage import is_corruption
from .data import Corpus
from .errors import IndexingError
from .models import ResolvedModel, load_bi_encoder
from .progress import ProgressCallback, ProgressTracker
from .truncation import clip_for_model

POINT_NAMESPACE = uuid.UUID("6f1c2a54-3b7e-4a8e-9d0c-5c1b2a3e4f60")
INDEX_PREFIX = "cx-"
PAYLOAD_CHARS = 1000   # of a document's title and text kept in its point (for people reading the index)


def index_name(corpus_fingerprint: str, model_key: str) -> str:
    return f"{INDEX_PREFIX}{corpus_fingerprint}-{hashlib.sha1(model_key.encode()).hexdigest()[:10]}"


def point_id(doc_id: str) -> str:
    """Deterministic point id of a document: re-upserting overwrites, never duplicates."""
    return str(uuid.uuid5(POINT_NAMESPACE, doc_id))


@dataclass(frozen=True)
class IndexInfo:
    name: str
    exists: bool
    complete: bool
    n_points: int
    n_docs: int
    dim: int | None
    model: str | None
    corpus: str | None


@dataclass(frozen=True)
class BuildReport:
    name: str
    encoded: int          # documents encoded in this run
    already_stored: int   # documents found stored and skipped
    truncated: int        # encoded documents longer than the model's limit (cut there)
    max_tokens: int
    seconds: float
    complete: bool
    truncated_ids: tuple = ()   # the ids of the truncated documents

    @property
    def docs_per_s(self) -> float:
        return self.encoded / self.seconds if self.seconds > 0 else 0.0


class VectorIndex:
    """The vectors of one corpus under one bi-encoder, in a Qdrant collection.

    Works the same against the embedded client (``QdrantClient(path=...)``) and a server.
    """

    def __init__(self, client, corpus: Corpus, model: ResolvedModel):
        # a client, or a function that opens one: opened when first needed, so a process that only
        # reads stored scores never takes the embedded folder's lock
        self._client = client
        self.corpus = corpus
        self.model = model
        self.name = index_name(corpus.fingerprint, model.key)
        self._encoder = None

    @property
    def client(self):
        if callable(self._client) and not hasattr(self._client, "collection_exists"):
            self._client = self._client()
        return self._client

    # -- model -------------------------------------------------------------------------------

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_bi_encoder(self.model)
        return self._encoder

    @property
    def dim(self) -> int:
        enc = self.encoder
        get_dim = getattr(enc, "get_embedding_dimension", None) or enc.get_sentence_embedding_dimension
        return int(get_dim())

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)

    # -- state -------------------------------------------------------------------------------

    def info(self) -> IndexInfo:
        if not self.client.collection_exists(self.name):
            return IndexInfo(self.name, False, False, 0, len(self.corpus), None, self.model.name,
                             self.corpus.fingerprint)
        return describe_collection(self.client, self.name)

    def stored_doc_ids(self) -> set[str]:
        """Ids of documents whose vectors are stored (scrolls payloads, not vectors)."""
        ids: set[str] = set()
        offset = None
        while True:
            points, offset = self.client.scroll(self.name, limit=10_000, offset=offset,
                                                with_payload=["doc_id"], with_vectors=False)
            ids.update(p.payload["doc_id"] for p in points)
            if offset is None:
                return ids

    def _create(self) -> None:
        from qdrant_client import models

        self.client.create_collection(
            self.name,
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE),
            metadata={"cascade": 1, "corpus": self.corpus.fingerprint, "model": self.model.name,
                      "model_key": self.model.key, "n_docs": len(self.corpus), "dim": self.dim,
                      "created_at": time.time(), "complete": False},
        )

    def _check_compatible(self) -> None:
        info = describe_collection(self.client, self.name)
        if info.dim is not None and info.dim != self.dim:
            raise IndexingError(
                f"index {self.name} holds {info.dim}-d vectors but model {self.model.name!r} makes "
                f"{self.dim}-d ones; drop it (cascade indexes --drop {self.name}) or use another model")

    # -- building ----------------------------------------------------------------------------

    def build(self, doc_ids: Sequence[str] | None = None, progress: ProgressCallback | None = None,
              chunk_size: int = 256, batch_size: int = 32) -> BuildReport:
        """Encode and store the vectors of ``doc_ids`` (default: the whole corpus) not stored yet.

        Marks the index complete once every document of the corpus is stored.
        """
        from qdrant_client import models

        start = time.perf_counter()
        if not any(d.title.strip() or d.text.strip() for d in self.corpus):
            # The loaders keep empty documents (judgments on them still count), but a corpus
            # with no text at all would only fill the index with vectors of the empty string.
            raise IndexingError(f"the corpus has no text to index: all {len(self.corpus)} documents "
                                "have an empty title and text")
        if self.client.collection_exists(self.name):
            self._check_compatible()
        else:
            self._create()
        embedded_sqlite = _relax_embedded_commits(self.client, self.name)
        stored = self.stored_doc_ids()
        wanted = self.corpus.ids if doc_ids is None else list(dict.fromkeys(doc_ids))
        missing = [d for d in wanted if d not in stored]
        encoder = self.encoder
        limit = int(encoder.max_seq_length or 512)

        # Cut to what the model reads before tokenizing (a huge document costs what a normal one
        # does), then sort by token length: batches of similar length waste no padding.
        texts, lengths, cut = clip_for_model(encoder.tokenizer, [self.corpus.text_of(d) for d in missing], limit)
        truncated_ids = tuple(d for d, c in zip(missing, cut) if c)
        order = np.argsort(lengths, kind="stable")[::-1]
        tracker = ProgressTracker(f"encoding documents ({self.model.name})", len(missing), progress, "docs")
        for lo in range(0, len(order), chunk_size):
            chunk = order[lo:lo + chunk_size]
            vectors = encoder.encode([texts[i] for i in chunk], batch_size=batch_size,
                                     normalize_embeddings=True, convert_to_numpy=True,
                                     show_progress_bar=False)
            points = []
            for i, vec in zip(chunk, vectors):
                doc = self.corpus[missing[i]]
                points.append(models.PointStruct(
                    id=point_id(doc.id), vector=vec.tolist(),
                    payload={"doc_id": doc.id, "title": doc.title[:PAYLOAD_CHARS],
                             "text": doc.text[:PAYLOAD_CHARS], "text_chars": len(doc.text),
                             "metadata": doc.metadata}))
            self._upsert(points)
            tracker.advance(len(chunk))

        # The collection is named after this corpus, so every stored id belongs to it.
        complete = len(stored) + len(missing) >= len(self.corpus)
        if complete:
            if embedded_sqlite is not None:
                # Make every point durable (on disk, not only in the WAL) before the flag says so.
                embedded_sqlite.execute("PRAGMA wal_checkpoint(FULL)")
            meta = dict(describe_collection(self.client, self.name, raw=True) or {})
            meta.update(complete=True, completed_at=time.time())
            self.client.update_collection(self.name, metadata=meta)
        return BuildReport(self.name, len(missing), len(wanted) - len(missing), len(truncated_ids), limit,
                           time.perf_counter() - start, complete, truncated_ids)

    def _upsert(self, points) -> None:
        """Store points; a storage file found damaged meanwhile is one line, not the client's error."""
        try:
            self.client.upsert(self.name, points=points, wait=True)
        except Exception as exc:
            if not is_corruption(exc):
                raise
            raise IndexingError(f"the storage of vector index {self.name} is damaged ({exc}): close this "
                                "program and run the command again; the index is then moved aside and "
                                "rebuilt") from None

    # -- reading -----------------------------------------------------------------------------

    def vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of ``doc_ids`` in that order; raises if any is missing."""
        if not len(doc_ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        records = self.client.retrieve(self.name, ids=[point_id(d) for d in doc_ids],
                                       with_vectors=True, with_payload=["doc_id"])
        by_id = {r.payload["doc_id"]: r.vector for r in records}
        missing = [d for d in doc_ids if d not in by_id]
        if missing:
            raise IndexingError(f"index {self.name} lacks vectors for {len(missing)} documents "
                                f"(first: {missing[0]!r}); build it first")
        return np.asarray([by_id[d] for d in doc_ids], dtype=np.float32)

    def search(self, query_vector: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        """Top-``k`` documents by cosine similarity. Refuses an incomplete index."""
        info = self.info()
        if not info.complete:
            raise IndexingError(
                f"index {self.name} ({self.model.name}) is {'incomplete' if info.exists else 'missing'}: "
                f"run `cascade index` for this dataset and model first")
        res = self.client.query_points(self.name, query=np.asarray(query_vector).tolist(), limit=k,
                                       with_payload=["doc_id"])
        return [p.payload["doc_id"] for p in res.points], np.asarray([p.score for p in res.points])


def describe_collection(client, name: str, raw: bool = False):
    """What a collection of ours says about itself (its metadata)."""
    col = client.get_collection(name)
    meta = getattr(col.config, "metadata", None) or {}
    if raw:
        return meta
    vectors = col.config.params.vectors
    dim = getattr(vectors, "size", None)
    n_points, n_docs = int(client.count(name).count), int(meta.get("n_docs", 0))
    # "complete" with vectors missing: its storage file vanished (the client makes an empty one)
    complete = bool(meta.get("complete")) and n_points >= n_docs
    return IndexInfo(name, True, complete, n_points, n_docs, dim, meta.get("model"), meta.get("corpus"))


def list_indexes(client) -> list[IndexInfo]:
    """Every collection made by this tool, complete or not."""
    names = [c.name for c in client.get_collections().collections if c.name.startswith(INDEX_PREFIX)]
    return [describe_collection(client, n) for n in sorted(names)]


def _relax_embedded_commits(client, name: str):
    """Make the embedded store's per-point commits cheap; return its SQLite connection (or None).

    qdrant-client's local mode commits every point in its own SQLite transaction, and the
    default rollback journal syncs the disk on each: over 1 ms a point on a quiet disk here and
    up to ~18 ms when other work shares it, which made indexing SciFact up to ~35% slower than
    encoding it. WAL with ``synchronous=NORMAL`` skips the sync per commit but keeps every
    commit atomic and durable across a killed process (the crash-safety this module promises);
    only a power cut can lose the last commits, and those documents are simply re-encoded on
    the next run (``build`` checkpoints the WAL before it marks an index complete).

    This reaches into the local client's internals, so anything unexpected (a server client, a
    newer qdrant-client) leaves the defaults alone: slower, never wrong.
    """
    try:
        conn = client._client.collections[name].storage.storage
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    except Exception:  # noqa: BLE001 - not the embedded client, or its internals changed
        return None

