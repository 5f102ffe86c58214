"""A live engine as the first pass: kind ``search-api`` (Elasticsearch, OpenSearch ``_search``).

Each query is sent to ``URL/INDEX/_search`` as the JSON body ``template`` with ``{{query}}``
replaced by the query's text (JSON-escaped), ``size`` set to the pool size; the hits' ids (the
``_id``, or a ``_source`` field named by ``id_field``) and ``_score`` are the candidates, in the
engine's order. So Live and deeper pools ask the real engine, and every later step, the tuner
and the doctor treat its lists like any first pass's.

The key, when the engine wants one, is read from the variable ``api_key_env`` names and sent as
``Authorization: ApiKey KEY`` (Elasticsearch), ``Bearer KEY``, or ``Basic`` with the variable
holding ``user:password`` (OpenSearch's default security). Hits whose ids are not in the corpus
are dropped and counted. The lists are stored under the engine's address, index, template and
``version``: after re-indexing, set another ``version`` (or ``cascade forget`` the old one), since
nothing here can see inside the engine.

>>> SearchApiRetriever.parse_params({"url": "http://localhost:9200", "index": "scifact"})["template"]
'{"query": {"multi_match": {"query": "{{query}}", "fields": ["title", "text"]}}}'
>>> fill_template('{"query": {"match": {"text": "{{query}}"}}}', 'say "hi"\\n')
{'query': {'match': {'text': 'say "hi"\\n'}}}
>>> SearchApiRetriever.parse_params({"url": "http://localhost:9200", "index": "i", "template": '{"query": {}}'})
Traceback (most recent call last):
...
cascade_core.errors.SpecError: search-api template must contain {{query}} inside a JSON string, e.g. {"query": {"match": {"text": "{{query}}"}}}
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.parse

import numpy as np

from ..errors import ServiceError, SpecError
from ..params import Param
from ..readback import Unreadable, loads
from ..remote.client import JsonService
from .base import Retriever, ScorerConfig, ScorerContext, register

DEFAULT_API_KEY_ENV = "CASCADE_SEARCH_API_KEY"
DEFAULT_TEMPLATE = '{"query": {"multi_match": {"query": "{{query}}", "fields": ["title", "text"]}}}'
PLACEHOLDER = "{{query}}"
SHOWN = 5


def fill_template(template: str, query: str) -> dict:
    """The request body: ``template`` with each ``{{query}}`` replaced by ``query``, escaped for the
    JSON string it stands in."""
    escaped = json.dumps(query)[1:-1]
    return loads(template.replace(PLACEHOLDER, escaped), what="search-api template")


class _BasicService(JsonService):
    """Basic auth: the variable holds ``user:password``."""

    def headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        secret = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if secret:
            headers["Authorization"] = "Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")
        return headers


@register("search-api", "elasticsearch", "opensearch", retriever=True)
class SearchApiRetriever(Retriever):
    """The first pass your engine runs, asked live over its ``_search`` API."""

    label = "a live search engine (Elasticsearch or OpenSearch _search)"
    takes_model = False
    cost_shape = "remote"
    leading = ("url", "index")
    parameters = (
        Param("url", "url", "", help="the engine, e.g. http://localhost:9200"),
        Param("index", "text", "", help="the index (or alias, or comma-separated indices) to search"),
        Param("template", "text", DEFAULT_TEMPLATE,
              help="the _search body as JSON, {{query}} where the query's text goes (size is set to the pool size)"),
        Param("id_field", "text", "_id", help="where a hit's document id is: _id, or a _source field's name"),
        Param("auth", "choice", "apikey", choices=("apikey", "bearer", "basic"),
              help="how the key is sent: ApiKey KEY (Elasticsearch), Bearer KEY, or Basic with user:password"),
        Param("api_key_env", "secret-env", DEFAULT_API_KEY_ENV,
              help="name of the environment variable holding the key (never stored); unset: no Authorization"),
        Param("version", "text", "", help="your label for the index's state: change it after re-indexing, so "
                                          "lists stored before are not reused"),
        Param("timeout_s", "number", 10, low=0, low_open=True, help="seconds to wait for one answer", cache=False),
        Param("retries", "int", 2, low=0, help="tries after the first on connection errors, timeouts, 429, 5xx",
              cache=False),
    )

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.params = self.parse_params(config.params)
        parts = urllib.parse.urlsplit(self.params["url"])
        self.server = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.path = f"/{urllib.parse.quote(self.params['index'], safe=',*')}/_search"
        self._known = set(self.corpus.ids) if self.corpus is not None else set()
        self._service: JsonService | None = None
        self.strangers: set[str] = set()
        self.notes: list[str] = []

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        out = super().parse_params(params)
        if not out["url"]:
            raise SpecError("a search-api first pass needs a url: the engine, e.g. http://localhost:9200")
        if not out["url"].lower().startswith(("http://", "https://")):
            raise SpecError(f"search-api parameter url must start with http:// or https://, not {out['url']!r}")
        if not out["index"].strip():
            raise SpecError("a search-api first pass needs an index: the index (or alias) to search")
        if PLACEHOLDER not in out["template"]:
            raise SpecError("search-api template must contain {{query}} inside a JSON string, "
                            'e.g. {"query": {"match": {"text": "{{query}}"}}}')
        try:
            body = fill_template(out["template"], "a query")
        except Unreadable as exc:
            raise SpecError(f"search-api template is not JSON once {{{{query}}}} is filled in: {exc}") from None
        if not isinstance(body, dict):
            raise SpecError("search-api template must be a JSON object (the _search body)")
        if not out["id_field"].strip():
            raise SpecError("search-api id_field must name _id or a _source field")
        return out

    @property
    def id(self) -> str:
        """The engine, index, template, id field and version: what decides the lists here."""
        p = self.params
        digest = hashlib.sha256(json.dumps([p["template"], p["id_field"]]).encode()).hexdigest()[:12]
        version = f",version={p['version']}" if p["version"] else ""
        return f"{self.id_prefix}search-api:{self.server}{self.path}:template={digest}{version}"

    def resolved_models(self) -> list:
        return []

    @property
    def service(self) -> JsonService:
        if self._service is None:
            p = self.params
            cls = _BasicService if p["auth"] == "basic" else JsonService
            self._service = cls(self.server, f"search-api {p['index']!r}", p["api_key_env"], p["timeout_s"],
                                p["retries"], 1, auth_scheme="ApiKey" if p["auth"] == "apikey" else "Bearer",
                                hints={404: f"check the index name ({p['index']!r}) and the url",
                                       400: "check the template: the engine refused the query it makes"})
        return self._service

    def load_model(self) -> None:
        """One search for one document: an engine that is down, a wrong index or key, or a
        template it refuses fails here, in one line, before any other work."""
        self._search("a query", 1, "checking the engine with one search")

    def prepare(self, progress=None) -> None:
        self.load_model()
        self.strangers = set()
        self.notes = []

    def _search(self, query: str, k: int, doing: str) -> tuple[list[str], np.ndarray]:
        body = fill_template(self.params["template"], query)
        body["size"] = int(k)
        field = self.params["id_field"]
        body["_source"] = [field] if field != "_id" else False
        answer = self.service.request(self.path, body, doing)
        try:
            hits = answer["hits"]["hits"]
            ids = [str(h["_id"] if field == "_id" else h["_source"][field]) for h in hits]
            scores = [h.get("_score") for h in hits]
        except (KeyError, TypeError):
            raise ServiceError(f"{self.service.where}: {doing} failed: the answer has no hits.hits with "
                               f"{field} ({json.dumps(answer)[:120]}); is this an Elasticsearch or OpenSearch "
                               "_search endpoint, and is id_field right?") from None
        if any(not isinstance(s, (int, float)) or isinstance(s, bool) for s in scores):
            raise ServiceError(f"{self.service.where}: {doing} failed: a hit has no _score (is the template "
                               "sorting by a field? keep the relevance sort)")
        return ids, np.asarray(scores, dtype=float)

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        shown = query if len(query) <= 60 else query[:57] + "..."
        ids, scores = self._search(query, k, f"the search for query {shown!r}")
        keep = [i for i, d in enumerate(ids) if d in self._known]
        if len(keep) < len(ids):
            self.strangers.update(d for d in ids if d not in self._known)
        return [ids[i] for i in keep], scores[keep]

    def scoring_notes(self) -> list[str]:
        if not self.strangers:
            return []
        examples = ", ".join(map(repr, sorted(self.strangers)[:SHOWN])) + (", ..." if len(self.strangers) > SHOWN else "")
        return [f"search-api {self.params['index']!r}: {len(self.strangers):,} documents the engine returned are not "
                f"in the corpus and were dropped (e.g. {examples}); is id_field right, and is it the same corpus?"]
