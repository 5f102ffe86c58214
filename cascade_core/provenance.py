"""Where a score came from: the model's content, the library versions, the machine.

A model's *name* does not pin its weights: a packaged model is upgraded in place, a hub id
points at whatever revision was downloaded last, a folder is retrained. So every scoring run
records a :func:`model_fingerprint` (a hash of the weight files' content) of each model it used,
the :func:`library_versions` that ran it, and the :func:`machine` it ran on (for timings). The
doctor (:mod:`cascade_core.doctor.provenance`) reads them back to warn when stored scores mix
revisions, or were timed elsewhere.

>>> from cascade_core.models import resolve_model
>>> model_fingerprint(resolve_model("all-MiniLM-L6-v2")).startswith("sha256:")
True
>>> sorted(machine())
['cores', 'cpu', 'hostname', 'id', 'machine', 'system']
>>> "numpy" in library_versions(), machine_id() == machine()["id"]
(True, True)
>>> relevant_libraries("first-pass:bm25:b=0.4", has_models=False)
('rank-bm25', 'PyStemmer')
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import socket
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .models import ResolvedModel, content_hash

if TYPE_CHECKING:
    from .scorers.base import Component

# Distributions whose version can change a score or a timing (missing ones are left out).
LIBRARIES = ("cascade-explorer", "torch", "transformers", "sentence-transformers", "rank-bm25", "PyStemmer",
             "qdrant-client", "numpy")
MODEL_LIBRARIES = ("torch", "transformers", "sentence-transformers")
BM25_LIBRARIES = ("rank-bm25", "PyStemmer")
UNKNOWN_HUB = "unknown (hub id, not cached)"
FINGERPRINT_PREFIX = "sha256:"
FINGERPRINT_HEX = 16


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in LIBRARIES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def library_versions() -> dict[str, str]:
    """``{distribution: version}`` of the libraries in :data:`LIBRARIES` installed here (asked once)."""
    return dict(_versions())


def relevant_libraries(scorer_id: str, has_models: bool) -> tuple[str, ...]:
    """The libraries whose version can change this scorer's scores: the model stack for a step
    with a model, rank-bm25 and PyStemmer (tokenisation) for BM25 (a hybrid has both)."""
    libs: tuple[str, ...] = MODEL_LIBRARIES if has_models else ()
    if "bm25" in scorer_id:
        libs += BM25_LIBRARIES
    return libs


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _machine() -> tuple[tuple[str, object], ...]:
    info = {"hostname": socket.gethostname(), "cpu": _cpu_model(), "cores": os.cpu_count() or 0,
            "machine": platform.machine(), "system": platform.system()}
    info["id"] = hashlib.sha1(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return tuple(info.items())


def machine() -> dict:
    """This machine as timings depend on it: host name, CPU model, logical cores, architecture, OS,
    and ``id``, a short hash of them all (stable for the machine, different on another)."""
    return dict(_machine())


def machine_id() -> str:
    """The short stable id of this machine (see :func:`machine`)."""
    return dict(_machine())["id"]


def same_hardware(a: dict, b: dict) -> bool:
    """Two :func:`machine` records with the same CPU model, cores, architecture and OS (the host
    name may differ: a fresh container on the same kind of machine times alike).

    >>> same_hardware({"cpu": "X", "cores": 2, "hostname": "a"}, {"cpu": "X", "cores": 2, "hostname": "b"})
    True
    """
    return all(a.get(k) == b.get(k) for k in ("cpu", "cores", "machine", "system"))


# -- model fingerprints -----------------------------------------------------------------------

_lock = threading.Lock()
_fingerprints: dict[tuple, str] = {}
_loaded: dict[str, str] = {}


def model_fingerprint(model: ResolvedModel) -> str:
    """A content hash of the model's weights folder *as it is on disk now*: ``sha256:`` + 16 hex.

    Packaged models and local folders hash their folder; a hub id hashes its snapshot in the
    local Hugging Face cache, or is :data:`UNKNOWN_HUB` when not cached. The hash reads the head
    and tail of each file (:func:`cascade_core.models.content_hash`); it is computed once per
    process and folder state (file names, sizes and modification times).
    """
    folder = model_folder(model)
    if folder is None:
        return UNKNOWN_HUB
    try:
        state = _folder_state(folder)
    except OSError:
        return UNKNOWN_HUB if not model.local else f"unreadable ({folder})"
    with _lock:
        cached = _fingerprints.get(state)
    if cached is None:
        cached = FINGERPRINT_PREFIX + content_hash(folder)[:FINGERPRINT_HEX]
        with _lock:
            _fingerprints[state] = cached
    return cached


def _folder_state(folder: Path) -> tuple:
    """The folder and each (non-hidden) file's name, size, inode and change times: the cache key
    (a file rewritten within one tick of a coarse clock still gets a new inode or ctime)."""
    files = []
    for f in folder.rglob("*"):
        rel = f.relative_to(folder).as_posix()
        if rel.startswith(".") or "/." in rel or not f.is_file():
            continue
        st = f.stat()
        files.append((rel, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return (str(folder), tuple(sorted(files)))


def model_folder(model: ResolvedModel) -> Path | None:
    """The folder holding the model's files: its location if local, else its hub cache snapshot."""
    if model.local:
        return Path(model.location)
    return hub_snapshot(model.location)


def hub_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of ``repo_id`` in the local Hugging Face cache (the one ``refs/main``
    names, else the newest), or None when it is not cached."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE as cache
    except ImportError:  # pragma: no cover - sentence-transformers brings huggingface_hub
        cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
            os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub")
    # sentence-transformers reads a bare name as one of its own models
    candidates = [repo_id] if "/" in repo_id else [repo_id, f"sentence-transformers/{repo_id}"]
    for rid in candidates:
        repo = Path(cache) / ("models--" + rid.replace("/", "--"))
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            named = snapshots / ref.read_text().strip()
            if named.is_dir():
                return named
        found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
    return None


def remember_loaded(model: ResolvedModel, fingerprint: str) -> None:
    """Note the fingerprint of the weights this process has just loaded for ``model``."""
    with _lock:
        _loaded[model.location] = fingerprint


def fingerprint_as_loaded(model: ResolvedModel) -> str:
    """The fingerprint of the weights this process loaded for ``model`` (they score, whatever
    happened to the files since), else of what is on disk now."""
    with _lock:
        found = _loaded.get(model.location)
    return found or model_fingerprint(model)


# -- a step's provenance ----------------------------------------------------------------------

def step_provenance(component: "Component", as_loaded: bool = True) -> dict:
    """What produces a step's scores now: ``{"models": {name: fingerprint}, "versions": {...},
    "machine": {...}}``. ``as_loaded``: the weights loaded in this process where there are any
    (for recording scores); False: the files on disk (what a fresh run would load)."""
    fp = fingerprint_as_loaded if as_loaded else model_fingerprint
    return {"models": {m.name: fp(m) for m in component.resolved_models()},
            "versions": library_versions(), "machine": machine()}

