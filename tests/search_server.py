"""An Elasticsearch-compatible ``_search`` server over a BEIR folder, for the ``search-api`` tests.

No engine runs on the test machines, so this process stands in for one: it speaks the part of
the ``_search`` protocol the ``search-api`` kind uses (``POST /INDEX/_search`` with a JSON body,
``size``, ``_source``; answered ``{"hits": {"hits": [{"_id", "_score", "_source"}]}}``), and it
ranks with this project's own BM25 (the same tokenisation as the ``bm25`` first pass), so its
lists must equal that first pass's. The query text is read from ``multi_match.query``,
``match.FIELD`` (or ``match.FIELD.query``) or ``query_string.query``. Each hit's ``_source`` has
``doc_id`` (the document's id) beside ``_id``; the index ``NAME-elsewhere`` answers the same hits
with ``_id`` prefixed ``other-`` (documents the corpus does not know); ``--api-key KEY`` wants ``Authorization: ApiKey KEY`` (or Basic
``elastic:KEY``). Run ``python tests/search_server.py BEIR_FOLDER --index NAME``: it prints
``PORT <n>`` once listening; it stops by itself after ``--lifetime`` seconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def query_text(query) -> str | None:
    """The text of a ``multi_match``, ``match`` or ``query_string`` query, wherever it is nested."""
    if isinstance(query, dict):
        for kind in ("multi_match", "query_string"):
            if isinstance(query.get(kind), dict) and isinstance(query[kind].get("query"), str):
                return query[kind]["query"]
        if isinstance(query.get("match"), dict) and query["match"]:
            value = next(iter(query["match"].values()))
            return value.get("query") if isinstance(value, dict) else value
        for value in query.values():
            found = query_text(value)
            if found is not None:
                return found
    if isinstance(query, list):
        for value in query:
            found = query_text(value)
            if found is not None:
                return found
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    options: argparse.Namespace
    retriever = None
    stats = {"searches": 0}
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        key = self.options.api_key
        if not key:
            return True
        given = self.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"elastic:{key}".encode()).decode()
        return given in (f"ApiKey {key}", basic)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/_stats_for_tests":
            with self.lock:
                self._send(200, dict(self.stats))
        else:
            self._send(200, {"name": "test-search-server", "version": {"number": "8.15.0"}})

    def do_POST(self):  # noqa: N802
        if not self._authorised():
            self._send(401, {"error": {"type": "security_exception", "reason": "missing authentication credentials"},
                             "status": 401})
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[1] != "_search":
            self._send(404, {"error": {"reason": f"no handler for {self.path}"}, "status": 404})
            return
        elsewhere = parts[0] == f"{self.options.index}-elsewhere"
        if parts[0] != self.options.index and not elsewhere:
            self._send(404, {"error": {"type": "index_not_found_exception", "reason": f"no such index [{parts[0]}]"},
                             "status": 404})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        text = query_text(body.get("query"))
        if text is None:
            self._send(400, {"error": {"type": "parsing_exception", "reason": "unknown query"}, "status": 400})
            return
        with self.lock:
            self.stats["searches"] += 1
            ids, scores = self.retriever.retrieve(text, int(body.get("size", 10)))
        hits = [{"_index": parts[0], "_id": ("other-" if elsewhere else "") + d, "_score": float(s), "_source": {"doc_id": d}}
                for d, s in zip(ids, scores)]
        self._send(200, {"took": 1, "timed_out": False,
                         "hits": {"total": {"value": len(hits), "relation": "eq"},
                                  "max_score": hits[0]["_score"] if hits else None, "hits": hits}})


@contextmanager
def serve(beir: Path, index: str = "scifact", *flags: str):
    """Start the server as a separate process over ``beir``; yield ``http://127.0.0.1:PORT``; stop it."""
    from tests.helpers import server_process

    argv = [sys.executable, str(Path(__file__).resolve()), str(beir), "--index", index, *flags, "--lifetime", "600"]
    with server_process(argv, r"^PORT (\d+)", "the test search server") as port:
        yield f"http://127.0.0.1:{port}"


def main() -> None:
    from cascade_core.data import load_dataset
    from cascade_core.scorers import ScorerConfig
    from cascade_core.scoring.workspace import Workspace

    p = argparse.ArgumentParser()
    p.add_argument("beir")
    p.add_argument("--index", default="scifact")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--api-key", default="")
    p.add_argument("--lifetime", type=float, default=900.0)
    Handler.options = p.parse_args()
    dataset = load_dataset(Handler.options.beir, split="test")
    home = tempfile.mkdtemp(prefix="search-server-")
    Handler.retriever = Workspace(home).retriever(ScorerConfig("bm25"), dataset.corpus)
    Handler.retriever.prepare()
    server = ThreadingHTTPServer(("127.0.0.1", Handler.options.port), Handler)
    server.daemon_threads = True
    threading.Timer(Handler.options.lifetime, server.shutdown).start()   # never outlives a test run
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
