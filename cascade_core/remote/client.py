"""A JSON API over HTTP, asked the way a careful client asks: bounded, retried, one-line errors.

Every kind that calls a server (an ``llm`` stage's OpenAI-compatible API, a ``rerank-api``
stage's rerank endpoint) talks through :class:`JsonService`:

* at most ``concurrency`` requests in flight per server, whichever stage or thread asks;
* connection errors, timeouts, HTTP 429 and 5xx, and an answer that is not JSON are tried again,
  ``retries`` times, waiting 0.5 s, 1 s, 2 s ... (a 429's ``Retry-After``, up to 30 s, when it
  says one);
* when every try fails, or the server refuses for good (401, 404, ...), the error is one line
  (:class:`~cascade_core.errors.ServiceError`): what was being done, the server, what it
  answered, and what to check;
* the API key is read from the environment variable the configuration *names* (never stored),
  and sent as ``Authorization: <scheme> <key>``;
* an answer is read strictly (:func:`cascade_core.readback.loads`): a server's NaN, endless
  nesting or a gigabyte of digits is "not JSON", never a traceback.

>>> service = JsonService("http://127.0.0.1:9/", "a test server", timeout_s=0.5, retries=0)
>>> service.where
'a test server at http://127.0.0.1:9'
>>> service.request("/anything", {"x": 1}, "asking")   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cascade_core.errors.ServiceError: a test server at http://127.0.0.1:9: asking failed: the server cannot be reached ...
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..errors import ServiceError
from ..readback import Unreadable, loads

MAX_ANSWER_CHARS = 20_000_000   # an answer read back (a chat completion or a rerank is kilobytes)
MAX_RETRY_AFTER_S = 30.0

_lock = threading.Lock()
_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}


class JsonService:
    """One server's JSON API: ``request(path, payload, doing)`` returns the decoded answer.

    ``what`` names the server in errors ("llm 'llama3.2'", "rerank-api 'rerank-v3.5'");
    ``auth_scheme`` is the word before the key (``Bearer``; Elasticsearch's ``ApiKey``);
    ``hints`` adds a sentence to a refusal by HTTP code (``{404: "check the model name"}``).
    """

    def __init__(self, base_url: str, what: str, api_key_env: str = "", timeout_s: float = 60,
                 retries: int = 2, concurrency: int = 4, auth_scheme: str = "Bearer",
                 hints: dict[int, str] | None = None, shown_url: str = ""):
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.shown_url = shown_url or self.base_url   # what errors name: the endpoint the user gave
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.concurrency = int(concurrency)
        self.auth_scheme = auth_scheme
        self.hints = dict(hints or {})
        with _lock:   # one limit per server, whichever stage or thread asks
            self.slots = _slots.setdefault((self.base_url, self.concurrency),
                                           threading.BoundedSemaphore(self.concurrency))
        # A server on this machine is asked directly: an HTTP(S)_PROXY set for the outside world
        # would otherwise carry (and fail) requests to localhost unless no_proxy lists it.
        host = urllib.parse.urlparse(self.base_url).hostname or ""
        local = host == "localhost" or host.startswith("127.") or host == "::1"
        self.opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if local else []))

    @property
    def where(self) -> str:
        return f"{self.what} at {self.shown_url}"

    def headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"{self.auth_scheme} {key}"
        return headers

    def request(self, path: str, payload: Any = None, doing: str = "a request", up_is_enough: bool = False) -> Any:
        """POST ``payload`` as JSON (GET when None) to ``base_url + path``; the decoded answer, or one line.

        ``up_is_enough``: any answer but a refused key will do (``{}``): the server is up.
        """
        url = self.base_url + path
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        tries = self.retries + 1
        problem = ""
        for attempt in range(tries):
            wait = min(0.5 * 2 ** attempt, 8.0)
            try:
                req = urllib.request.Request(url, data=data, headers=self.headers(),
                                             method="GET" if data is None else "POST")
                with self.slots, self.opener.open(req, timeout=self.timeout_s) as resp:
                    body = resp.read(MAX_ANSWER_CHARS + 1)
                try:   # strict: a server's NaN, 5,000 digits or endless nesting is "not JSON", never a traceback
                    return loads(body, max_chars=MAX_ANSWER_CHARS)
                except Unreadable:
                    if up_is_enough:
                        return {}
                    problem = f"answered something that is not JSON ({body[:80]!r})"
            except urllib.error.HTTPError as exc:
                detail = error_detail(exc)
                if exc.code != 429 and exc.code < 500:
                    if up_is_enough and exc.code not in (401, 403):
                        return {}
                    raise ServiceError(f"{self.where}: {doing} failed: HTTP {exc.code} {exc.reason}{detail}"
                                       f"{self._hint(exc.code)}") from None
                problem = f"answered HTTP {exc.code} {exc.reason}{detail}"
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.strip().isdigit():
                    wait = min(float(retry_after), MAX_RETRY_AFTER_S)
                    problem += f" (it asked to retry after {retry_after.strip()} s)"
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                    problem = f"did not answer within {self.timeout_s:g} s"
                else:
                    problem = f"cannot be reached ({reason_words(reason)})"
            except http.client.HTTPException as exc:   # a connection cut mid-answer
                problem = f"broke off its answer ({type(exc).__name__})"
            except (TimeoutError, OSError) as exc:   # a timeout while reading the answer
                problem = (f"did not answer within {self.timeout_s:g} s" if isinstance(exc, TimeoutError)
                           or "timed out" in str(exc) else f"connection failed ({reason_words(exc)})")
            if attempt + 1 < tries:
                time.sleep(wait)
        hint = ("is the server running, and is the URL right?" if "reached" in problem or "connection" in problem
                else "raise timeout_s or lower concurrency" if "within" in problem
                else "lower concurrency, or raise retries, to stay under the server's rate limit" if "429" in problem
                else "check the server's log")
        raise ServiceError(f"{self.where}: {doing} failed: the server {problem} "
                           f"({tries} {'try' if tries == 1 else 'tries'}); {hint}")

    def _hint(self, code: int) -> str:
        if code in (401, 403):
            if not self.api_key_env:
                return "; the server wants an API key: name the variable holding it (api_key_env)"
            have = "is set" if os.environ.get(self.api_key_env) else "is not set"
            return f"; check the API key in ${self.api_key_env} (it {have}; api_key_env names the variable)"
        return f"; {self.hints[code]}" if code in self.hints else ""


def error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's own error message, when its body says one (``{"error": {"message": ...}}``,
    ``{"message": ...}``, ``{"detail": ...}``, or Elasticsearch's ``{"error": {"reason": ...}}``)."""
    try:
        body = loads(exc.read(MAX_ANSWER_CHARS) or b"{}", max_chars=MAX_ANSWER_CHARS)
        err = body.get("error", body) if isinstance(body, dict) else body
        msg = (err.get("message") or err.get("reason") or err.get("detail")) if isinstance(err, dict) else err
        return f": {' '.join(str(msg).split())[:160]}" if msg else ""
    except (Unreadable, OSError, AttributeError, ValueError):
        return ""


def reason_words(reason) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
