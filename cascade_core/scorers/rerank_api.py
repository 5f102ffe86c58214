"""A hosted or self-hosted reranker as a stage: kind ``rerank-api``.

One kind for the rerank APIs that exist (:mod:`cascade_core.remote.rerank`): ``protocol``
``cohere`` (Cohere, Jina, Mixedbread, vLLM, Infinity), ``tei`` (Text Embeddings Inference, and
``cascade serve-model``), ``voyage`` or ``elasticsearch``; ``url`` is the server (its protocol's
path is added when the URL has none) or the whole endpoint; the model is the server's name for
it (the inference endpoint's id for Elasticsearch; TEI serves one model and needs none).

A query's candidates are sent in batches of ``batch_size`` documents, ``concurrency`` at once;
each answer is checked (every document scored once, finitely). Scores are pointwise (a document's
score does not depend on the others sent with it, as for a cross-encoder): stored per pair and
cut anywhere. A failed call is one line saying which query and batch failed and what the server
said (401, 429 after its retries, a timeout, an answer of another shape); the queries scored
before it stay stored, so a rerun sends only what is missing.

Costs: the time of each call is measured here (network included) and fitted as any stage's;
money is the step's cost profile's (:mod:`cascade_core.latency.profiles`: ``usd_per_1k_searches``,
a search being one query with up to 100 documents, or ``usd_per_call`` with ``pairs_per_call``),
so Flow and the reports show it per 1,000 queries beside the latency. After scoring, the run
says how many calls, documents and searches it sent.

>>> s = RerankApiScorer(ScorerConfig("rerank-api", "rerank-v3.5", {"url": "https://api.cohere.com"}), None)
>>> s.id
'rerank-api:cohere:rerank-v3.5@https://api.cohere.com/v2/rerank:max_doc_chars=4000'
>>> RerankApiScorer(ScorerConfig("rerank-api", None, {"url": "http://127.0.0.1:8080", "protocol": "tei"}), None).id
'rerank-api:tei@http://127.0.0.1:8080/rerank:max_doc_chars=4000'
>>> RerankApiScorer.parse_params({"url": "ftp://x"})
Traceback (most recent call last):
...
cascade_core.errors.SpecError: rerank-api parameter url must start with http:// or https://, not 'ftp://x'
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ..errors import ServiceError, SpecError
from ..latency.profiles import SEARCH_UNIT_PAIRS
from ..models.truncation import clipped_docs
from ..params import Param
from ..remote.client import JsonService
from ..remote.rerank import PROTOCOLS, BadAnswer, endpoint
from .base import Scorer, ScorerConfig, ScorerContext, register

DEFAULT_API_KEY_ENV = "CASCADE_RERANK_API_KEY"
_checked: set[tuple] = set()   # endpoints checked in this process (load_model)
_checked_lock = threading.Lock()


@register("rerank-api", "rerank")
class RerankApiScorer(Scorer):
    label = "a rerank API (Cohere, Jina, Voyage, TEI, Elasticsearch, cascade serve-model)"
    default_model_note = "the server's name for the model (Elasticsearch: the inference endpoint's id; TEI: none)"
    model_label = "Model (the server's name for it; TEI: none)"
    parameters = (
        Param("protocol", "choice", "cohere", choices=tuple(PROTOCOLS),
              help="; ".join(f"{p.name}: {p.about}" for p in PROTOCOLS.values())),
        Param("url", "url", "", help="the server (https://api.cohere.com, http://localhost:8080) or the whole "
                                     "endpoint (https://api.jina.ai/v1/rerank)"),
        Param("api_key_env", "secret-env", DEFAULT_API_KEY_ENV,
              help="name of the environment variable holding the API key (the key is never stored)"),
        Param("max_doc_chars", "int", 4000, low=50,
              help="documents are cut to this many characters before sending (the server cuts to its model's limit)"),
        Param("batch_size", "int", 32, low=1, help="documents per call (TEI's default limit is 32)", cache=False),
        Param("concurrency", "int", 4, low=1, help="calls in flight at once to the server", cache=False),
        Param("timeout_s", "number", 30, low=0, low_open=True, help="seconds to wait for one answer", cache=False),
        Param("retries", "int", 3, low=0, help="tries after the first on connection errors, timeouts, 429 "
                                               "(after its Retry-After) and 5xx", cache=False),
    )
    cost_shape = "remote"
    leading = ("protocol", "url")

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.params = self.parse_params(config.params)
        self.protocol = PROTOCOLS[self.params["protocol"]]
        self.server, self.path = endpoint(self.params["url"], self.protocol, self.model_name)
        self._service: JsonService | None = None
        self._lock = threading.Lock()
        self.calls = self.searches = self.documents = 0

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        out = super().parse_params(params)
        if not out["url"]:
            raise SpecError("a rerank-api step needs a url: the server (https://api.cohere.com, "
                            "http://localhost:8080) or its rerank endpoint")
        if not out["url"].lower().startswith(("http://", "https://")):
            raise SpecError(f"rerank-api parameter url must start with http:// or https://, not {out['url']!r}")
        return out

    @classmethod
    def check_config(cls, config: ScorerConfig) -> None:
        protocol = cls.parse_params(config.params)["protocol"]
        if not (config.model or "").strip() and PROTOCOLS[protocol].needs_model:
            raise SpecError(f"a rerank-api step with protocol {protocol} needs a model: the server's name for it "
                            "(rerank-v3.5, rerank-2, an inference id), as rerank-api:NAME@K on the command line, "
                            "model: in a spec, or the Model box on Build")

    @property
    def model_name(self) -> str:
        """The server's name for the model (checked by :meth:`check_config`: a protocol that names one needs it)."""
        self.check_config(self.config)
        return (self.config.model or "").strip()

    @property
    def resolved_model(self):
        return None   # the weights live on the server: nothing here to resolve or fingerprint

    def resolved_models(self) -> list:
        return []

    @property
    def id(self) -> str:
        """Kind, protocol, model at its endpoint, and the document cut: what changes a score.
        Not the batching, timeouts or prices (speed and money only)."""
        model = f":{self.model_name}" if self.model_name else ""
        return f"rerank-api:{self.protocol.name}{model}@{self.server}{self.path}:max_doc_chars={self.params['max_doc_chars']}"

    @property
    def service(self) -> JsonService:
        if self._service is None:
            p = self.params
            what = f"rerank-api {self.model_name!r}" if self.model_name else f"rerank-api ({self.protocol.name})"
            self._service = JsonService(self.server, what, p["api_key_env"], p["timeout_s"], p["retries"],
                                        p["concurrency"], auth_scheme=self.protocol.auth_scheme,
                                        shown_url=self.server + self.path,
                                        hints={404: f"check the url (the {self.protocol.name} protocol posts to "
                                                    f"{self.protocol.path}) and the model name",
                                               413: "lower batch_size (documents per call)",
                                               422: f"check the protocol: this endpoint may speak another than "
                                                    f"{self.protocol.name}; or lower batch_size (TEI refuses more "
                                                    "than 32 documents a call unless started with a higher "
                                                    "--max-client-batch-size)"})
        return self._service

    def load_model(self) -> None:
        """One small call, once per process and endpoint: a server that is down, a wrong key or a
        wrong protocol fails here, with one line, before any other step's work."""
        key = (self.server, self.path, self.model_name, self.protocol.name)
        if key in _checked:
            return
        self._call("warm-up", ["a document"], "checking the server with one document")
        with _checked_lock:
            _checked.add(key)

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        self.load_model()   # outside the timed section (a server may load its model on the first call)
        with self._lock:    # what this run sends is counted from here (checks and warm-ups aside)
            self.calls = self.searches = self.documents = 0

    def _call(self, query: str, texts: list[str], doing: str) -> np.ndarray:
        answer = self.service.request(self.path, self.protocol.payload(query, texts, self.model_name), doing)
        try:
            scores = self.protocol.scores(answer, len(texts))
        except BadAnswer as exc:
            raise ServiceError(f"{self.service.where}: {doing} failed: the answer is not a {self.protocol.name} "
                               f"rerank answer: {exc}; is protocol right?") from None
        with self._lock:
            self.calls += 1
            self.searches += math.ceil(len(texts) / SEARCH_UNIT_PAIRS)
            self.documents += len(texts)
        return scores

    def _texts(self, doc_ids: Sequence[str]) -> list[str]:
        return clipped_docs(self.corpus, doc_ids, self.params["max_doc_chars"], self.cuts)

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        if not len(doc_ids):
            return np.zeros(0)
        texts = self._texts(doc_ids)
        size = self.params["batch_size"]
        batches = [(lo, texts[lo:lo + size]) for lo in range(0, len(texts), size)]
        shown = query if len(query) <= 60 else query[:57] + "..."

        def one(b: int) -> np.ndarray:
            lo, part = batches[b]
            doing = (f"query {shown!r}, batch {b + 1} of {len(batches)} "
                     f"(documents {lo + 1}-{lo + len(part)} of {len(texts)})")
            return self._call(query, part, doing)

        if len(batches) == 1:
            return one(0)
        with ThreadPoolExecutor(max_workers=min(self.params["concurrency"], len(batches))) as pool:
            return np.concatenate(list(pool.map(one, range(len(batches)))))

    def scoring_notes(self) -> list[str]:
        if not self.calls:
            return []
        return [f"{self.config.label}: {self.calls:,} requests to {self.server}{self.path} for {self.documents:,} "
                f"documents ({self.searches:,} searches of up to {SEARCH_UNIT_PAIRS} documents), the first a warm-up; "
                "price them with the step's cost profile (USD per 1,000 searches, or per call)"]
