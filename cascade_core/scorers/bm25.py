"""BM25 (rank-bm25's Okapi variant) as a first pass over the corpus and as a rerank stage.

Defaults: k1=0.9, b=0.4 (Anserini's BEIR settings, better than rank-bm25's 1.5/0.75 on short
scientific abstracts), title + text, tokenisation in :mod:`cascade_core.text` (stopwords out,
Snowball stemming). As a rerank stage it rescores only the candidates, with ``get_batch_scores``,
using the statistics (idf, average length) of the whole corpus, so its scores equal the first
pass's.
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
from rank_bm25 import BM25Okapi

from ..text import get_tokenizer
from .base import (Param, Retriever, Scorer, ScorerConfig, ScorerContext, bool_param, check_param_names,
                   number_param, params_signature, register)

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
    return {"k1": number_param(kind, params, "k1", DEFAULTS["k1"], low=0),
            "b": number_param(kind, params, "b", DEFAULTS["b"], low=0, high=1),
            "epsilon": number_param(kind, params, "epsilon", DEFAULTS["epsilon"], low=0),
            "stem": bool_param(kind, params, "stem", DEFAULTS["stem"]),
            "stopwords": bool_param(kind, params, "stopwords", DEFAULTS["stopwords"])}


class BM25Index:
    """rank-bm25 over a tokenised corpus, built once per (corpus, parameters) and shared."""

    def __init__(self, corpus, k1: float, b: float, epsilon: float, stem: bool, stopwords: bool):
        self.tokenizer = get_tokenizer(stem, stopwords)
        self.doc_ids = corpus.ids
        self.position = {d: i for i, d in enumerate(self.doc_ids)}
        tokens = self.tokenizer.tokenize_many([d.full_text for d in corpus])
        self.model = BM25Okapi(tokens, k1=k1, b=b, epsilon=epsilon)
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

    @property
    def id(self) -> str:
        return f"bm25:{params_signature(self.params)}"

    def prepare(self, doc_ids, progress=None) -> None:
        self.index  # noqa: B018 - build outside the timed section

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        return self.index.scores_of(query, doc_ids)


@register("bm25", "lexical", retriever=True)
class BM25Retriever(_UsesBM25Index, Retriever):
    """First pass: BM25 over the whole corpus, top-k."""

    label = "BM25 (lexical)"

    @property
    def id(self) -> str:
        return f"first-pass:bm25:{params_signature(self.params)}"

    def prepare(self, progress=None) -> None:
        self.index  # noqa: B018

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        scores = self.index.scores_all(query)
        return top_k(self.index.doc_ids, scores, k)


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
