"""Indexes of the old embedded store (qdrant-client's local mode, ``qdrant/`` in the data folder).

Before the engine became the embedded default, indexes lived in qdrant-client's local mode
(a pure-Python stand-in). The first time a process needs vectors from a data folder that still
has that folder, every index of ours in it is read with qdrant-client and inserted into the
engine as it is (its vectors, payloads and metadata: nothing is encoded again), and the old
folder is renamed ``qdrant.converted-DATE-TIME`` (kept: delete it when satisfied). One line says
so. A conversion cut short (a kill) simply runs again: points are upserted by id. An old folder
the client cannot read is renamed ``qdrant.unreadable-DATE-TIME``; its indexes are rebuilt (encoded
again) when needed, and the line says that instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .index import INDEX_PREFIX
from .repair import in_use

BATCH = 1000


def convert_legacy(legacy: Path | None, store, say: Callable[[str], None]) -> list[str]:
    """Convert the indexes of the old folder ``legacy`` into ``store`` (an EdgeStore); their names."""
    if legacy is None or not (legacy / "meta.json").is_file():
        return []
    from qdrant_client import QdrantClient

    store.root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        client = QdrantClient(path=str(legacy))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise in_use(legacy) from None
        client, error = None, exc
    except Exception as exc:  # noqa: BLE001 - a damaged folder fails in many ways
        client, error = None, exc
    if client is None:
        moved = _rename(legacy, f"unreadable-{stamp}")
        say(f"the old embedded vector store {legacy} (qdrant-client local mode) could not be read "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}): moved to {moved}; "
            "its indexes are rebuilt (encoded again) when needed")
        return []
    converted, failed, others = [], [], []
    try:
        for col in client.get_collections().collections:
            name = col.name
            if not name.startswith(INDEX_PREFIX):
                others.append(name)
                continue
            try:
                n = _convert_one(client, name, store)
                converted.append(f"{name} ({n:,} vectors)")
            except Exception as exc:  # noqa: BLE001 - one unreadable collection does not stop the rest
                failed.append(f"{name} ({type(exc).__name__})")
    finally:
        client.close()
    moved = _rename(legacy, f"converted-{stamp}")
    parts = []
    if converted:
        parts.append(f"converted {len(converted)} vector index{'es' if len(converted) != 1 else ''} "
                     f"({', '.join(converted)}) from the old embedded store (qdrant-client local mode) into the "
                     "Qdrant engine, no re-encoding")
    if failed:
        parts.append(f"could not read {', '.join(failed)}: rebuilt (encoded again) when needed")
    if others:
        parts.append(f"left other collections there ({', '.join(others)})")
    if not parts:
        parts.append("the old embedded store (qdrant-client local mode) held no index")
    say("; ".join(parts) + f"; the old folder is kept at {moved} (delete it when satisfied)")
    return [c.split(" ")[0] for c in converted]


def _convert_one(client, name: str, store) -> int:
    col = client.get_collection(name)
    meta = dict(getattr(col.config, "metadata", None) or {})
    dim = getattr(col.config.params.vectors, "size", None)
    if dim is None:
        raise ValueError("not a single dense vector")
    complete = bool(meta.get("complete"))
    if not store.exists(name):
        store.create(name, int(dim), {**meta, "complete": False})
    offset, n = None, 0
    while True:
        points, offset = client.scroll(name, limit=BATCH, offset=offset, with_payload=True, with_vectors=True)
        if points:
            store.upsert(name, [str(p.id) for p in points], np.asarray([p.vector for p in points], dtype=np.float32),
                         [p.payload or {} for p in points])
            n += len(points)
        if offset is None:
            break
    store.flush(name)
    store.set_metadata(name, {**meta, "dim": int(dim), "complete": complete and n >= int(meta.get("n_docs", 0)),
                              "n_points": n, "converted_from": "qdrant-client local mode",
                              "converted_at": time.time()})
    return n


def _rename(legacy: Path, suffix: str) -> Path:
    target = legacy.with_name(f"{legacy.name}.{suffix}")
    n = 1
    while target.exists():
        n += 1
        target = legacy.with_name(f"{legacy.name}.{suffix}-{n}")
    os.replace(legacy, target)
    return target
