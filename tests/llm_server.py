"""A small OpenAI-compatible server for the LLM stage's tests: a word-overlap "model".

It speaks the parts of the API the ``llm`` kind uses (``GET /v1/models``, ``POST
/v1/chat/completions`` and ``/v1/completions``), over real HTTP, as Ollama, llama.cpp's server or
vLLM would. Its judgement is the share of the query's words found in the document:

* a pointwise prompt (``Query: ...`` / ``Document: ...``) answers one token with ``logprobs``:
  P(yes) = 0.05 + 0.9 x overlap, the rest on "no" and a filler token;
* a listwise prompt (RankGPT's ``[1] passage`` lines) answers ``[3] > [1] > [2]``, by overlap.
* a graded prompt (the LLM judge's, ending ``Grade (0, 1 or 2):``) answers a digit: 2 for an
  overlap of at least 0.5, 1 from 0.25, else 0; any other prompt gets "Yes".

Run ``python tests/llm_server.py [--port N] [flags]``: it prints ``PORT <n>`` once listening.
Flags make it misbehave on purpose: ``--no-logprobs``, ``--delay S`` (sleep before each answer),
``--fail-first N`` (the first N scoring requests get HTTP 503), ``--api-key KEY`` (401 without
it), ``--garbage-permutation`` (listwise answers repeat and skip ids), ``--hostile-json`` (scoring
answers are JSON nested 100,000 deep, and errors carry NaN). ``GET /stats`` returns
what it has seen; it stops by itself after ``--lifetime`` seconds (default 900).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "overlap"
STOP = {"the", "and", "for", "with", "that", "this", "are", "was", "were", "from", "its", "not", "can",
        "has", "have", "had", "than", "into", "which", "their", "been", "does", "more"}


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOP}


def overlap(query: str, doc: str) -> float:
    q = words(query)
    return len(q & words(doc)) / len(q) if q else 0.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    options: argparse.Namespace
    stats = {"models": 0, "pointwise": 0, "listwise": 0, "graded": 0, "other": 0, "failed": 0, "auth": []}
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        key = self.options.api_key
        with self.lock:
            self.stats["auth"].append(self.headers.get("Authorization", ""))
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return False
        return True

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/stats":
            with self.lock:
                return self._send(200, dict(self.stats))
        if self.path == "/v1/models":
            if not self._authorised():
                return None
            with self.lock:
                self.stats["models"] += 1
            return self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        return self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"error": {"message": "body is not JSON"}})
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if not self._authorised():
            return None
        if body.get("model") != MODEL:
            return self._send(404, {"error": {"message": f"model '{body.get('model')}' not found, try pulling it first"}})
        chat = self.path.endswith("chat/completions")
        prompt = (body["messages"][-1]["content"] if chat else body.get("prompt", ""))
        kind = "graded" if "Grade (0, 1 or 2):" in prompt else (
            "pointwise" if prompt.startswith("Query:") or "\nQuery:" in prompt else (
                "listwise" if "[1]" in prompt else "other"))
        with self.lock:
            self.stats[kind] += 1
            n_scoring = self.stats["pointwise"] + self.stats["listwise"] + self.stats["graded"]
            fail = kind != "other" and n_scoring <= self.options.fail_first
            if fail:
                self.stats["failed"] += 1
        if self.options.delay:
            time.sleep(self.options.delay)
        if fail:
            return self._send(503, {"error": {"message": "model is loading"}})
        if self.options.hostile_json and kind != "other":   # Python's json reads neither without harm
            data = b"[" * 100_000 + b"]" * 100_000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if kind == "graded":
            share = overlap(re.search(r"Query: (.*)\n", prompt).group(1), re.search(r"Document: (.*)\n", prompt).group(1))
            text, top = ("2" if share >= 0.5 else "1" if share >= 0.25 else "0"), []
        elif kind == "pointwise":
            query = re.search(r"Query: (.*)\n", prompt).group(1)
            doc = re.search(r"Document: (.*)\n", prompt).group(1)
            p_yes = 0.05 + 0.9 * overlap(query, doc)
            text = "Yes" if p_yes >= 0.5 else "No"
            top = [("Yes", math.log(p_yes * 0.8)), (" yes", math.log(p_yes * 0.2)),
                   ("No", math.log((1 - p_yes) * 0.9)), ("The", math.log((1 - p_yes) * 0.1))]
            top.sort(key=lambda t: -t[1])
        elif kind == "listwise":
            query = re.search(r"search query: (.*?)\.\n\n", prompt).group(1)
            passages = re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.M)
            ranked = sorted(passages, key=lambda p: -overlap(query, p[1]))   # stable: ties keep order
            ids = [p[0] for p in ranked]
            if self.options.garbage_permutation:
                ids = ids[:1] + ids[:1] + ["99"] + ids[2:]   # a repeat, an unknown id, one left out
            text = " > ".join(f"[{i}]" for i in ids)
            top = []
        else:
            text, top = "Yes", [("Yes", math.log(0.9))]
        logprobs = None
        if body.get("logprobs") and not self.options.no_logprobs and top:
            if chat:
                entries = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
                logprobs = {"content": [{**entries[0], "top_logprobs": entries}]}
            else:
                logprobs = {"tokens": [top[0][0]], "token_logprobs": [top[0][1]],
                            "top_logprobs": [{t: lp for t, lp in top}]}
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                  if chat else {"index": 0, "text": text, "finish_reason": "stop"})
        if logprobs is not None:
            choice["logprobs"] = logprobs
        return self._send(200, {"id": "x", "object": "chat.completion" if chat else "text_completion",
                                "model": MODEL, "choices": [choice]})


@contextmanager
def serve(*flags: str):
    """Start this server as a separate process on a free localhost port; yield its base URL
    (``http://127.0.0.1:PORT/v1``); stop it on exit. For the tests."""
    from tests.helpers import server_process

    argv = [sys.executable, str(Path(__file__).resolve()), *flags, "--lifetime", "600"]
    with server_process(argv, r"^PORT (\d+)", "the test LLM server") as port:
        yield f"http://127.0.0.1:{port}/v1"


def stats(base_url: str) -> dict:
    """What the server has seen: requests per kind, failures sent, Authorization headers."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as resp:
        return json.loads(resp.read())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--no-logprobs", action="store_true")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--api-key", default="")
    p.add_argument("--garbage-permutation", action="store_true")
    p.add_argument("--hostile-json", action="store_true")
    p.add_argument("--lifetime", type=float, default=900.0)
    Handler.options = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", Handler.options.port), Handler)
    server.daemon_threads = True
    threading.Timer(Handler.options.lifetime, server.shutdown).start()   # never outlives a test run
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
