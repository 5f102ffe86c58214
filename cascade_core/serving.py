"""Serving the dashboard safely: who may use it, which folders it opens, how much it stores.

Local by default, shared on purpose. The dashboard listens on 127.0.0.1 unless it is shared
(``./run.sh demo --share`` or ``CASCADE_SHARE=1``); a shared dashboard asks every visitor for a
token (``CASCADE_TOKEN``, or one generated at start). Whatever the binding:

- a typed path opens only folders under the **data roots** (:func:`data_roots`), anything else
  is refused with a message naming the roots and nothing about the path;
- uploads live under one folder with a total quota (:class:`UploadArea`);
- scoring jobs are bounded: one at a time per session, and a cap for the whole server
  (:class:`JobSlots`);
- ``CASCADE_READ_ONLY=1`` shows what is stored and starts nothing new.

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
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .errors import CascadeError, SpecError
from .scorers import retriever_class, scorer_class

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_UPLOAD_QUOTA_MB = 500.0
DEFAULT_SHARED_JOBS = 2          # scoring jobs at once on a shared server (each visitor: one)
MIN_TOKEN_CHARS = 16


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, address: str | None = None) -> "ServeSettings":
        """``CASCADE_SHARE``, ``CASCADE_TOKEN``, ``CASCADE_READ_ONLY``, ``CASCADE_DATA_ROOTS``
        (separated by ``:``), ``CASCADE_UPLOAD_QUOTA_MB``, ``CASCADE_MAX_JOBS``, ``CASCADE_LLM_URLS``
        (separated by ``,``). ``address`` is the
        address the server listens on, when known: anything but loopback counts as sharing
        (an empty address listens on every interface)."""
        env = os.environ if env is None else env
        share = truthy(env.get("CASCADE_SHARE")) or (address is not None and address not in LOOPBACK)
        roots = tuple(Path(p).expanduser() for p in env.get("CASCADE_DATA_ROOTS", "").split(os.pathsep) if p.strip())
        quota = _number(env.get("CASCADE_UPLOAD_QUOTA_MB"), DEFAULT_UPLOAD_QUOTA_MB, "CASCADE_UPLOAD_QUOTA_MB")
        max_jobs = DEFAULT_SHARED_JOBS if share else None
        if (env.get("CASCADE_MAX_JOBS") or "").strip():   # 0: no cap
            max_jobs = int(_number(env["CASCADE_MAX_JOBS"], 0, "CASCADE_MAX_JOBS")) or None
        urls = tuple(u.strip() for u in env.get("CASCADE_LLM_URLS", "").split(",") if u.strip())
        return cls(share=share, token=(env.get("CASCADE_TOKEN") or "").strip() or None,
                   read_only=truthy(env.get("CASCADE_READ_ONLY")), extra_roots=roots,
                   upload_quota_mb=quota, max_jobs=max_jobs, llm_urls=urls)


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

    def _resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return (p if p.is_absolute() else self.cwd / p).resolve()

    def allows(self, path: str | Path) -> bool:
        try:
            resolved = self._resolve(path)
        except (OSError, ValueError, RuntimeError):   # a NUL byte, a symlink loop
            return False
        return any(resolved.is_relative_to(root) for root in self.roots)

    def check(self, path: str | Path) -> Path:
        """``path`` resolved, or :class:`PathRefused` when it lies outside every root."""
        if not str(path).strip() or not self.allows(path):
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


def check_shared_scorers(scorers: Iterable, roots: DataRoots, allowed_urls: Iterable[str] = (),
                         retriever: bool = False) -> None:
    """On a shared dashboard, a visitor's scorers (``ScorerConfig``: kind, model, params) may name
    a model folder only under the data roots, a server only among ``allowed_urls``
    (``CASCADE_LLM_URLS``), and an API key only in the default variable: otherwise a visitor
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
        if model and looks_like_path(model) and not roots.allows(model):
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
                                  f"CASCADE_LLM_URLS ({', '.join(sorted(allowed)) or 'none'}); this {cls.kind} step "
                                  "names another")
        for name, variable in cls.secret_envs(params).items():
            own = next(p.default for p in cls.parameters if p.name == name)
            if variable not in ("", own):
                raise SpecRefused(f"this shared dashboard reads {cls.kind}'s API key only from {own}, "
                                  f"not from another variable")


def check_shared_spec(spec, roots: DataRoots, allowed_urls: Iterable[str] = ()) -> None:
    """:func:`check_shared_scorers` over a spec's first pass and every stage."""
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def for_home(cls, home: str | Path, settings: ServeSettings) -> "UploadArea":
        return cls(Path(home) / "uploads", int(settings.upload_quota_mb * 1024 * 1024))

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
        return sum(u.bytes for u in self.entries())

    def make_room(self, incoming: int, replacing: str | None = None) -> None:
        """Raise :class:`QuotaExceeded` unless ``incoming`` more bytes fit (an upload ``replacing``
        an existing one counts without the old copy)."""
        if self.quota_bytes is None:
            return
        used = sum(u.bytes for u in self.entries() if u.name != replacing)
        if used + incoming > self.quota_bytes:
            raise QuotaExceeded(f"the uploads folder is full: {mb(used)} of {mb(self.quota_bytes)} used, and these "
                                f"files need {mb(incoming)}. Remove old uploads (below), or ask whoever runs the "
                                "dashboard to raise CASCADE_UPLOAD_QUOTA_MB")

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
