"""BM25 (rank-bm25's Okapi variant) as a first pass over the corpus and as a rerank stage.

Defaults: k1=0.9, b=0.4 (Anserini's BEIR settings, better than rank-bm25's 1.5/0.75 on short
scientific abstracts), title + text, tokenisation in :mod:`cascade_core.data.text` (stopwords out,
Snowball stemming). As a rerank stage it rescores only the candidates, with ``get_batch_scores``,
using the statistics (idf, average length) of the whole corpus, so its scores equal the first
pass's.

Scoring is rank-bm25's formula on a sparse matrix (:class:`SparseBM25`): each term's weight in
each document is computed once, at build, into a term-major ``scipy.sparse`` CSR matrix, so a
query touches only the postings of its terms. rank-bm25's own ``get_scores`` walks every document
in Python for every query term: 270 ms a query at 100k documents, against a few ms here (README,
"BM25 at scale"; ``benchmarks/bench_bm25_scale.py``). The scores are rank-bm25's, to the last bit
in practice (the same float operations in the same order; tested to 1e-6 on SciFact).
"""

from __future__ import annotations

import functools
import threading
from itertools import chain
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..data.text import get_tokenizer
from ..params import Param, check_param_names
from .base import Retriever, Scorer, ScorerConfig, ScorerContext, params_signature, register
from .in_qdrant import SPARSE_FILL, QdrantSearch, QdrantVector

LIBRARIES = ("rank-bm25", "PyStemmer")   # BM25 and its tokens: their versions can change a score
DEFAULTS = {"k1": 0.9, "b": 0.4, "epsilon": 0.25, "stem": True, "stopwords": True}
# The declaration the Build page draws and the CLI lists; parse_bm25_params checks the same rules.
PARAMS = (
    Param("k1", "number", DEFAULTS["k1"], low=0, help="term-frequency saturation"),
    Param("b", "number", DEFAULTS["b"], low=0, high=1, help="document-length normalisation"),
    Param("epsilon", "number", DEFAULTS["epsilon"], low=0, help="floor of negative idf, as a share of the mean idf"),
    Param("stem", "bool", DEFAULTS["stem"], help="Snowball stemming"),
    Param("stopwords", "bool", DEFAULTS["stopwords"], help="drop English stopwords"),
)

_cache_lock = threading.Lock()


def bm25_params(config: ScorerConfig) -> dict:
    """The BM25 parameters of ``config``, checked, defaults filled in."""
    return parse_bm25_params(config.params)


def parse_bm25_params(params: dict, kind: str = "bm25", known=tuple(DEFAULTS)) -> dict:
    """Check BM25's parameters here, not inside rank-bm25 (where ``k1: abc`` is a ``TypeError``).

    Values come back as given, so scorer ids (which show them) do not change. ``known`` lets
    the hybrid first pass list its own parameters beside BM25's in the unknown-name message.

    >>> parse_bm25_params({"k1": 1.2})["k1"]
    1.2
    >>> parse_bm25_params({"b": 1.5})
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: bm25 parameter b must be a number between 0 and 1, not 1.5
    """
    check_param_names(kind, params, known)
    return {p.name: p.parse(kind, params) for p in PARAMS}


@functools.lru_cache(maxsize=1)
def _sparse_bm25_class():
    """The BM25 of this tool: rank-bm25's ``BM25Okapi`` scored from a sparse matrix. rank-bm25 is
    imported when the first BM25 index is built, so a spec naming BM25 (and the simulation over
    its stored scores) imports without it.

    >>> from rank_bm25 import BM25Okapi
    >>> SparseBM25 = _sparse_bm25_class()
    >>> bm = SparseBM25([["a", "b"], ["b", "c", "c"], ["d"]], k1=0.9, b=0.4)
    >>> bool(np.array_equal(bm.get_scores(["c", "b", "x"]), BM25Okapi([["a", "b"], ["b", "c", "c"], ["d"]],
    ...     k1=0.9, b=0.4).get_scores(["c", "b", "x"])))
    True
    """
    from rank_bm25 import BM25Okapi

    class SparseBM25(BM25Okapi):
        """rank-bm25's ``BM25Okapi`` (same statistics, same attributes), scored from a sparse matrix.

        ``weights`` is a (terms x documents) CSR matrix holding, for each term ``t`` and document
        ``d`` containing it, ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))``:
        the summand of rank-bm25's ``get_scores``, computed with the same operations. A query's
        scores are the sum of its terms' rows (a term repeated in the query counts again, as there).
        """

        def __init__(self, corpus, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
            super().__init__(corpus, k1=k1, b=b, epsilon=epsilon)
            self.vocabulary = {t: i for i, t in enumerate(self.idf)}
            self._doc_len = np.asarray(self.doc_len, dtype=float)
            vocab = self.vocabulary
            sizes = np.fromiter((len(f) for f in self.doc_freqs), dtype=np.int64, count=self.corpus_size)
            n_postings = int(sizes.sum())
            rows = np.fromiter(map(vocab.__getitem__, chain.from_iterable(self.doc_freqs)), dtype=np.int64,
                               count=n_postings)
            tf = np.fromiter(chain.from_iterable(map(dict.values, self.doc_freqs)), dtype=np.int64, count=n_postings)
            cols = np.repeat(np.arange(self.corpus_size, dtype=np.int64), sizes)
            idf = np.fromiter((self.idf[t] for t in vocab), dtype=float, count=len(vocab))
            doc_len = self._doc_len[cols]
            data = idf[rows] * (tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * doc_len / self.avgdl)))
            self.weights = sp.csr_matrix((data, (rows, cols)), shape=(len(vocab), self.corpus_size))
            self.weights.sort_indices()

        def get_scores(self, query) -> np.ndarray:
            score = np.zeros(self.corpus_size)
            w = self.weights
            for q in query:
                t = self.vocabulary.get(q)
                if t is None:
                    continue
                lo, hi = w.indptr[t], w.indptr[t + 1]
                score[w.indices[lo:hi]] += w.data[lo:hi]
            return score

        def get_batch_scores(self, query, doc_ids):
            """rank-bm25's subset scoring, without its per-call copy of every document's length."""
            doc_ids = np.asarray(doc_ids, dtype=np.int64)
            score = np.zeros(len(doc_ids))
            doc_len = self._doc_len[doc_ids]
            freqs = [self.doc_freqs[d] for d in doc_ids]
            for q in query:
                idf = self.idf.get(q)
                if not idf:
                    continue
                q_freq = np.array([f.get(q) or 0 for f in freqs])
                score += idf * (q_freq * (self.k1 + 1) / (q_freq + self.k1 * (1 - self.b + self.b * doc_len / self.avgdl)))
            return score.tolist()

    return SparseBM25


def __getattr__(name: str):
    if name == "SparseBM25":   # the class, for code that names it (tests, benchmarks)
        return _sparse_bm25_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")



class BM25Index:
    """BM25 (rank-bm25's Okapi, on a sparse matrix) over a tokenised corpus, built once per
    (corpus, parameters) and shared."""

    def __init__(self, corpus, k1: float, b: float, epsilon: float, stem: bool, stopwords: bool):
        self.tokenizer = get_tokenizer(stem, stopwords)
        self.doc_ids = corpus.ids
        self.position = {d: i for i, d in enumerate(self.doc_ids)}
        tokens = self.tokenizer.tokenize_many([d.full_text for d in corpus])
        self.model = _sparse_bm25_class()(tokens, k1=k1, b=b, epsilon=epsilon)
        self.signature = (f"bm25(k1={k1},b={b},eps={epsilon},{self.tokenizer.signature})")

    @classmethod
    def shared(cls, ctx: ScorerContext, params: dict) -> "BM25Index":
        key = ("bm25", ctx.corpus.fingerprint, params_signature(params))
        with _cache_lock:
            cache = ctx.workspace.shared_objects
            if key not in cache:
                cache[key] = cls(ctx.corpus, **params)
            return cache[key]

    def scores_all(self, query: str) -> np.ndarray:
        return self.model.get_scores(self.tokenizer.tokenize(query))

    def scores_of(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        idx = [self.position[d] for d in doc_ids]
        return np.asarray(self.model.get_batch_scores(self.tokenizer.tokenize(query), idx), dtype=float)


class _UsesBM25Index:
    """Shared by the BM25 scorer and retriever: the parameters and the per-corpus index."""

    takes_model = False
    parameters = PARAMS
    cost_shape = "per-query"
    libraries = LIBRARIES

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.params = bm25_params(config)
        self._index: BM25Index | None = None

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        return parse_bm25_params(params)

    @property
    def index(self) -> BM25Index:
        if self._index is None:
            self._index = BM25Index.shared(self.ctx, self.params)
        return self._index


@register("bm25", "lexical")
class BM25Scorer(_UsesBM25Index, Scorer):
    """Rescore candidates with BM25 (corpus-wide statistics)."""

    label = "BM25 over the candidates"


    def prepare(self, doc_ids, progress=None) -> None:
        self.index  # noqa: B018 - build outside the timed section

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        return self.index.scores_of(query, doc_ids)


@register("bm25", "lexical", retriever=True)
class BM25Retriever(_UsesBM25Index, Retriever):
    """First pass: BM25 over the whole corpus, top-k."""

    label = "BM25 (lexical)"


    def prepare(self, progress=None) -> None:
        self.index  # noqa: B018

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        scores = self.index.scores_all(query)
        return top_k(self.index.doc_ids, scores, k)

    @classmethod
    def qdrant_search(cls, config: ScorerConfig, pool_size: int) -> QdrantSearch:
        params = parse_bm25_params(config.params)
        return QdrantSearch((QdrantVector(
            VECTOR, "sparse",
            query=("the query's BM25 tokens (cascade_core.data.text, stemming "
                   f"{'on' if params['stem'] else 'off'}, stopwords {'out' if params['stopwords'] else 'kept'}) "
                   "as {vocabulary index: count}, terms missing from the vocabulary left out"),
            document=f"{{vocabulary index: weight}} over the document's terms: {BM25_WEIGHT}; {TOKENS}",
            config=ScorerConfig(cls.kind, None, params), facts={"params": params}, notes=(SPARSE_FILL,),
            client_helpers=BM25_HELPERS),))

    def vector_source(self, name: str) -> "BM25Vectors":
        return BM25Vectors(self.index)


def top_k(doc_ids: Sequence[str], scores: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
    """The ``k`` best (ties broken by corpus order, so results are deterministic).

    >>> top_k(["a", "b", "c"], np.array([1.0, 3.0, 1.0]), 2)
    (['b', 'a'], array([3., 1.]))
    """
    k = min(k, len(scores))
    if k <= 0:
        return [], np.zeros(0)
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        # argpartition may cut inside a tie: take every document scoring >= the k-th score.
        kth = scores[part].min()
        part = np.flatnonzero(scores >= kth)
    else:
        part = np.arange(len(scores))
    order = part[np.lexsort((part, -scores[part]))][:k]
    return [doc_ids[i] for i in order], scores[order]


# -- BM25 as Qdrant sparse vectors ----------------------------------------------------------------

VECTOR = "bm25"
BM25_WEIGHT = ("weight(term) = idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl)), tf the "
               "term's count in the document's tokens, doc_len their number; idf, k1, b and avgdl in the "
               "vocabulary file")
TOKENS = ("tokens: lower-cased \\w+ words of title + text, NLTK English stopwords removed (stopwords on), "
          "Snowball English stemming (stem on), as cascade_core.data.text.get_tokenizer(stem, stopwords).tokenize")
BM25_HELPERS = '''
# BM25 as sparse vectors: the vocabulary file holds {"vocabulary": {term: index}, "idf": [...], "k1", "b",
# "avgdl"}. Tokens must be made as this tool makes them (see the JSON's "points" and "query_vectors").
def bm25_query_vector(tokens: list[str], vocab: dict) -> tuple[list[int], list[float]]:
    counts: dict[int, float] = {}
    for token in tokens:
        index = vocab["vocabulary"].get(token)
        if index is not None:
            counts[index] = counts.get(index, 0.0) + 1.0
    ids = sorted(counts)
    return ids, [counts[i] for i in ids]


def bm25_document_vector(tokens: list[str], vocab: dict) -> tuple[list[int], list[float]]:
    k1, b, avgdl, idf = vocab["k1"], vocab["b"], vocab["avgdl"], vocab["idf"]
    tf: dict[int, int] = {}
    for token in tokens:
        index = vocab["vocabulary"].get(token)
        if index is not None:
            tf[index] = tf.get(index, 0) + 1
    norm = k1 * (1 - b + b * len(tokens) / avgdl)
    ids = sorted(tf)
    return ids, [idf[i] * tf[i] * (k1 + 1) / (tf[i] + norm) for i in ids]
'''


class BM25Vectors:
    """BM25 as sparse vectors whose dot product is rank-bm25's score: a document's vector holds, per
    term, its BM25 summand (this corpus's idf, negative ones floored as rank-bm25 does), a query's
    each term's count. Term ids are positions in the sorted vocabulary (:meth:`attachment`)."""

    def __init__(self, index: BM25Index):
        self.index = index
        self.vocab = {term: i for i, term in enumerate(sorted(index.model.idf))}

    def prepare(self, progress=None) -> None:
        pass   # the index is built when it is first used

    def documents(self, doc_ids):
        return [self._document(d) for d in doc_ids]

    def _document(self, doc_id: str) -> tuple[list[int], list[float]]:
        m, vocab = self.index.model, self.vocab
        i = self.index.position[doc_id]
        norm = m.k1 * (1 - m.b + m.b * m.doc_len[i] / m.avgdl)
        terms = sorted(m.doc_freqs[i].items(), key=lambda kv: vocab[kv[0]])
        return ([vocab[t] for t, _ in terms], [float(m.idf[t] * tf * (m.k1 + 1) / (tf + norm)) for t, tf in terms])

    def query(self, text: str):
        counts: dict[int, int] = {}
        for token in self.index.tokenizer.tokenize(text):
            if token in self.vocab:   # a term no document has scores 0 in rank-bm25 too
                counts[self.vocab[token]] = counts.get(self.vocab[token], 0) + 1
        ids = sorted(counts)
        return ids, [float(counts[i]) for i in ids]

    @property
    def vocabulary(self) -> dict:
        """What a user needs to make BM25's sparse vectors without this tool: the term indexes, each
        term's idf (rank-bm25's, negative ones floored), k1, b and the corpus's average length."""
        m = self.index.model
        terms = sorted(self.vocab, key=self.vocab.get)
        return {"vocabulary": dict(self.vocab), "idf": [float(m.idf[t]) for t in terms], "k1": float(m.k1),
                "b": float(m.b), "avgdl": float(m.avgdl), "documents": len(m.doc_len)}

    def attachment(self):
        return "bm25_vocabulary", ".vocab.json", self.vocabulary
