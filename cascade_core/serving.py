"""Serving the dashboard safely: who may use it, which folders it opens, how much it stores.

Local by default, shared on purpose. The dashboard listens on 127.0.0.1 unless it is shared
(``./run.sh demo --share`` or ``CASCADE_SHARE=1``); a shared dashboard asks every visitor for a
token (``CASCADE_TOKEN``, or one generated at start). Whatever the binding:

- a typed path opens only folders under the **data roots** (:func:`data_roots`), anything else
  is refused with a message naming the roots and nothing about the path;
- uploads live under one folder with a total quota (:class:`UploadArea`);
- scoring jobs are bounded: one at a time per session, and a cap for the whole server
  (:class:`JobSlots`);
- ``CASCADE_READ_ONLY=1`` shows what is stored and starts nothing new;
- wrong tokens cost time, per address and for the whole server (:class:`GuessThrottle`), and a
  chosen token shorter than :data:`MIN_TOKEN_CHARS` is refused (:func:`check_token`);
- a file upload from a session that has not signed in is answered 403 before its body is read
  (:class:`UploadGate`).

The library decides; :mod:`cascade_ui.access` lays it out.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp()).resolve()
>>> roots = DataRoots([root])
>>> roots.check(root / "scifact" / ".." / "nfcorpus") == root / "nfcorpus"
True
>>> roots.check("/etc")                                              # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cascade_core.serving.PathRefused: only folders under the data roots can be opened here: ...
>>> token_matches("s3cret", "s3cret"), token_matches("guess", "s3cret"), token_matches("", "")
(True, False, False)
"""

from __future__ import annotations

import hmac
import os
import secrets
import shutil
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .errors import CascadeError, SpecError
from .scorers import retriever_class, scorer_class

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_UPLOAD_QUOTA_MB = 500.0
DEFAULT_SHARED_JOBS = 2          # scoring jobs at once on a shared server (each visitor: one)
MIN_TOKEN_CHARS = 16
# Linux's limits (limits.h: PATH_MAX 4096 with its closing NUL, NAME_MAX): a longer path or name
# makes every file call fail with "File name too long"; refused up front with one line instead of
# an OSError from wherever it is first opened.
PATH_MAX_BYTES = 4095
NAME_MAX_BYTES = 255


class PathRefused(CascadeError):
    """A path outside the data roots. The message names the roots, never the path."""

    def __init__(self, message: str, roots: tuple[Path, ...] = ()):
        super().__init__(message)
        self.roots = roots


class QuotaExceeded(CascadeError):
    """An upload that would take the uploads folder past its quota."""


class JobRefused(CascadeError):
    """A scoring job refused: one already runs in this session, or the server runs its maximum."""


class ReadOnly(CascadeError):
    """Something a read-only dashboard does not do (load new data, upload, score, train)."""


class PathTooLong(CascadeError):
    """A typed path longer than the system opens (it says nothing about what exists)."""


class WeakToken(CascadeError):
    """A chosen ``CASCADE_TOKEN`` too short to share the dashboard with."""


class TooManyGuesses(CascadeError):
    """A sign-in refused unchecked: wrong tokens came too often lately, from this address or from anywhere."""


def log_line(text: str) -> None:
    """One line on the server's stderr (the terminal or log of whoever runs the dashboard)."""
    print(f"cascade-explorer: {text}", file=sys.stderr, flush=True)


def truthy(value: str | None) -> bool:
    """``CASCADE_SHARE=1`` (or true/yes/on) switches a setting on; unset, empty, 0 or no leave it off.

    >>> truthy("1"), truthy("Yes"), truthy("0"), truthy(None)
    (True, True, False, False)
    """
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def new_token() -> str:
    """A fresh random token (24 bytes, URL-safe: it goes in ``?token=``).

    >>> len(new_token()) >= 32 and new_token() != new_token()
    True
    """
    return secrets.token_urlsafe(24)


def token_matches(given: str | None, expected: str | None) -> bool:
    """Whether ``given`` is the token; constant-time (:func:`hmac.compare_digest`), never for an empty one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def check_token(token: str) -> None:
    """Refuse (:class:`WeakToken`) a chosen token shorter than :data:`MIN_TOKEN_CHARS`: whoever
    shares the dashboard chose it, and a short one falls to guessing even at a few guesses a minute.

    >>> check_token("x" * MIN_TOKEN_CHARS)
    >>> check_token("letmein")                                          # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cascade_core.serving.WeakToken: CASCADE_TOKEN is too short to share the dashboard with: ...
    """
    if len(token) < MIN_TOKEN_CHARS:
        raise WeakToken(f"CASCADE_TOKEN is too short to share the dashboard with: it needs at least "
                        f"{MIN_TOKEN_CHARS} characters. Restart it with a longer one, or without CASCADE_TOKEN "
                        "(./run.sh demo --share then makes a random one)")


class GuessThrottle:
    """Wrong tokens cost time, per address and for the whole server.

    Every check of a token takes a turn. An address's turns are spaced by a delay that doubles
    with each wrong token it gave in the last ``window`` seconds and each check of it still under
    way (``delay``, ``2 * delay`` ... at most ``max_delay``; nothing before its first): eight tabs
    from one address wait in line like one. When the server saw ``global_free`` wrong tokens or
    more in the last ``global_window`` seconds, from anywhere, every check is also spaced
    ``global_delay`` after the last one, whatever its address. A turn further off than ``max_wait``
    is refused unchecked (:class:`TooManyGuesses`), so waiting visitors cannot pile up.

    The wait comes *before* the check, for a right token too: were only wrong ones slow, a guesser
    would learn that a guess is wrong from the missing quick answer, give up on it and try the next.
    A right token clears its address's record. Each wrong token is one line in the log
    (``log``; the address and counts, never the token).

    ``clock`` and ``sleep`` are injectable, so the waits can be tested without waiting:

    >>> now = [0.0]
    >>> throttle = GuessThrottle(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s), log=print)
    >>> throttle.check("203.0.113.9", "guess", "the-token"), now[0]
    wrong access token from 203.0.113.9 (1 from there in the last 15 min, 1 from anywhere in the last 60 s)
    (False, 0.0)
    >>> throttle.check("203.0.113.9", "guess-2", "the-token"), now[0]        # doctest: +ELLIPSIS
    wrong access token from 203.0.113.9 (2 from there ...
    (False, 1.0)
    >>> throttle.check("203.0.113.9", "the-token", "the-token"), now[0]       # the next turn: 2 s later
    (True, 3.0)
    >>> throttle.check("198.51.100.4", "the-token", "the-token"), now[0]      # another address: no wait
    (True, 3.0)
    """

    def __init__(self, delay: float = 1.0, max_delay: float = 30.0, window: float = 900.0,
                 global_free: int = 20, global_delay: float = 1.0, global_window: float = 60.0,
                 max_wait: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep, log: Callable[[str], Any] | None = None):
        self.delay, self.max_delay, self.window = delay, max_delay, window
        self.global_free, self.global_delay, self.global_window = global_free, global_delay, global_window
        self.max_wait = max_wait
        self._clock, self._sleep = clock, sleep
        self._log = log or log_line
        self._lock = threading.Lock()
        self._wrong: dict[str, deque[float]] = {}       # address -> times of its recent wrong tokens
        self._pending: dict[str, int] = {}              # address -> its checks under way
        self._last: dict[str, float] = {}               # address -> the time of its last turn
        self._wrong_anywhere: deque[float] = deque()
        self._last_anywhere = float("-inf")

    def check(self, address: str, given: str | None, expected: str | None) -> bool:
        """Wait for this address's turn, then whether ``given`` is the token (:func:`token_matches`).
        Raises :class:`TooManyGuesses`, unchecked, when the turn is more than ``max_wait`` away."""
        wait = self.turn(address)
        right = None
        try:
            self._sleep(wait)
            right = token_matches(given, expected)
        finally:
            self.done(address, right)
        return bool(right)

    def turn(self, address: str) -> float:
        """Take this address's next turn: the seconds to wait before checking. Pair with :meth:`done`."""
        with self._lock:
            now = self._clock()
            self._forget(now)
            recent = self._wrong.get(address, ())
            ahead = len(recent) + self._pending.get(address, 0)
            at = now
            if ahead:
                at = max(at, self._last.get(address, now) + min(self.max_delay, self.delay * 2 ** (ahead - 1)))
            if len(self._wrong_anywhere) >= self.global_free:
                at = max(at, self._last_anywhere + self.global_delay)
            if at - now > self.max_wait:
                self._log(f"sign-in from {address} refused unchecked, too many wrong tokens lately ({len(recent)} "
                          f"from there in the last {self.window / 60:.0f} min, {len(self._wrong_anywhere)} from "
                          f"anywhere in the last {self.global_window:.0f} s)")
                raise TooManyGuesses("too many wrong tokens lately: try again in a minute or two")
            self._last[address] = at
            self._last_anywhere = max(self._last_anywhere, at)
            self._pending[address] = self._pending.get(address, 0) + 1
            return at - now

    def done(self, address: str, right: bool | None) -> None:
        """Close a turn: ``right`` True or False as the token was, None when it was not checked."""
        with self._lock:
            now = self._clock()
            self._pending[address] = max(0, self._pending.get(address, 0) - 1)
            if not self._pending[address]:
                del self._pending[address]
            if right:
                self._wrong.pop(address, None)
                if address not in self._pending:
                    self._last.pop(address, None)
            elif right is False:
                self._wrong.setdefault(address, deque()).append(now)
                self._wrong_anywhere.append(now)
                self._forget(now)
                self._log(f"wrong access token from {address} ({len(self._wrong[address])} from there in the last "
                          f"{self.window / 60:.0f} min, {len(self._wrong_anywhere)} from anywhere in the last "
                          f"{self.global_window:.0f} s)")

    def _forget(self, now: float) -> None:
        for address in list(self._wrong):
            times = self._wrong[address]
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._wrong[address]
                if address not in self._pending:
                    self._last.pop(address, None)
        while self._wrong_anywhere and self._wrong_anywhere[0] <= now - self.global_window:
            self._wrong_anywhere.popleft()


class UploadGate:
    """An ASGI app in front of an upload endpoint: a request whose session may not upload
    (``allowed(session_id)`` false) is answered 403 before anything of its body is read, and
    the connection closed, so the server never holds the file; any other passes through.

    Streamlit's ``PUT /_stcore/upload_file/<session id>/<file id>`` stores a file for any connected
    session; a shared dashboard's sign-in gate lives in the script, which never sees that request.

    >>> import asyncio
    >>> sent = []
    >>> async def inner(scope, receive, send): sent.append("stored")
    >>> async def send(message): sent.append(message.get("status", "body"))
    >>> gate = UploadGate(inner, allowed=lambda sid: sid == "signed-in", log=lambda line: None)
    >>> for sid in ("signed-in", "on-the-sign-in-box"):
    ...     asyncio.run(gate({"type": "http", "method": "PUT", "path_params": {"session_id": sid}}, None, send))
    >>> sent
    ['stored', 403, 'body']
    """

    def __init__(self, app, allowed: Callable[[str], bool], log: Callable[[str], Any] | None = None):
        self.app, self.allowed = app, allowed
        self._log = log or log_line

    async def __call__(self, scope, receive, send) -> None:
        if scope.get("type") == "http" and scope.get("method") == "PUT":
            session_id = str((scope.get("path_params") or {}).get("session_id", ""))
            if not self.allowed(session_id):
                client = scope.get("client") or ("an unknown address",)
                self._log(f"upload refused from {client[0]}: its session has not signed in")
                body = b"Sign in first: this dashboard takes uploads only from signed-in sessions.\n"
                # "Connection: close": the server drops the connection with the unread body in it
                # instead of reading the rest to reach the next request.
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class ServeSettings:
    """How this dashboard is served, read from the environment (:meth:`from_env`).

    >>> s = ServeSettings.from_env({"CASCADE_SHARE": "1", "CASCADE_TOKEN": "t" * 20})
    >>> s.share, s.read_only, s.max_jobs, s.upload_quota_mb
    (True, False, 2, 500.0)
    >>> ServeSettings.from_env({}, address="0.0.0.0").share   # bound to the network: shared, whatever was said
    True
    >>> ServeSettings.from_env({}, address="127.0.0.1").share
    False
    """

    share: bool = False
    token: str | None = None
    read_only: bool = False
    extra_roots: tuple[Path, ...] = ()
    upload_quota_mb: float = DEFAULT_UPLOAD_QUOTA_MB
    max_jobs: int | None = None
    llm_urls: tuple[str, ...] = ()
    rerank_urls: tuple[str, ...] = ()

    @property
    def server_urls(self) -> tuple[str, ...]:
        """Every server a visitor's step may call: the LLM servers and the rerank servers listed."""
        return self.llm_urls + self.rerank_urls

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, address: str | None = None) -> "ServeSettings":
        """``CASCADE_SHARE``, ``CASCADE_TOKEN``, ``CASCADE_READ_ONLY``, ``CASCADE_DATA_ROOTS``
        (separated by ``:``), ``CASCADE_UPLOAD_QUOTA_MB``, ``CASCADE_MAX_JOBS``, ``CASCADE_LLM_URLS``
        and ``CASCADE_RERANK_URLS`` (separated by ``,``). ``address`` is the
        address the server listens on, when known: anything but loopback counts as sharing
        (an empty address listens on every interface)."""
        env = os.environ if env is None else env
        share = truthy(env.get("CASCADE_SHARE")) or (address is not None and address not in LOOPBACK)
        roots = tuple(Path(p).expanduser() for p in env.get("CASCADE_DATA_ROOTS", "").split(os.pathsep) if p.strip())
        quota = _number(env.get("CASCADE_UPLOAD_QUOTA_MB"), DEFAULT_UPLOAD_QUOTA_MB, "CASCADE_UPLOAD_QUOTA_MB")
        max_jobs = DEFAULT_SHARED_JOBS if share else None
        if (env.get("CASCADE_MAX_JOBS") or "").strip():   # 0: no cap
            max_jobs = int(_number(env["CASCADE_MAX_JOBS"], 0, "CASCADE_MAX_JOBS")) or None
        def urls(name: str) -> tuple[str, ...]:
            return tuple(u.strip() for u in env.get(name, "").split(",") if u.strip())

        return cls(share=share, token=(env.get("CASCADE_TOKEN") or "").strip() or None,
                   read_only=truthy(env.get("CASCADE_READ_ONLY")), extra_roots=roots,
                   upload_quota_mb=quota, max_jobs=max_jobs, llm_urls=urls("CASCADE_LLM_URLS"),
                   rerank_urls=urls("CASCADE_RERANK_URLS"))


def _number(text: str | None, default: float, name: str) -> float:
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise CascadeError(f"{name} must be a number, not {text!r}") from None
    if value < 0:
        raise CascadeError(f"{name} must be 0 or more, not {text!r}")
    return value


# -- data roots -------------------------------------------------------------------------------

class DataRoots:
    """The folders a typed path may open: a path is allowed when, symlinks and ``..`` resolved, it
    lies under one of them. A refusal names the roots and says nothing about the path (not
    whether it exists)."""

    def __init__(self, roots: Iterable[str | Path], cwd: str | Path | None = None):
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.roots = tuple(dict.fromkeys(self._resolve(r) for r in roots if str(r).strip()))

    def _absolute(self, path: str | Path) -> Path:
        # A pasted path often brings a space or a newline with it: no folder is meant to end in one.
        p = Path(path.strip() if isinstance(path, str) else path).expanduser()
        return p if p.is_absolute() else self.cwd / p

    def _resolve(self, path: str | Path) -> Path:
        return self._absolute(path).resolve()

    def allows(self, path: str | Path) -> bool:
        try:
            resolved = self._resolve(path)
        except (OSError, ValueError, RuntimeError):   # a NUL byte, a symlink loop
            return False
        return any(resolved.is_relative_to(root) for root in self.roots)

    def check(self, path: str | Path) -> Path:
        """``path`` resolved (surrounding spaces and newlines left out), or :class:`PathRefused` when
        it lies outside every root; :class:`PathTooLong` when no file call could open it.

        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()).resolve()
        >>> DataRoots([root]).check(f"  {root}/scifact\\n") == root / "scifact"      # pasted with a newline
        True
        >>> DataRoots([root]).check(f"{root}/" + "x" * 5000)                  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cascade_core.serving.PathTooLong: this path is too long to open: ... characters (a path has at most ...
        """
        if not str(path).strip():
            raise PathRefused(self.refusal(), self.roots)
        try:
            absolute = os.fsencode(self._absolute(path))
        except (ValueError, RuntimeError):   # no home folder for "~"
            raise PathRefused(self.refusal(), self.roots) from None
        if len(absolute) > PATH_MAX_BYTES or any(len(part) > NAME_MAX_BYTES for part in absolute.split(b"/")):
            raise PathTooLong(f"this path is too long to open: {len(str(path).strip()):,} characters (a path "
                              f"has at most {PATH_MAX_BYTES:,} bytes, and each folder or file name in it "
                              f"{NAME_MAX_BYTES})")
        if not self.allows(path):
            raise PathRefused(self.refusal(), self.roots)
        return self._resolve(path)

    def refusal(self) -> str:
        where = "; ".join(str(r) for r in self.roots) or "none are set"
        return (f"only folders under the data roots can be opened here: {where}. To open another folder, "
                "whoever runs the dashboard adds it to CASCADE_DATA_ROOTS (folders separated by ':'); "
                "or upload the files")

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots)


def data_roots(settings: ServeSettings, samples: Iterable[str | Path], uploads: str | Path,
               cwd: str | Path | None = None) -> DataRoots:
    """The data roots: the bundled samples, the uploads folder, every folder in
    ``CASCADE_DATA_ROOTS``, and, when the dashboard is not shared, ``../shared`` next to the
    working directory if it exists (where a team keeps its datasets).

    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp()).resolve(); (base / "shared").mkdir(); (base / "app").mkdir()
    >>> local = data_roots(ServeSettings(), ["sample_data"], base / "home/uploads", cwd=base / "app")
    >>> [str(r.relative_to(base)) for r in local.roots]
    ['app/sample_data', 'home/uploads', 'shared']
    >>> shared = data_roots(ServeSettings(share=True), ["sample_data"], base / "home/uploads", cwd=base / "app")
    >>> [str(r.relative_to(base)) for r in shared.roots]
    ['app/sample_data', 'home/uploads']
    """
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    roots: list[Path] = [*map(Path, samples), Path(uploads), *settings.extra_roots]
    team = cwd.parent / "shared"
    if not settings.share and team.is_dir():
        roots.append(team)
    return DataRoots(roots, cwd=cwd)


# -- what a visitor's spec may name ----------------------------------------------------------



class SpecRefused(SpecError):
    """A spec that, on a shared dashboard, names something a visitor may not choose."""


def looks_like_path(name: str) -> bool:
    """Whether a model name is a local folder rather than a packaged model or a hub id (``org/name``).

    >>> looks_like_path("/srv/models/x"), looks_like_path("../x"), looks_like_path("~/m"), looks_like_path("a/b/c")
    (True, True, True, True)
    >>> looks_like_path("all-MiniLM-L6-v2"), looks_like_path("cross-encoder/ms-marco-MiniLM-L-6-v2")
    (False, False)
    """
    name = name.strip()
    return name.startswith((".", "/", "~", "\\")) or name.count("/") > 1 or "\\" in name


def names_local_path(name: str, cwd: str | Path | None = None) -> bool:
    """Whether a model name would be loaded from this machine's files: it looks like a path
    (:func:`looks_like_path`), or it exists as one relative to ``cwd`` (the working directory;
    the loader looks there before the hub), as ``cascade_core/data`` in this repository does.

    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp()); (base / "org" / "model").mkdir(parents=True)
    >>> names_local_path("org/model", base), names_local_path("org/other", base), names_local_path("../x", base)
    (True, False, True)
    """
    name = name.strip()
    if looks_like_path(name):
        return True
    try:
        p = Path(name).expanduser()
        return os.path.lexists(p if p.is_absolute() else Path(cwd if cwd is not None else Path.cwd()) / p)
    except (OSError, ValueError, RuntimeError):   # a name too long or with a NUL byte: no hub id either
        return True


def check_shared_scorers(scorers: Iterable, roots: DataRoots, allowed_urls: Iterable[str] = (),
                         retriever: bool = False) -> None:
    """On a shared dashboard, a visitor's scorers (``ScorerConfig``: kind, model, params) may name
    a model folder only under the data roots, a server only among ``allowed_urls``
    (``CASCADE_LLM_URLS``, ``CASCADE_RERANK_URLS``), and an API key only in the default variable: otherwise a visitor
    could probe the server's folders, make it call any address, or send any of its environment
    variables to a server of theirs. Raises :class:`SpecRefused`.

    The rules follow each kind's declared parameter types (:class:`~cascade_core.params.Param`):
    its ``path`` values must lie under the roots, its ``url`` values among the allowed servers, its
    ``secret-env`` values be the variable the kind declares (``CASCADE_LLM_API_KEY`` for ``llm``); a kind added
    in one file (or by a plugin) is guarded with no edit here. ``retriever``: the configurations
    are first passes (a kind may be both, as ``bm25``).

    >>> from cascade_core.scorers import ScorerConfig
    >>> roots = DataRoots(["/data"])
    >>> check_shared_scorers([ScorerConfig("cross-encoder", "cross-encoder/ms-marco-MiniLM-L-6-v2")], roots)
    >>> check_shared_scorers([ScorerConfig("llm", "m", {"base_url": "http://evil", "api_key_env": "AWS_SECRET"})],
    ...                      roots, ["http://localhost:11434/v1"])          # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cascade_core.serving.SpecRefused: this shared dashboard calls only the servers its operator listed ...
    """
    allowed = {u.rstrip("/") for u in allowed_urls}
    for config in scorers:
        try:
            cls = retriever_class(config.kind) if retriever else scorer_class(config.kind)
        except SpecError as exc:
            raise SpecRefused(str(exc)) from None
        model = (config.model or "").strip()
        if model and names_local_path(model, roots.cwd) and not roots.allows(model):
            raise SpecRefused(f"this shared dashboard loads model folders only from its data roots "
                              f"({roots.describe()}): choose a packaged model or a hub id")
        params = config.params or {}
        for path in cls.opened_paths(params):
            if not roots.allows(path):
                raise SpecRefused(f"this shared dashboard opens files and folders ({cls.kind}) only under its "
                                  f"data roots ({roots.describe()})")
        for url in cls.called_urls(params):
            if url.rstrip("/") not in allowed:
                raise SpecRefused(f"this shared dashboard calls only the servers its operator listed in "
                                  f"CASCADE_LLM_URLS and CASCADE_RERANK_URLS ({', '.join(sorted(allowed)) or 'none'}); "
                                  f"this {cls.kind} step names another")
        for name, variable in cls.secret_envs(params).items():
            own = next(p.default for p in cls.parameters if p.name == name)
            if variable not in ("", own):
                raise SpecRefused(f"this shared dashboard reads {cls.kind}'s API key only from {own}, "
                                  f"not from another variable")


def check_shared_spec(spec, roots: DataRoots, allowed_urls: Iterable[str] = ()) -> None:
    """:func:`check_shared_scorers` over a spec's first pass and every stage; and no Ray cluster
    address a visitor typed (the corpus and models would be sent there): ``ray`` alone is the
    operator's cluster (``RAY_ADDRESS``) or one on this machine.

    >>> from cascade_core.cascade.spec import CascadeSpec
    >>> check_shared_spec(CascadeSpec.from_dict({"first_pass": "bm25", "executor": "ray:evil:6379"}), None)
    Traceback (most recent call last):
    ...
    cascade_core.serving.SpecRefused: this dashboard is shared: scoring runs here or on the operator's Ray cluster (executor ray), not on ray:evil:6379
    """
    if spec.executor not in ("local", "ray"):
        raise SpecRefused(f"this dashboard is shared: scoring runs here or on the operator's Ray cluster "
                          f"(executor ray), not on {spec.executor}")
    check_shared_scorers([spec.first_pass], roots, allowed_urls, retriever=True)
    check_shared_scorers([stage.scorer for stage in spec.stages], roots, allowed_urls)


# -- uploads ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """One upload: a folder named by its content's hash, holding the user's files."""

    name: str
    path: Path
    files: tuple[str, ...]
    bytes: int
    modified: float

    @property
    def age(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))


@dataclass
class UploadArea:
    """The uploads folder and its quota (in bytes; ``None``: no quota).

    >>> import tempfile
    >>> area = UploadArea(Path(tempfile.mkdtemp()) / "uploads", quota_bytes=10)
    >>> folder = area.folder / "abc"; folder.mkdir(parents=True); _ = (folder / "corpus.jsonl").write_text("12345678")
    >>> area.used(), [u.files for u in area.entries()]
    (8, [('corpus.jsonl',)])
    >>> area.make_room(5)                                                # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cascade_core.serving.QuotaExceeded: the uploads folder is full: ...
    >>> area.remove("abc"); area.used()
    0
    """

    folder: Path
    quota_bytes: int | None = None
    # Other folders visitors fill that count in the same quota: the judgment logs (queries added
    # from a file, judgments), so "a file of queries" cannot grow the data folder past it either.
    counted: tuple[Path, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def for_home(cls, home: str | Path, settings: ServeSettings) -> "UploadArea":
        # Shared, visitors' judgment logs count too; the person at their own machine judges freely.
        return cls(Path(home) / "uploads", int(settings.upload_quota_mb * 1024 * 1024),
                   counted=(Path(home) / "judgments",) if settings.share else ())

    def entries(self) -> list[Upload]:
        """Every upload, newest first."""
        if not self.folder.is_dir():
            return []
        out = []
        for d in self.folder.iterdir():
            if d.is_symlink():
                continue
            files = [p for p in d.rglob("*") if p.is_file() and not p.is_symlink()] if d.is_dir() else [d]
            names = tuple(sorted(str(p.relative_to(d)) for p in files)) if d.is_dir() else (d.name,)
            out.append(Upload(d.name, d, names, sum(p.stat().st_size for p in files), d.stat().st_mtime))
        return sorted(out, key=lambda u: u.modified, reverse=True)

    def used(self) -> int:
        """Bytes the quota counts: the uploads and the :attr:`counted` folders."""
        return sum(u.bytes for u in self.entries()) + self.counted_bytes()

    def counted_bytes(self) -> int:
        """Bytes of the :attr:`counted` folders (the judgment logs)."""
        return sum(p.stat().st_size for folder in self.counted if folder.is_dir()
                   for p in folder.rglob("*") if p.is_file() and not p.is_symlink())

    def make_room(self, incoming: int, replacing: str | None = None) -> None:
        """Raise :class:`QuotaExceeded` unless ``incoming`` more bytes fit (an upload ``replacing``
        an existing one counts without the old copy; the judgment logs count too).

        >>> import tempfile
        >>> home = Path(tempfile.mkdtemp())
        >>> area = UploadArea(home / "uploads", quota_bytes=100, counted=(home / "judgments",))
        >>> (home / "judgments").mkdir(); _ = (home / "judgments" / "abc.jsonl").write_text("x" * 90)
        >>> area.used()
        90
        >>> area.make_room(20)                                           # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cascade_core.serving.QuotaExceeded: the uploads folder is full: ... used (judgment logs ... of it), ...
        """
        if self.quota_bytes is None:
            return
        uploads = sum(u.bytes for u in self.entries() if u.name != replacing)
        logs = self.counted_bytes()
        if uploads + logs + incoming > self.quota_bytes:
            of_which = f" (judgment logs {mb(logs)} of it)" if logs else ""
            raise QuotaExceeded(f"the uploads folder is full: {mb(uploads + logs)} of {mb(self.quota_bytes)} "
                                f"used{of_which}, and {mb(incoming)} more do not fit. Remove old uploads (Data "
                                "page), or ask whoever runs the dashboard to raise CASCADE_UPLOAD_QUOTA_MB")

    def store(self, name: str, files: Mapping[str, bytes]) -> Path:
        """Write ``files`` (relative path -> content) into the upload ``name``, within the quota."""
        target = self._child(name)
        with self._lock:
            self.make_room(sum(len(b) for b in files.values()), replacing=name)
            for rel, data in files.items():
                path = (target / rel).resolve()
                if not path.is_relative_to(target.resolve()):
                    raise CascadeError(f"a file name cannot leave its upload: {rel!r}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        return target

    def remove(self, name: str) -> None:
        """Delete one upload (a folder directly under the uploads folder, nothing else)."""
        target = self._child(name)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()

    def _child(self, name: str) -> Path:
        if not name or name in (".", "..") or Path(name).name != name:
            raise CascadeError(f"not an upload: {name!r}")
        return self.folder / name


def mb(n_bytes: float) -> str:
    """Bytes for people: KB under a megabyte, MB above.

    >>> mb(1.5 * 2**20), mb(500 * 2**20), mb(52_000), mb(0)
    ('1.5 MB', '500 MB', '51 KB', '0 KB')
    """
    value = n_bytes / 2**20
    if value < 1:
        return f"{n_bytes / 1024:.0f} KB"
    return f"{value:.1f} MB" if value < 100 else f"{value:,.0f} MB"


# -- long jobs --------------------------------------------------------------------------------

class JobSlots:
    """Long jobs bounded: each owner (a browser session) one at a time; the server at most
    ``total`` at once (``None``: no cap).

    >>> slots = JobSlots(total=1)
    >>> with slots.hold("tab-1", "scoring"):                         # doctest: +ELLIPSIS
    ...     with slots.hold("tab-2", "scoring"): pass
    Traceback (most recent call last):
    ...
    cascade_core.serving.JobRefused: the server is running as many long jobs as it allows (1): try again ...
    >>> slots.running()
    0
    """

    def __init__(self, total: int | None = None):
        self.total = total
        self._lock = threading.Lock()
        self._jobs: dict[str, str] = {}

    def running(self) -> int:
        return len(self._jobs)

    def job_of(self, owner: str) -> str | None:
        return self._jobs.get(owner)

    @contextmanager
    def hold(self, owner: str, what: str):
        with self._lock:
            if owner in self._jobs:
                raise JobRefused(f"this session is already running a job ({self._jobs[owner]}): wait for it, "
                                 "or cancel it, before starting another")
            if self.total is not None and len(self._jobs) >= self.total:
                raise JobRefused(f"the server is running as many long jobs as it allows ({self.total}): "
                                 "try again when one ends")
            self._jobs[owner] = what
        try:
            yield
        finally:
            with self._lock:
                self._jobs.pop(owner, None)
