"""Damaged vector indexes in embedded Qdrant: found on open, moved aside, listed, dropped, rebuilt.

The embedded client reads every collection of its folder when it opens; one damaged storage file
(``collection/NAME/storage.sqlite``) would make every command that touches Qdrant fail inside
the client. :func:`open_embedded` opens the folder; if that fails it checks each collection
(SQLite integrity, every stored point readable), moves a damaged one to
``damaged/NAME.damaged-DATE-TIME/`` (with its settings; nothing is deleted), takes it out of the
folder's ``meta.json``, and opens again. The index is then simply missing: ``cascade index`` or
a dense step builds it anew; ``cascade indexes`` lists the moved copy as damaged, and
``cascade indexes --drop NAME`` deletes it. An unreadable ``meta.json`` (the folder's table of
contents) moves the whole folder aside: every index in it is rebuilt when needed.

>>> import tempfile
>>> from pathlib import Path
>>> damaged_indexes(Path(tempfile.mkdtemp()))
[]
"""

from __future__ import annotations

import json
import os
import pickletools
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .damage import count_rows, move_aside, sqlite_damage
from .errors import IndexingError

DAMAGED_DIR = "damaged"
MARK = ".damaged-"


@dataclass(frozen=True)
class DamagedIndex:
    """A collection moved aside as damaged: its name, where it went, why, and what it held."""

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


def open_embedded(path: Path, notify: Callable[[str], None] | None = None):
    """The embedded Qdrant client on ``path``; damaged collections are moved aside first.

    Every failure is an :class:`IndexingError` of one line, never an exception of the client.
    """
    try:
        return _client(path)
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise _in_use(path) from exc
        first = exc
    except Exception as exc:  # noqa: BLE001 - the client fails in many ways on a damaged folder
        first = exc
    found = quarantine(path)
    if not found:
        raise IndexingError(f"cannot open the embedded Qdrant folder {path}: {type(first).__name__}: "
                            f"{_first_line(first)}") from first
    for damaged in found:
        if notify is not None:
            notify(damaged.notice)
    try:
        return _client(path)
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise _in_use(path) from exc
        raise IndexingError(f"cannot open the embedded Qdrant folder {path}: {_first_line(exc)}") from exc
    except Exception as exc:  # noqa: BLE001
        raise IndexingError(f"cannot open the embedded Qdrant folder {path} even after moving damaged "
                            f"indexes aside: {type(exc).__name__}: {_first_line(exc)}") from exc


def quarantine(path: Path) -> list[DamagedIndex]:
    """Move every damaged collection of the embedded folder ``path`` aside; return what moved."""
    meta_path = path / "meta.json"
    if not path.is_dir():   # a file where the folder should be: said as it is, nothing moved
        return []
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        collections = meta["collections"]
        if not isinstance(collections, dict):
            raise TypeError("collections is not a mapping")
    except OSError:         # missing, or not readable (permissions): not damage
        return []
    except (ValueError, KeyError, TypeError) as exc:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = move_aside(path, when=stamp)
        path.mkdir(parents=True, exist_ok=True)
        return [DamagedIndex("(every index in the folder)", moved,
                             f"its table of contents meta.json is unreadable: {type(exc).__name__}")]
    found = []
    for name, config in list(collections.items()):
        folder = path / "collection" / name
        if not _plain_name(name):
            continue
        reason = collection_damage(folder, config)
        if reason is None:
            continue
        found.append(_move_collection(path, name, folder, config, reason))
        del collections[name]
    if found:
        tmp = meta_path.with_name("meta.json.tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, meta_path)
    return found


def collection_damage(folder: Path, config) -> str | None:
    """Why one collection cannot be loaded (its settings, its SQLite file, a stored point), or None."""
    try:
        from qdrant_client.http import models as rest

        rest.CreateCollection(**config)
    except Exception as exc:  # noqa: BLE001 - pydantic and type errors alike
        return f"its settings in meta.json are unreadable: {type(exc).__name__}"
    storage = folder / "storage.sqlite"
    if not storage.exists():
        return None
    reason = sqlite_damage(storage, full=True)
    if reason is not None:
        return f"{storage.name}: {reason}"
    try:
        conn = sqlite3.connect(f"file:{storage}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "points" in tables:
                for (blob,) in conn.execute("SELECT point FROM points"):
                    # Walk the pickle's opcodes without running it: overwritten or cut bytes break
                    # the stream, and nothing in a file found on disk gets executed by this check.
                    for _ in pickletools.genops(blob):
                        pass
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - a broken pickle raises almost anything
        return f"{storage.name}: a stored point is unreadable ({type(exc).__name__})"
    return None


def damaged_indexes(path: Path) -> list[DamagedIndex]:
    """The collections moved aside under the embedded folder ``path``, oldest first."""
    root = path / DAMAGED_DIR
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name.partition(MARK)[2]):
        if MARK not in folder.name or not folder.is_dir():
            continue
        info = {}
        try:
            info = json.loads((folder / "damage.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        meta = ((info.get("config") or {}).get("metadata") or {}) if isinstance(info, dict) else {}
        out.append(DamagedIndex(folder.name.partition(MARK)[0], folder, str(info.get("reason", "unknown")),
                                meta.get("model"), meta.get("corpus"), info.get("points")))
    return out


def drop_damaged(path: Path, name: str) -> int:
    """Delete every moved-aside copy of the index ``name`` (the user asked to); how many were there."""
    dropped = 0
    for damaged in damaged_indexes(path):
        if damaged.name == name:
            shutil.rmtree(damaged.moved_to, ignore_errors=True)
            dropped += 1
    return dropped


def _move_collection(path: Path, name: str, folder: Path, config, reason: str) -> DamagedIndex:
    points = count_rows(folder / "storage.sqlite", "points")
    target_root = path / DAMAGED_DIR
    target_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if folder.exists():
        moved = move_aside(folder, when=stamp)
        target = target_root / moved.name
        os.replace(moved, target)
    else:
        target = target_root / f"{name}{MARK}{stamp}"
        target.mkdir(parents=True, exist_ok=True)
    (target / "damage.json").write_text(json.dumps({"name": name, "reason": reason, "points": points,
                                                    "config": config, "moved_at": time.time()}),
                                        encoding="utf-8")
    meta = (config.get("metadata") or {}) if isinstance(config, dict) else {}
    return DamagedIndex(name, target, reason, meta.get("model"), meta.get("corpus"), points)


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _client(path: Path):
    from qdrant_client import QdrantClient

    path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(path))


class FolderInUse(IndexingError):
    """The embedded Qdrant folder is held by another process (its lock): waiting may help."""


def _in_use(path: Path) -> IndexingError:
    return FolderInUse(f"the embedded Qdrant folder {path} is in use by another process (embedded mode "
                       "allows one at a time): stop it, or run a Qdrant server and set QDRANT_URL")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__
