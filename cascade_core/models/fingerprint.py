"""A model's fingerprint: a hash of its weights' content, as on disk now or as loaded.

A model's *name* does not pin its weights: a packaged model is upgraded in place, a hub id
points at whatever revision was downloaded last, a folder is retrained. Every scoring run records
the fingerprint of each model it used (:mod:`cascade_core.store.provenance`), and the doctor
reads them back to warn when stored scores mix revisions.

>>> from cascade_core.models.resolve import resolve_model
>>> model_fingerprint(resolve_model("all-MiniLM-L6-v2")).startswith("sha256:")
True
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .resolve import ResolvedModel, content_hash

UNKNOWN_HUB = "unknown (hub id, not cached)"
FINGERPRINT_PREFIX = "sha256:"
FINGERPRINT_HEX = 16

# -- fingerprints -----------------------------------------------------------------------

_lock = threading.Lock()
_fingerprints: dict[tuple, str] = {}
_loaded: dict[str, str] = {}


def model_fingerprint(model: ResolvedModel) -> str:
    """A content hash of the model's weights folder *as it is on disk now*: ``sha256:`` + 16 hex.

    Packaged models and local folders hash their folder; a hub id hashes its snapshot in the
    local Hugging Face cache, or is :data:`UNKNOWN_HUB` when not cached. The hash reads the head
    and tail of each file (:func:`cascade_core.models.resolve.content_hash`); it is computed once per
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
