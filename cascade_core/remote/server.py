"""A cross-encoder served over the rerank APIs teams already call: ``cascade serve-model``.

One process, one model (any cross-encoder this tool loads: a hub id, a folder, a student
distilled here), answering every protocol the ``rerank-api`` kind speaks, so a team deploys
what it distilled without writing a server, and the kind is tested against a real one:

* ``POST /rerank``: Text Embeddings Inference (``{query, texts, raw_scores, return_text}`` ->
  ``[{index, score}]``, best first; the sigmoid of the logits unless ``raw_scores``, as TEI);
* ``POST /v1/rerank``, ``/v2/rerank``: Cohere, Jina (``{query, documents, top_n}`` ->
  ``{results: [{index, relevance_score}]}``); ``/v1/rerank`` answers Voyage's ``data`` list
  too (``top_k``);
* ``POST /_inference/rerank/{id}``: Elasticsearch's inference API (``{query, input}`` ->
  ``{rerank: [{index, relevance_score}]}``);
* ``GET /health``, ``GET /info`` (the model, the limits), ``GET /v1/models``.

Scores are the model's raw logits, exactly what the ``cross-encoder`` kind stores for the same
pairs (TEI's ``/rerank`` without ``raw_scores`` aside). A request's documents are scored in
batches of ``batch_size`` pairs, sorted by length; one model call runs at a time (the others
wait their turn: on a CPU, two at once only share the cores). With ``api_key_env`` naming a
variable, a request without ``Authorization: Bearer <key>`` (or ``ApiKey <key>``) gets 401 (every
request does while that variable is not set: ``cascade serve-model`` refuses to start so). Needs the ``serve`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

import contextlib
import hmac
import math
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import ServiceError, require
from ..latency.profiles import SEARCH_UNIT_PAIRS
from ..models import load_cross_encoder, resolve_model
from ..models.pairs import score_pairs
from ..readback import Unreadable, loads
from .rerank import ranked_results

MAX_BODY_BYTES = 64 * 1024 * 1024   # a request's body: thousands of long documents fit


@dataclass
class ServedModel:
    """What the server scores with: ``score(query, texts) -> logits`` and the name it answers to."""

    name: str
    score: Callable[[str, Sequence[str]], np.ndarray]
    max_client_batch_size: int = 1000
    max_length: int = 512


def load_served_model(model: str, max_length: int = 512, batch_size: int = 32,
                      max_client_batch_size: int = 1000, device: str = "cpu") -> ServedModel:
    """A cross-encoder this tool can load, on ``device`` (resolved), ready to serve
    (:func:`cascade_core.models.pairs.score_pairs`)."""
    encoder = load_cross_encoder(resolve_model(model), max_length, device)
    lock = threading.Lock()

    def score(query: str, texts: Sequence[str]) -> np.ndarray:
        with lock:   # one model call at a time; requests wait their turn
            return score_pairs(encoder, query, texts, max_length, batch_size)[0]

    return ServedModel(model, score, max_client_batch_size, max_length)


class _Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _texts(value, field: str) -> list[str]:
    """A request's documents: strings, or Cohere's ``{"text": ...}`` objects."""
    if not isinstance(value, list):
        raise _Refusal(422, f"{field} must be a list of strings")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            item = item["text"]
        if not isinstance(item, str):
            raise _Refusal(422, f"{field}[{i}] is not a string")
        out.append(item)
    return out


def _count(value, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _Refusal(422, f"{field} must be a whole number of at least 1")
    return value


def build_app(served: ServedModel, api_key_env: str = ""):
    """The Starlette application serving ``served`` (run it with uvicorn: :func:`serve`)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def refused(status: int, message: str) -> JSONResponse:
        # {"error": {"message"}} (OpenAI, Cohere-style clients) with TEI's flat "error_type" beside it
        return JSONResponse({"error": {"message": message}, "message": message,
                             "error_type": "Validation" if status == 422 else "Refused"}, status_code=status)

    def authorised(request: Request) -> bool:
        if not api_key_env:
            return True
        key = os.environ.get(api_key_env, "")
        if not key:   # a key asked for but not set: nobody gets in (never an open server by a typo)
            return False
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "apikey") and hmac.compare_digest(given.strip(), key)

    async def body_of(request: Request) -> dict:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise _Refusal(413, f"the body is over {MAX_BODY_BYTES // 2**20} MB")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise _Refusal(413, f"the body is over {MAX_BODY_BYTES // 2**20} MB")
        try:
            body = loads(raw, max_chars=MAX_BODY_BYTES)
        except Unreadable as exc:
            raise _Refusal(422, f"the body is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise _Refusal(422, "the body must be a JSON object")
        return body

    async def scored(body: dict, docs_field: str) -> tuple[str, list[str], np.ndarray]:
        query = body.get("query")
        if not isinstance(query, str):
            raise _Refusal(422, "query must be a string")
        texts = _texts(body.get(docs_field), docs_field)
        if len(texts) > served.max_client_batch_size:
            raise _Refusal(413, f"{len(texts)} documents in one request; this server takes at most "
                                f"{served.max_client_batch_size} (--max-client-batch-size)")
        scores = await run_in_threadpool(served.score, query, texts) if texts else np.zeros(0)
        return query, texts, scores

    def endpoint(handler):
        async def wrapped(request: Request):
            if not authorised(request):
                return refused(401, "missing or wrong API key (Authorization: Bearer <key>)")
            try:
                return await handler(request)
            except _Refusal as exc:
                return refused(exc.status, exc.message)
        return wrapped

    async def tei(request: Request):
        body = await body_of(request)
        _, texts, scores = await scored(body, "texts")
        shown = scores if body.get("raw_scores") else 0.5 * (1.0 + np.tanh(scores / 2))   # the sigmoid, without overflow
        results = ranked_results(shown.tolist(), None, "score")
        if body.get("return_text"):
            for r in results:
                r["text"] = texts[r["index"]]
        return JSONResponse(results)

    async def cohere(request: Request):
        body = await body_of(request)
        top_n = _count(body.get("top_n", body.get("top_k")), "top_n")
        _, texts, scores = await scored(body, "documents")
        results = ranked_results(scores.tolist(), top_n, "relevance_score")
        if body.get("return_documents"):
            for r in results:
                r["document"] = {"text": texts[r["index"]]}
        units = math.ceil(len(texts) / SEARCH_UNIT_PAIRS)
        answer = {"id": str(uuid.uuid4()), "model": served.name, "results": results,
                  "meta": {"billed_units": {"search_units": units}}}
        if request.url.path.startswith("/v1/"):   # Voyage's shape beside Cohere v1's and Jina's
            answer.update(object="list", data=results, usage={"total_tokens": 0})
        return JSONResponse(answer)

    async def elasticsearch(request: Request):
        body = await body_of(request)
        settings = body.get("task_settings") if isinstance(body.get("task_settings"), dict) else {}
        top_n = _count(settings.get("top_n"), "task_settings.top_n")
        _, _, scores = await scored(body, "input")
        return JSONResponse({"rerank": ranked_results(scores.tolist(), top_n, "relevance_score")})

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def info(request: Request):
        return JSONResponse({"model_id": served.name, "model_type": {"reranker": {}},
                             "max_client_batch_size": served.max_client_batch_size, "max_input_length": served.max_length,
                             "protocols": ["tei /rerank", "cohere /v1/rerank /v2/rerank", "voyage /v1/rerank",
                                           "elasticsearch /_inference/rerank/{id}"]})

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [{"id": served.name, "object": "model"}]})

    routes = [
        Route("/rerank", endpoint(tei), methods=["POST"]),
        Route("/v1/rerank", endpoint(cohere), methods=["POST"]),
        Route("/v2/rerank", endpoint(cohere), methods=["POST"]),
        Route("/_inference/rerank/{inference_id}", endpoint(elasticsearch), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/info", endpoint(info), methods=["GET"]),
        Route("/v1/models", endpoint(models), methods=["GET"]),
    ]
    return Starlette(routes=routes)


def listen(host: str = "127.0.0.1", port: int = 8080) -> socket.socket:
    """A socket bound to ``host:port`` (``port`` 0: a free one): taken before the model loads, so
    a port in use is one ``OSError`` at once, not after a minute of loading."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server there? "
                           "choose another --port)") from None
    return sock


def serve(served: ServedModel, sock: socket.socket, api_key_env: str = "",
          announce: Callable[[str], object] = print) -> None:
    """Serve on ``sock`` (:func:`listen`) until stopped (Ctrl-C); ``announce`` is told the address
    once the server answers."""
    uvicorn = require("uvicorn", "serving a model")
    require("starlette", "serving a model")
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(build_app(served, api_key_env), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    done = threading.Event()

    def tell_when_up():
        while not done.is_set():
            if server.started:
                shown = f"[{host}]" if ":" in host else host
                key = (f" A key is required (Authorization: Bearer, from ${api_key_env})." if api_key_env
                       else " No key is asked for.")
                announce(f"Serving {served.name} at http://{shown}:{port} (TEI POST /rerank; Cohere and Jina "
                         "POST /v1/rerank, /v2/rerank; Voyage POST /v1/rerank; Elasticsearch POST "
                         f"/_inference/rerank/ID).{key} Ctrl-C stops it.")
                return
            done.wait(0.05)

    threading.Thread(target=tell_when_up, daemon=True).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        done.set()
        sock.close()
