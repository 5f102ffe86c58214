"""The rerank APIs that exist, both sides: what a client sends, what a server answers.

Four protocols cover the hosted and self-hosted rerankers teams run:

* ``cohere``: Cohere's ``POST /v2/rerank`` ``{model, query, documents, top_n}`` answered
  ``{results: [{index, relevance_score}]}``. Jina (``/v1/rerank``), Mixedbread, vLLM and Infinity
  speak it too: give their URL.
* ``tei``: Text Embeddings Inference's ``POST /rerank`` ``{query, texts, raw_scores, truncate}``
  answered ``[{index, score}]``. Asked with ``raw_scores: true``: the model's logits, as the
  ``cross-encoder`` kind stores them (TEI's default is their sigmoid: the same ranking).
* ``voyage``: Voyage AI's ``POST /v1/rerank`` ``{model, query, documents, truncation}`` answered
  ``{data: [{index, relevance_score}]}``.
* ``elasticsearch``: ``POST /_inference/rerank/{inference_id}`` ``{query, input}`` answered
  ``{rerank: [{index, relevance_score}]}`` (``score`` before 8.18); the key is sent as
  ``Authorization: ApiKey ...``. The model is the inference endpoint's id.

Every answer is checked: each document of the request scored exactly once, with a finite number;
anything else is a :class:`BadAnswer` saying what was wrong.

>>> p = PROTOCOLS["tei"]
>>> p.payload("q", ["a", "b"], "")
{'query': 'q', 'texts': ['a', 'b'], 'raw_scores': True, 'truncate': True}
>>> p.scores([{"index": 1, "score": 0.5}, {"index": 0, "score": -2.0}], 2).tolist()
[-2.0, 0.5]
>>> endpoint("https://api.cohere.com", PROTOCOLS["cohere"], "rerank-v3.5")
('https://api.cohere.com', '/v2/rerank')
>>> endpoint("http://es:9200", PROTOCOLS["elasticsearch"], "my-reranker")
('http://es:9200', '/_inference/rerank/my-reranker')
>>> endpoint("https://api.jina.ai/v1/rerank", PROTOCOLS["cohere"], "jina-reranker-v2-base-multilingual")
('https://api.jina.ai', '/v1/rerank')
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np


class BadAnswer(ValueError):
    """A server's answer that is not a rerank answer of its protocol (the words say why)."""


@dataclass(frozen=True)
class RerankProtocol:
    """One rerank API: its default path, how a request is written and an answer read."""

    name: str
    path: str                 # appended to a URL given without a path ({model} is the model)
    results_key: str | None   # where the list of results is (None: the answer is the list)
    score_keys: tuple[str, ...]
    build: Callable[[str, list[str], str], dict]
    auth_scheme: str = "Bearer"
    needs_model: bool = True
    about: str = ""

    def payload(self, query: str, texts: Sequence[str], model: str) -> dict:
        return self.build(query, list(texts), model)

    def scores(self, answer: Any, n: int) -> np.ndarray:
        """The scores of the ``n`` documents sent, in the order sent, from a decoded answer."""
        if self.results_key:
            results = answer.get(self.results_key) if isinstance(answer, dict) else None
        else:
            results = answer
        if not isinstance(results, list):
            what = f"has no {self.results_key!r} list" if self.results_key else "is not a list"
            raise BadAnswer(f"the answer {what} ({_peek(answer)})")
        out = np.full(n, np.nan)
        for item in results:
            if not isinstance(item, dict):
                raise BadAnswer(f"a result is not an object ({_peek(item)})")
            index = item.get("index")
            score = next((item[k] for k in self.score_keys if k in item), None)
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
                raise BadAnswer(f"a result's index is {index!r}, not one of the {n} documents sent")
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
                raise BadAnswer(f"document {index}'s score is {score!r}, not a finite number")
            if not math.isnan(out[index]):
                raise BadAnswer(f"document {index} is scored twice")
            out[index] = float(score)
        missing = int(np.isnan(out).sum())
        if missing:
            raise BadAnswer(f"the answer scores {n - missing} of the {n} documents sent (is top_n limited?)")
        return out


def _peek(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


PROTOCOLS: dict[str, RerankProtocol] = {p.name: p for p in (
    RerankProtocol("cohere", "/v2/rerank", "results", ("relevance_score",),
                   lambda q, docs, model: {"model": model, "query": q, "documents": docs, "top_n": len(docs)},
                   about="Cohere /v2/rerank; also Jina, Mixedbread, vLLM, Infinity (give their URL)"),
    RerankProtocol("tei", "/rerank", None, ("score",),
                   lambda q, docs, model: {"query": q, "texts": docs, "raw_scores": True, "truncate": True},
                   needs_model=False, about="Hugging Face Text Embeddings Inference /rerank"),
    RerankProtocol("voyage", "/v1/rerank", "data", ("relevance_score",),
                   lambda q, docs, model: {"model": model, "query": q, "documents": docs, "truncation": True},
                   about="Voyage AI /v1/rerank"),
    RerankProtocol("elasticsearch", "/_inference/rerank/{model}", "rerank", ("relevance_score", "score"),
                   lambda q, docs, model: {"query": q, "input": docs}, auth_scheme="ApiKey",
                   about="Elasticsearch's inference API (the model is the inference endpoint's id)"),
)}


def endpoint(url: str, protocol: RerankProtocol, model: str) -> tuple[str, str]:
    """``(server, path)`` for a configured URL: a URL with a path is used as it is, one without
    gets the protocol's path."""
    parts = urllib.parse.urlsplit(url.strip())
    server = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = parts.path.rstrip("/")
    if not path:
        path = protocol.path.format(model=urllib.parse.quote(model, safe=""))
    if parts.query:
        path += "?" + parts.query
    return server, path


def ranked_results(scores: Sequence[float], top_n: int | None, score_key: str) -> list[dict]:
    """A server's results: ``{index, <score_key>}`` best first, the first ``top_n`` (all when None).

    >>> ranked_results([0.1, 0.9, 0.5], 2, "relevance_score")
    [{'index': 1, 'relevance_score': 0.9}, {'index': 2, 'relevance_score': 0.5}]
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    if top_n is not None:
        order = order[:max(0, top_n)]
    return [{"index": i, score_key: float(scores[i])} for i in order]
