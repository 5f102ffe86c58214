"""Vector indexes in Qdrant: one index = one corpus x one model x vector settings.

An index is named from a fingerprint of the corpus content and the model, so indexing the same
corpus with the same model twice is a no-op, and a changed corpus never reuses stale vectors.
Where the vectors live is a :mod:`cascade_core.vectors.backends`: the Qdrant engine in process
(default, one shard folder per index under the data folder) or a Qdrant server.

Crash safety: point ids are derived from document ids (uuid5), each batch is upserted as soon as
it is encoded (the engine writes it to its write-ahead log first), and the index's ``complete``
flag is written last, after a flush. Re-running after a kill encodes only the documents that
are not stored yet; an index without the flag is never searched.

Exact or HNSW: an index of fewer than :data:`HNSW_THRESHOLD` vectors is searched exactly (every
stored vector scored: recall 1 against itself, and fast at that size); a larger one gets an HNSW
graph when it is completed and is searched through it. :meth:`VectorIndex.ann_recall` measures
what the graph costs in recall against exact search for given queries (the part of a dense first
pass's loss that the index, not the model, causes). ``benchmarks/bench_vector_index.py`` is where
the threshold comes from.

A corpus with no text at all is refused (the loaders keep empty documents, with a warning).
Documents are cut to what the model reads before its tokenizer sees them (characters first, see
:mod:`cascade_core.models.truncation`), and a point's payload keeps a bounded excerpt of the
text (``PAYLOAD_CHARS``); the whole text stays in the corpus. An index whose storage turns out
damaged is moved aside and rebuilt (:mod:`cascade_core.vectors.repair`).

Vectors are checked where they are read, before anything scores with them: every vector read
back must be finite and, as the index's metadata promises (``unit_norm``: the encoder normalises,
the distance is cosine), of unit length; every search's scores must be finite cosines (within
[-1, 1]). :meth:`VectorIndex.build` on an index that exists reads its stored vectors back first,
once per process (all of them up to :data:`VERIFY_ALL`, a random sample of that many past it), so
damage already on disk is moved aside and rebuilt before a run scores; damage found by a later
read moves the index aside and stops with one line (a rebuild there would be timed as the cost
of a query).

>>> index_name("3f2a9c0d1e2b4a5c", "all-MiniLM-L6-v2")
'cx-3f2a9c0d1e2b4a5c-fa870ee1e9'
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from ..data import Corpus
from ..data.vectors import find_shipped
from ..errors import IndexingError
from ..errors import IndexingError as _Err
from ..models import ResolvedModel, load_bi_encoder, model_fingerprint
from ..models.device import resolve_device
from ..models.truncation import clip_for_model
from ..progress import ProgressCallback, ProgressTracker
from .repair import FolderInUse, vector_damage

POINT_NAMESPACE = uuid.UUID("6f1c2a54-3b7e-4a8e-9d0c-5c1b2a3e4f60")
INDEX_PREFIX = "cx-"
PAYLOAD_CHARS = 1000   # of a document's title and text kept in its point (for people reading the index)
# Below this many vectors an index is searched exactly; from it on through an HNSW graph. Measured
# with benchmarks/bench_vector_index.py (README, "Which vector back end when"): exact search in the
# engine costs ~0.1 ms per 1,000 384-d vectors per query, so up to 50,000 vectors it stays under
# ~5 ms and no graph (nor its build time, nor its recall loss) is worth having.
HNSW_THRESHOLD = 50_000
# Stored vectors read back when an existing index is built on, once per process: all of them up
# to this many, a random sample of this many past it. Reading back costs ~45 us per 384-d vector
# here (0.9 s per 20,000), paid before scoring starts, not per query.
VERIFY_ALL = 20_000
READ_CHUNK = 2048


def hnsw_threshold() -> int:
    """:data:`HNSW_THRESHOLD`, or ``$CASCADE_HNSW_THRESHOLD`` when set."""
    return int(os.environ.get("CASCADE_HNSW_THRESHOLD", HNSW_THRESHOLD))


def index_name(corpus_fingerprint: str, model_key: str) -> str:
    return f"{INDEX_PREFIX}{corpus_fingerprint}-{hashlib.sha1(model_key.encode()).hexdigest()[:10]}"


# Encodes the chunks' texts elsewhere: yields (chunk number, vectors) as chunks finish (VectorIndex.build).
EncodeChunks = Callable[[list[list[str]]], Iterable[tuple[int, np.ndarray]]]


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
    search: str = "exact"    # "exact", "hnsw", or "hnsw (graph not built: exact until `cascade index`)"
    in_use: bool = False     # held by another process: listed from its metadata


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
    imported: int = 0           # documents whose vectors came precomputed (a file, or shipped with the data)
    note: str = ""              # why shipped vectors were not used, when some were found

    @property
    def docs_per_s(self) -> float:
        return self.encoded / self.seconds if self.seconds > 0 else 0.0


def payload_of(doc) -> dict:
    """A point's payload: the document id and a bounded excerpt (the whole text stays in the corpus)."""
    return {"doc_id": doc.id, "title": doc.title[:PAYLOAD_CHARS], "text": doc.text[:PAYLOAD_CHARS],
            "text_chars": len(doc.text), "metadata": doc.metadata}


class VectorIndex:
    """The vectors of one corpus under one bi-encoder, in a vector store (engine or server).

    ``store`` is a :mod:`~cascade_core.vectors.backends` store, or a function that opens one: opened
    when first needed, so a process that only reads stored scores never touches the vectors.
    """

    def __init__(self, store, corpus: Corpus, model: ResolvedModel, hnsw_threshold: int | None = None):
        self._store = store
        self.corpus = corpus
        self.model = model
        self.name = index_name(corpus.fingerprint, model.key)
        self._threshold = hnsw_threshold
        self._encoder = None
        self.device = "auto"   # the device setting its encoder runs on (a kind using it sets the spec's)
        self._verified = False   # stored vectors read back and found sound, in this process
        self._unit = None        # whether the metadata promises unit length (read when first needed)

    @property
    def store(self):
        if callable(self._store) and not hasattr(self._store, "search"):
            self._store = self._store()
        return self._store

    @property
    def threshold(self) -> int:
        return self._threshold if self._threshold is not None else hnsw_threshold()

    # -- model -------------------------------------------------------------------------------

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_bi_encoder(self.model, resolve_device(self.device))
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
        if not self.store.exists(self.name):
            return IndexInfo(self.name, False, False, 0, len(self.corpus), None, self.model.name,
                             self.corpus.fingerprint)
        return describe_index(self.store, self.name, self.threshold)

    def stored_doc_ids(self) -> set[str]:
        """Ids of documents whose vectors are stored (scrolls payloads, not vectors)."""
        return set(self.store.doc_ids(self.name))

    def _create(self) -> bool:
        """Create the empty index; False when another process created it meanwhile (used as it is)."""
        # unit_norm: the encoder normalises and the distance is cosine (the engine normalises too),
        # so every vector read back must have unit length: what reads check (repair.vector_damage).
        return self.store.create(self.name, self.dim,
                                 {"cascade": 1, "corpus": self.corpus.fingerprint, "model": self.model.name,
                                  "model_key": self.model.key, "n_docs": len(self.corpus), "dim": self.dim,
                                  "unit_norm": True, "created_at": time.time(), "complete": False})

    def _check_compatible(self) -> None:
        dim = self.store.dim(self.name)
        if dim is not None and dim != self.dim:
            raise IndexingError(
                f"index {self.name} holds {dim}-d vectors but model {self.model.name!r} makes "
                f"{self.dim}-d ones; drop it (cascade indexes --drop {self.name}) or use another model")

    def uses_hnsw(self, n_points: int | None = None) -> bool:
        """Whether searches go through the HNSW graph (the index holds at least the threshold)."""
        n = self.store.count(self.name) if n_points is None else n_points
        return n >= self.threshold

    def needs_ann(self) -> bool:
        """A complete index past the threshold whose graph is not built yet (a build cut short)."""
        info = self.info()
        return info.complete and info.search.startswith("hnsw (")

    # -- building ----------------------------------------------------------------------------

    def build(self, doc_ids: Sequence[str] | None = None, progress: ProgressCallback | None = None,
              chunk_size: int = 256, batch_size: int = 32, precomputed=None, shipped: bool = True,
              encode_chunks: EncodeChunks | None = None) -> BuildReport:
        """Encode and store the vectors of ``doc_ids`` (default: the whole corpus) not stored yet.

        ``precomputed`` (:class:`~cascade_core.data.vectors.PrecomputedVectors`, checked against
        this corpus and model) gives vectors to store instead of encoding; without it, vectors
        shipped beside the corpus for these very weights are used (the bundled sample's; not with
        ``shipped=False``), and anything without a vector is encoded. Marks the index complete once every document of the
        corpus is stored (and, past :data:`HNSW_THRESHOLD` vectors, builds its HNSW graph first).

        ``encode_chunks`` encodes elsewhere (a Ray cluster: :func:`cascade_core.scoring.on_ray.ray_encoder`):
        given the chunks' texts, it yields ``(chunk number, unit vectors)`` as chunks finish, in any
        order; each is stored as it arrives, so an interrupted build keeps what was stored.
        """
        start = time.perf_counter()
        if not any(d.title.strip() or d.text.strip() for d in self.corpus):
            # The loaders keep empty documents (judgments on them still count), but a corpus
            # with no text at all would only fill the index with vectors of the empty string.
            raise IndexingError(f"the corpus has no text to index: all {len(self.corpus)} documents "
                                "have an empty title and text")
        store = self.store
        if store.exists(self.name):
            self._check_compatible()
            self.verify()   # damage already on disk: moved aside here, and built anew just below
        if not store.exists(self.name):
            # Under the store's lock between processes: another process may have made it since
            # the check above; then both write to that one (the engine lets one at a time).
            self._create()
            self._check_compatible()
            self._verified = True   # what this process stores from now on is what it encoded
        stored = self.stored_doc_ids()
        wanted = self.corpus.ids if doc_ids is None else list(dict.fromkeys(doc_ids))
        missing = [d for d in wanted if d not in stored]
        note = ""
        if missing and precomputed is None and shipped:
            precomputed, note = self._shipped()
        imported = self._import(precomputed, missing, progress, chunk_size) if missing and precomputed else []
        if imported:
            done = set(imported)
            missing = [d for d in missing if d not in done]
        encoder = self.encoder
        limit = int(encoder.max_seq_length or 512)

        # Cut to what the model reads before tokenizing (a huge document costs what a normal one
        # does), then sort by token length: batches of similar length waste no padding.
        texts, lengths, cut = clip_for_model(encoder.tokenizer, [self.corpus.text_of(d) for d in missing], limit)
        truncated_ids = tuple(d for d, c in zip(missing, cut) if c)
        order = np.argsort(lengths, kind="stable")[::-1]
        tracker = ProgressTracker(f"encoding documents ({self.model.name})", len(missing), progress, "docs")
        chunks = [order[lo:lo + chunk_size] for lo in range(0, len(order), chunk_size)]
        chunk_texts = ([texts[i] for i in chunk] for chunk in chunks)
        if encode_chunks is None:
            encoded = ((n, encoder.encode(t, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)) for n, t in enumerate(chunk_texts))
        else:
            encoded = encode_chunks(list(chunk_texts)) if chunks else ()
        for n, vectors in encoded:
            chunk = chunks[n]
            docs = [self.corpus[missing[i]] for i in chunk]
            self._upsert([point_id(d.id) for d in docs], vectors,
                         [payload_of(d) for d in docs])
            tracker.advance(len(chunk))

        # The index is named after this corpus, so every stored id belongs to it.
        n_points = len(stored) + len(missing) + len(imported)
        complete = n_points >= len(self.corpus)
        meta = dict(store.metadata(self.name) or {})
        if complete and (missing or imported or not meta.get("complete") or self.needs_ann()):
            store.flush(self.name)   # every point durable before the flag says so
            if self.uses_hnsw(n_points):
                graph = ProgressTracker(f"building the HNSW graph ({n_points:,} vectors)", 1, progress, "graph")
                store.build_ann(self.name)
                graph.advance(1)
            meta.update(complete=True, completed_at=time.time(), n_points=n_points)
            store.set_metadata(self.name, meta)
        return BuildReport(self.name, len(missing), len(wanted) - len(missing) - len(imported), len(truncated_ids),
                           limit, time.perf_counter() - start, complete, truncated_ids, len(imported), note)

    def _shipped(self):
        """Vectors shipped beside the corpus for these exact weights, or ``(None, why not)``."""
        return find_shipped(self.corpus, self.model.name, model_fingerprint(self.model))

    def _import(self, vectors, missing: Sequence[str], progress, chunk_size: int) -> list[str]:
        """Store precomputed vectors of the ``missing`` documents that have one; returns their ids.
        Checked first: the model's dimension, and no vector of a document this corpus lacks."""
        vectors.check(dim=self.dim, doc_ids=self.corpus.ids)
        have = set(vectors.ids)
        ids = [d for d in missing if d in have]
        tracker = ProgressTracker(f"importing precomputed vectors ({self.model.name})", len(ids), progress, "docs")
        for lo in range(0, len(ids), chunk_size):
            chunk = ids[lo:lo + chunk_size]
            rows = vectors.rows_for(chunk)
            # Unit length, as the encoder stores them (a float16 file is off by ~1e-3).
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            docs = [self.corpus[d] for d in chunk]
            self._upsert([point_id(d.id) for d in docs], rows,
                         [payload_of(d) for d in docs])
            tracker.advance(len(chunk))
        return ids

    def _upsert(self, ids, vectors, payloads) -> None:
        """Store points; a storage found damaged meanwhile is one line, not the engine's error."""
        try:
            self.store.upsert(self.name, ids, vectors, payloads)
        except IndexingError as exc:
            raise IndexingError(f"{exc}: the storage of vector index {self.name} may be damaged: close this "
                                "program and run the command again; a damaged index is then moved aside and "
                                "rebuilt") from None

    # -- reading -----------------------------------------------------------------------------

    def verify(self, limit: int | None = None) -> bool:
        """Read the stored vectors back (all up to ``limit``, default :data:`VERIFY_ALL`; a random
        sample of that many past it) once per process; True when sound. A damaged index (a vector
        not finite, or not of unit length) is moved aside, with the notice, and False returned:
        :meth:`build` then builds it anew."""
        if self._verified:
            return True
        limit = VERIFY_ALL if limit is None else limit
        ids = list(self.corpus.ids)
        if len(ids) > limit:   # unseeded: each process checks other vectors
            ids = [ids[i] for i in sorted(np.random.default_rng().choice(len(ids), limit, replace=False))]
        for lo in range(0, len(ids), READ_CHUNK):
            vectors = self._read(ids[lo:lo + READ_CHUNK])
            reason = vector_damage(np.asarray(list(vectors.values())), self._unit_norm()) if vectors else None
            if reason is not None:
                self.store.quarantine(self.name, reason)
                self._unit = None
                return False
        self._verified = True
        return True

    def _read(self, doc_ids: Sequence[str]) -> dict:
        """``{doc id: stored vector}`` for those of ``doc_ids`` that are stored (unchecked)."""
        records = self.store.retrieve(self.name, [point_id(d) for d in doc_ids], payload=["doc_id"], vectors=True)
        return {payload["doc_id"]: vec for _, payload, vec in records}

    def _unit_norm(self) -> bool:
        """Whether this index promises unit-length vectors (its metadata; indexes made before the
        key was written were all cosine, so unit length too)."""
        if self._unit is None:
            self._unit = bool((self.store.metadata(self.name) or {}).get("unit_norm", True))
        return self._unit

    def _damaged(self, reason: str) -> IndexingError:
        """Move this index aside as damaged, mid-run; the one line to stop with."""
        moved = self.store.quarantine(self.name, reason, say=False)
        self._verified, self._unit = False, None
        where = f": moved to {moved.moved_to}" if moved is not None else ""
        return IndexingError(f"the vector index {self.name} was damaged ({reason}){where}; run the command "
                             "again: the index is built anew (`cascade index`, or any dense step)")

    def vectors(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of ``doc_ids`` in that order; raises if any is missing, or damaged (a
        vector not finite or not of unit length: the index is then moved aside)."""
        if not len(doc_ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        by_id = self._read(doc_ids)
        reason = vector_damage(np.asarray(list(by_id.values())), self._unit_norm()) if by_id else None
        if reason is not None:
            raise self._damaged(reason)
        missing = [d for d in doc_ids if d not in by_id]
        if missing:
            raise IndexingError(f"index {self.name} lacks vectors for {len(missing)} documents "
                                f"(first: {missing[0]!r}); build it first")
        return np.asarray([by_id[d] for d in doc_ids], dtype=np.float32)

    def search(self, query_vector: np.ndarray, k: int, exact: bool | None = None) -> tuple[list[str], np.ndarray]:
        """Top-``k`` documents by cosine similarity. Refuses an incomplete index.

        ``exact`` None: exact below :data:`HNSW_THRESHOLD` vectors, HNSW from it on."""
        info = self.info()
        if not info.complete:
            raise IndexingError(
                f"index {self.name} ({self.model.name}) is {'incomplete' if info.exists else 'missing'}: "
                f"run `cascade index` for this dataset and model first")
        if exact is None:
            exact = not self.uses_hnsw(info.n_points)
        ids, scores = self.store.search(self.name, query_vector, k, exact=exact)
        # The scores are what the stored vectors read as: a NaN, or a cosine past 1, is a damaged one.
        if not np.isfinite(scores).all():
            raise self._damaged("a search scored a stored vector as not a number")
        if self._unit_norm() and scores.size and np.abs(scores).max() > 1 + 1e-3:
            raise self._damaged(f"a search scored a stored vector {np.abs(scores).max():.3g}, "
                                "past the cosine's 1: it is not of unit length")
        return ids, scores

    def ann_recall(self, query_vectors: np.ndarray, k: int = 100) -> float:
        """Mean recall@``k`` of HNSW search against exact search, over ``query_vectors``.

        1.0 means the graph finds every document exact search finds; what is below 1.0 is
        lost by the index, not by the model. (For an index searched exactly, that is 1.0.)"""
        return ann_recall(self.store, self.name, query_vectors, k)


def ann_recall(store, name: str, query_vectors: np.ndarray, k: int = 100, hnsw_ef: int | None = None) -> float:
    """Mean overlap of the HNSW top-``k`` with the exact top-``k`` in ``store``'s index ``name``."""
    query_vectors = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
    recalls = []
    for q in query_vectors:
        exact, _ = store.search(name, q, k, exact=True)
        approx, _ = store.search(name, q, k, exact=False, hnsw_ef=hnsw_ef)
        if exact:
            recalls.append(len(set(exact) & set(approx)) / len(exact))
    return float(np.mean(recalls)) if recalls else 1.0


def describe_index(store, name: str, threshold: int | None = None, wait: bool = True) -> IndexInfo:
    """What an index of ours says about itself (its metadata, its vectors)."""
    meta = store.metadata(name) or {}
    threshold = hnsw_threshold() if threshold is None else threshold
    dim = store.dim(name)
    n_docs = int(meta.get("n_docs", 0) or 0)
    try:
        n_points = store.count(name, wait=wait)
    except FolderInUse:   # another process holds it: say what its metadata says
        n_points = int(meta.get("n_points", 0) or 0)
        return IndexInfo(name, True, bool(meta.get("complete")), n_points, n_docs, dim, meta.get("model"),
                         meta.get("corpus"), "exact" if n_points < threshold else "hnsw", in_use=True)
    # "complete" with vectors missing: some of its storage vanished
    complete = bool(meta.get("complete")) and n_points >= n_docs
    search = "exact"
    if n_points >= threshold:
        search = "hnsw" if store.kind == "server" or store.indexed_count(name) >= n_points else \
            "hnsw (graph not built: exact until `cascade index`)"
    return IndexInfo(name, True, complete, n_points, n_docs, dim, meta.get("model"), meta.get("corpus"), search)


def describe_collection(store, name: str, raw: bool = False):
    """Kept for callers of the first version: :func:`describe_index`, or the raw metadata."""
    return (store.metadata(name) or {}) if raw else describe_index(store, name)


def list_indexes(store) -> list[IndexInfo]:
    """Every index made by this tool, complete or not."""
    out = []
    for name in store.names():
        if not name.startswith(INDEX_PREFIX):
            continue
        try:
            out.append(describe_index(store, name, wait=False))
        except _Err:   # moved aside as damaged while opening: listed by ``damaged()``
            continue
    return out
