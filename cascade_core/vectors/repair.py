"""Damaged vector indexes in the embedded engine: found on open, moved aside, listed, dropped, rebuilt.

Each index is one Qdrant Edge shard folder (``qdrant-edge/NAME/``). A shard is opened when its
vectors are first needed (or when ``cascade indexes`` lists it); if the engine refuses to load
it, or its first stored points do not read back (a payload that does not decode, a vector that
is not of unit length: cosine vectors are stored normalised), the folder is moved to
``damaged/NAME.damaged-DATE-TIME/`` with a ``damage.json`` saying why (nothing is deleted) and
the notice goes to the user. The index is then simply missing: ``cascade index`` or a dense step
builds it anew; ``cascade indexes`` lists the moved copy as damaged, and
``cascade indexes --drop NAME`` deletes it.

What the engine itself does not check (no checksums on vector files), a damaged byte in the
middle of a vector file, is not detected here either: those vectors would score wrongly.

>>> import tempfile
>>> from pathlib import Path
>>> damaged_indexes(Path(tempfile.mkdtemp()))
[]
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

DAMAGED_DIR = "damaged"
MARK = ".damaged-"
SAMPLE = 64   # points read back when a shard opens


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
        norm = float(np.linalg.norm(np.asarray(vector, dtype=np.float64))) if vector is not None else 0.0
        if not np.isfinite(norm) or abs(norm - 1.0) > 1e-3:
            return "a stored vector is not of unit length (its vector file is overwritten)"
        if not isinstance(r.payload, dict):
            return "a stored point has no readable payload"
    return None


def quarantine_shard(root: Path, name: str, reason: str) -> DamagedIndex:
    """Move the shard folder ``root/name`` to ``root/damaged/`` with a note of why; return what moved."""
    folder = root / name
    meta = {}
    try:
        meta = json.loads((folder / "cascade.json").read_text(encoding="utf-8"))
        meta = meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        pass
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
        info = {}
        try:
            info = json.loads((folder / "damage.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        info = info if isinstance(info, dict) else {}
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
