"""Damaged vector indexes in the embedded engine: found, moved aside, listed, dropped, rebuilt.

Each index is one Qdrant Edge shard folder (``qdrant-edge/NAME/``). A shard is opened when its
vectors are first needed (or when ``cascade indexes`` lists it); if the engine refuses to load
it, its metadata (``cascade.json``) is missing, or its first stored points do not read back (a
payload that does not decode, a vector that is not finite or not of unit length: cosine vectors
are stored normalised), the folder is moved to ``damaged/NAME.damaged-DATE-TIME/`` with a
``damage.json`` saying why (nothing is deleted) and the notice goes to the user. The index is
then simply missing: ``cascade index`` or a dense step builds it anew; ``cascade indexes``
lists the moved copy as damaged, and ``cascade indexes --drop NAME`` deletes it.

The engine keeps no checksums of its vector files, so a damaged byte in the middle of one loads
fine. It is caught where vectors are read instead, by the same test (:func:`vector_damage`):
building an index that exists reads its stored vectors back once per process (all of them up to
``VERIFY_ALL``, a random sample past that) and a damaged one is moved aside and rebuilt there;
every read of vectors, and every search's scores, are checked before they reach scoring, and a
damaged index found then is moved aside with one line asking to run the command again. So a
non-finite score never reaches the score store from an index.

>>> import tempfile
>>> from pathlib import Path
>>> damaged_indexes(Path(tempfile.mkdtemp()))
[]
>>> vector_damage(np.array([[0.6, 0.8], [3.0, 4.0]]))
'a stored vector is not of unit length (norm 5; its vector file is overwritten)'
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexingError
from ..readback import Unreadable, read_record

DAMAGED_DIR = "damaged"
MARK = ".damaged-"
SAMPLE = 64   # points read back when a shard opens
NORM_TOLERANCE = 1e-3   # a float16 vector file renormalised is off by ~1e-4; a flipped byte, by far more


@dataclass(frozen=True)
class DamagedIndex:
    """An index moved aside as damaged: its name, where it went, why, and what it held."""

    name: str
    moved_to: Path
    reason: str
    model: str | None = None
    corpus: str | None = None
    points: int | None = None

    @property
    def notice(self) -> str:
        held = "how many vectors cannot be known" if self.points is None else f"{self.points:,} vectors"
        return (f"the vector index {self.name} was damaged ({self.reason}): moved to {self.moved_to}; "
                f"lost: {held} (recomputable: `cascade index` or a dense step encodes the corpus again)")


def vector_damage(vectors: np.ndarray, unit: bool = True) -> str | None:
    """Why vectors read back from an index cannot be what was stored, or None.

    Not finite (a NaN or an infinity), or, where the index promises unit length (``unit``: its
    metadata's ``unit_norm``, true of every index this tool makes: the encoder normalises and
    the distance is cosine), a norm off 1 by more than :data:`NORM_TOLERANCE`.

    >>> vector_damage(np.array([[1.0, 0.0], [0.0, 1.0]])) is None
    True
    >>> vector_damage(np.array([[np.nan, 0.0]]))
    'a stored vector is not finite (its vector file is overwritten)'
    >>> vector_damage(np.array([[3.0, 4.0]]), unit=False) is None
    True
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if not vectors.size:
        return None
    if not np.isfinite(vectors).all():
        return "a stored vector is not finite (its vector file is overwritten)"
    if unit:
        norms = np.linalg.norm(vectors, axis=1)
        off = np.abs(norms - 1.0)
        worst = int(np.argmax(off))
        if off[worst] > NORM_TOLERANCE:
            return (f"a stored vector is not of unit length (norm {norms[worst]:.3g}; its vector file "
                    "is overwritten)")
    return None


def shard_damage(shard) -> str | None:
    """Why an open shard cannot be trusted (its first points do not read back), or None."""
    from qdrant_edge import CountRequest, ScrollRequest

    try:
        shard.count(CountRequest(exact=True))
        records, _ = shard.scroll(ScrollRequest(limit=SAMPLE, with_payload=True, with_vector=True))
    except Exception as exc:  # noqa: BLE001 - the engine raises plain Exceptions
        return f"its stored points do not read back: {_first_line(exc)}"
    for r in records:
        vector = r.vector.get("") if isinstance(r.vector, dict) else r.vector
        # The engine's distance is cosine for every shard we make: stored vectors have unit length.
        reason = vector_damage(vector) if vector is not None else "a stored point has no vector"
        if reason is not None:
            return reason
        if not isinstance(r.payload, dict):
            return "a stored point has no readable payload"
    return None


def quarantine_shard(root: Path, name: str, reason: str) -> DamagedIndex:
    """Move the shard folder ``root/name`` to ``root/damaged/`` with a note of why; return what moved."""
    folder = root / name
    try:
        meta = read_record(folder / "cascade.json")
    except Unreadable:
        meta = {}
    points = meta.get("n_points") if meta.get("complete") else None
    target_root = root / DAMAGED_DIR
    target_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = target_root / f"{name}{MARK}{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = target_root / f"{name}{MARK}{stamp}-{n}"
    os.replace(folder, target)
    (target / "damage.json").write_text(json.dumps({"name": name, "reason": reason, "points": points,
                                                    "metadata": meta, "moved_at": time.time()}),
                                        encoding="utf-8")
    return DamagedIndex(name, target, reason, meta.get("model"), meta.get("corpus"), points)


def damaged_indexes(root: Path) -> list[DamagedIndex]:
    """The indexes moved aside under the embedded folder ``root``, oldest first."""
    folder_root = root / DAMAGED_DIR
    if not folder_root.is_dir():
        return []
    out = []
    for folder in sorted(folder_root.iterdir(), key=lambda p: p.name.partition(MARK)[2]):
        if MARK not in folder.name or not folder.is_dir():
            continue
        try:
            info = read_record(folder / "damage.json")
        except Unreadable:
            info = {}
        meta = info.get("metadata") or {}
        meta = meta if isinstance(meta, dict) else {}
        out.append(DamagedIndex(folder.name.partition(MARK)[0], folder, str(info.get("reason", "unknown")),
                                meta.get("model"), meta.get("corpus"), info.get("points")))
    return out


def drop_damaged(root: Path, name: str) -> int:
    """Delete every moved-aside copy of the index ``name`` (the user asked to); how many were there."""
    dropped = 0
    for damaged in damaged_indexes(root):
        if damaged.name == name:
            shutil.rmtree(damaged.moved_to, ignore_errors=True)
            dropped += 1
    return dropped


class FolderInUse(IndexingError):
    """An embedded Qdrant folder is held by another process (its lock): waiting may help."""


def in_use(path: Path) -> FolderInUse:
    return FolderInUse(f"the embedded Qdrant folder {path} is in use by another process (the engine allows "
                       "one process per index at a time): stop it, or run a Qdrant server and set QDRANT_URL")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__
