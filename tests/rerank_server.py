"""A rerank server that misbehaves on request, for the ``rerank-api`` kind's failure tests.

It speaks TEI's ``POST /rerank`` and Cohere's ``POST /v2/rerank`` over real HTTP, scoring by word
overlap (:func:`tests.llm_server.overlap`). ``POST /control`` ``{"mode": M, "after": N}`` makes
it misbehave from its N-th next scoring request on, until told ``{"mode": "ok"}``:

* ``429``: HTTP 429 with ``Retry-After: 1``;
* ``slow``: answers after ``delay`` seconds (``{"delay": S}``, default 5);
* ``garbage``: a well-formed JSON answer that scores only the first document;
* ``500``: HTTP 500.

``GET /stats`` says what it has seen (scoring requests, documents, failures sent). Run
``python tests/rerank_server.py``: it prints ``PORT <n>`` once listening and stops by itself
after ``--lifetime`` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.llm_server import overlap  # noqa: E402 - run as a script too


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = {"mode": "ok", "after": 0, "delay": 5.0}
    stats = {"requests": 0, "documents": 0, "failed": 0}
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up waiting (a timeout test)
            pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/stats":
            with self.lock:
                self._send(200, dict(self.stats))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/control":
            with self.lock:
                self.state.update(mode=body.get("mode", "ok"), after=int(body.get("after", 0)),
                                  delay=float(body.get("delay", 5.0)))
            self._send(200, dict(self.state))
            return
        if self.path not in ("/rerank", "/v2/rerank"):
            self._send(404, {"error": f"no route {self.path}"})
            return
        texts = body.get("texts") if self.path == "/rerank" else body.get("documents")
        with self.lock:
            self.stats["requests"] += 1
            mode = "ok"
            if self.state["after"] > 0:
                self.state["after"] -= 1
            else:
                mode = self.state["mode"]
            if mode not in ("ok", "slow"):
                self.stats["failed"] += 1
            else:
                self.stats["documents"] += len(texts)
        if mode == "429":
            self._send(429, {"error": {"message": "rate limit exceeded"}}, {"Retry-After": "1"})
            return
        if mode == "500":
            self._send(500, {"error": {"message": "model crashed"}})
            return
        if mode == "slow":
            time.sleep(self.state["delay"])
        scores = [overlap(body["query"], t) for t in texts]
        if mode == "garbage":
            scores = scores[:1]
        key = "score" if self.path == "/rerank" else "relevance_score"
        results = [{"index": i, key: s} for i, s in enumerate(scores)]
        self._send(200, results if self.path == "/rerank" else {"results": results})


@contextmanager
def serve():
    """Start this server as a separate process on a free localhost port; yield its URL
    (``http://127.0.0.1:PORT``); stop it on exit."""
    from tests.helpers import server_process

    argv = [sys.executable, str(Path(__file__).resolve()), "--lifetime", "600"]
    with server_process(argv, r"^PORT (\d+)", "the test rerank server") as port:
        yield f"http://127.0.0.1:{port}"


def control(url: str, mode: str, after: int = 0, delay: float = 5.0) -> None:
    req = urllib.request.Request(url + "/control", data=json.dumps({"mode": mode, "after": after, "delay": delay}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10):
        pass


def stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats", timeout=10) as resp:
        return json.loads(resp.read())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=900.0)
    options = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    threading.Timer(options.lifetime, server.shutdown).start()   # never outlives a test run
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
