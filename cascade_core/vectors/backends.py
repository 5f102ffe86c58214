"""Where vectors live: one small interface, two back ends.

* :class:`EdgeStore` (the default): the Qdrant engine itself, in this process, through
  ``qdrant-edge-py``. One shard folder per index under the data folder
  (``qdrant-edge/NAME/``), beside it our own ``cascade.json`` (the index's metadata: corpus,
  model, the ``complete`` marker). The engine locks a shard folder per process: a shard is
  opened when its vectors are first needed, and a process that finds it held by another says
  so once and waits (``$CASCADE_QDRANT_WAIT_S``), then fails with one line (:class:`FolderInUse`).
  A shard is *created* under a lock between processes (``.create.lock`` beside the shards:
  exclusive to create, shared to load), its ``cascade.json`` first, and is held by the process
  that created it: so two processes starting on a fresh data folder never build one shard
  together, and none loads a shard half made or without its metadata. A shard that does not load, has no
  readable ``cascade.json`` (a creation cut short by an older version), or whose first stored
  points do not read back is moved aside as damaged (:mod:`cascade_core.vectors.repair`); an
  index of the old embedded store
  (qdrant-client's local mode, ``qdrant/``) is converted into the engine once
  (:mod:`cascade_core.vectors.legacy`).
* :class:`ServerStore`: a Qdrant server or cluster through ``qdrant-client`` (``--qdrant-url``,
  ``QDRANT_URL``, ``QDRANT_API_KEY``); any ``QdrantClient`` works, which is how tests stand a
  local client in for a server.

Both answer the same calls, so :class:`~cascade_core.vectors.index.VectorIndex` does not know which it
has. Searches are exact, or HNSW (``exact=False``, with ``hnsw_ef``); :meth:`build_ann` builds
the HNSW graph where the back end leaves that to us (the engine in process: nothing runs in the
background there).

>>> import tempfile, numpy as np
>>> store = EdgeStore(tempfile.mkdtemp())
>>> store.create("demo", dim=2, metadata={"complete": False})   # False when it existed already
True
>>> store.upsert("demo", ["4f6d1c8e-0000-4000-8000-000000000001"], np.array([[1.0, 0.0]]), [{"doc_id": "a"}])
>>> store.search("demo", np.array([1.0, 0.0]), 1, exact=True)
(['a'], array([1.]))
>>> store.close()
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import IndexingError
from ..readback import Unreadable, read_record
from .legacy import convert_legacy
from .repair import DamagedIndex, FolderInUse, damaged_indexes, drop_damaged, in_use, quarantine_shard, shard_damage

try:   # an advisory lock between processes creating shards in one folder (absent on Windows)
    import fcntl
except ImportError:   # pragma: no cover - Windows: the rename into place still lets one creation win
    fcntl = None

META_FILE = "cascade.json"       # our metadata, beside the engine's files in a shard folder
SHARD_FILE = "edge_config.json"  # the engine's own: a folder holding it is a shard
CREATE_LOCK = ".create.lock"     # beside the shards: held while one is created (exclusive) or loaded (shared)
HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
HNSW_EF = 128                    # search-time beam; raised to k when k is larger


class EdgeStore:
    """Indexes as Qdrant Edge shards under ``root`` (one folder each), opened on first use."""

    kind = "embedded"

    def __init__(self, root: str | Path, notify: Callable[[str], None] | None = None,
                 wait_s: float | None = None, legacy: str | Path | None = None):
        self.root = Path(root)
        self.notify = notify
        self.wait_s = wait_s          # None: $CASCADE_QDRANT_WAIT_S or 120 s, read when waiting
        self.legacy = Path(legacy) if legacy is not None else None
        self._shards: dict = {}
        self._holds: dict = {}        # name -> the file descriptor of its hold (see _hold)
        self._lock = threading.RLock()
        self._legacy_done = legacy is None

    # -- folders and shards ------------------------------------------------------------------

    def _ready(self) -> None:
        """The root exists; the old embedded store (if any) has been converted, once."""
        if not self._legacy_done:
            self._legacy_done = True
            convert_legacy(self.legacy, self, self._say)
        self.root.mkdir(parents=True, exist_ok=True)

    def _say(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)

    def path(self, name: str) -> Path:
        if not _plain_name(name):
            raise IndexingError(f"{name!r} is not a valid index name")
        return self.root / name

    def names(self) -> list[str]:
        with self._lock:
            self._ready()
            return sorted(p.name for p in self.root.iterdir()
                          if p.is_dir() and _plain_name(p.name)
                          and ((p / SHARD_FILE).exists() or (p / META_FILE).exists()))

    def exists(self, name: str, wait: bool = True) -> bool:
        """Whether the index is there and loads (opened now: a damaged one moves aside and is not)."""
        with self._lock:
            self._ready()
            if name in self._shards:
                return True
            if not (self.path(name) / SHARD_FILE).exists():
                return False
            try:
                self.shard(name, wait=wait)
            except FolderInUse:
                raise
            except IndexingError:
                return False
            return True

    def shard(self, name: str, wait: bool = True):
        """The open ``EdgeShard`` of ``name`` (opened now if needed; damaged: moved aside, then missing)."""
        with self._lock:
            self._ready()
            if name in self._shards:
                return self._shards[name]
            folder = self.path(name)
            if not (folder / SHARD_FILE).exists():
                raise IndexingError(f"no vector index named {name!r} in {self.root}")
            shard = self._open_waiting(folder) if wait else self._open(folder)
            if shard is None:   # damaged: moved aside
                raise IndexingError(f"the vector index {name} was damaged and has been moved aside: "
                                    "build it again (`cascade index`)")
            self._shards[name] = shard
            return shard

    def _open(self, folder: Path):
        """Load a shard; raise FolderInUse when another process holds it; None when damaged (moved)."""
        from qdrant_edge import EdgeShard

        # Our own hold first: the engine reads a shard's files before it finds its lock taken, so
        # a load beside a process writing the shard (merging segments) can fail on a file moved
        # under it, which would read as damage. Held by another process: it is in use, not damaged.
        self._hold(folder)
        try:
            with self._creation_lock(fcntl.LOCK_SH if fcntl else None):   # never a shard half created
                shard = EdgeShard.load(str(folder))
        except Exception as exc:  # noqa: BLE001 - the engine raises plain Exceptions
            self._release(folder.name)
            if _is_lock_error(exc):
                raise in_use(folder) from None
            self._say(quarantine_shard(self.root, folder.name, f"it does not load: {_first_line(exc)}").notice)
            return None
        # Checked once the engine's lock is ours. create() writes the metadata before the engine's
        # files, so a shard without it is a creation cut short by an older version: it would be
        # read as an index of no model and no corpus, so it goes the damaged way.
        reason = None if _read_meta(folder) is not None else \
            "its metadata (cascade.json) is missing or unreadable: its creation was cut short"
        reason = reason or shard_damage(shard)
        if reason is not None:
            shard.close()
            self._release(folder.name)
            self._say(quarantine_shard(self.root, folder.name, reason).notice)
            return None
        return shard

    def _hold(self, folder: Path) -> None:
        """Take this process's hold of the shard in ``folder`` (an exclusive lock on
        ``.NAME.held`` beside the shards, kept while the shard is open here); raise
        :class:`FolderInUse` when another process holds it. No-op without ``fcntl`` (Windows)."""
        name = folder.name
        if fcntl is None or name in self._holds:   # pragma: no cover - Windows
            return
        fd = os.open(self.root / f".{name}.held", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise in_use(folder) from None
        self._holds[name] = fd

    def _release(self, name: str) -> None:
        fd = self._holds.pop(name, None)
        if fd is not None:
            os.close(fd)   # releases the lock

    def _open_waiting(self, folder: Path):
        wait_s = self.wait_s if self.wait_s is not None else float(os.environ.get("CASCADE_QDRANT_WAIT_S", 120))
        deadline, said = time.monotonic() + wait_s, False
        while True:
            try:
                return self._open(folder)
            except FolderInUse as exc:
                if time.monotonic() >= deadline:
                    raise FolderInUse(f"{exc} (waited {wait_s:.0f} s; $CASCADE_QDRANT_WAIT_S sets how long)") from None
                if not said:
                    self._say(f"waiting for the embedded Qdrant folder {folder}: another process holds it "
                              f"(up to {wait_s:.0f} s)")
                    said = True
                time.sleep(0.5)

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self, name: str) -> dict:
        return _read_meta(self.path(name)) or {}

    def set_metadata(self, name: str, meta: dict) -> None:
        """Replace the metadata whole (temporary file, fsync, rename): a crash leaves the old or the new."""
        _write_json_durably(self.path(name) / META_FILE, meta)

    def dim(self, name: str) -> int | None:
        try:
            config = read_record(self.path(name) / SHARD_FILE)
            return int(config["vectors"][""]["size"])
        except (Unreadable, ValueError, KeyError, TypeError):
            meta = self.metadata(name)
            return meta.get("dim")

    # -- writing -----------------------------------------------------------------------------

    def create(self, name: str, dim: int, metadata: dict) -> bool:
        """Create the empty index ``name`` with ``metadata`` and hold it open; False when it exists
        already (another process made it first: use that one).

        Under the creation lock (exclusive; loads take it shared): the check, the metadata
        (written first, fsynced), then the engine's shard, which this process then holds (the
        engine's own lock), so it is the one that fills it while the others wait. Another process
        sees no shard, or a whole one with its metadata: never one half made.
        """
        from qdrant_edge import (Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard, EdgeVectorParams,
                                 HnswIndexConfig)

        with self._lock:
            self._ready()
            folder = self.path(name)
            with self._creation_lock(fcntl.LOCK_EX if fcntl else None):
                if (folder / SHARD_FILE).exists():
                    return False
                if folder.exists():   # a folder but no shard: a creation cut short (nothing was stored)
                    self._say(quarantine_shard(self.root, name, "it holds no engine settings "
                                               "(edge_config.json): its creation was cut short").notice)
                config = EdgeConfig(
                    vectors=EdgeVectorParams(size=int(dim), distance=Distance.Cosine),
                    hnsw_config=HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=1),
                    # HNSW is built only when build_ann() runs the optimizer (nothing runs in the
                    # background in process): then every segment is indexed, whatever its size.
                    optimizers=EdgeOptimizersConfig(indexing_threshold=1))
                self._hold(folder)   # held from its first file on: nobody loads it while it is made and filled
                try:
                    folder.mkdir()
                    _write_json_durably(folder / META_FILE, {**metadata, "dim": int(dim)})
                    shard = EdgeShard.create(str(folder), config)
                except Exception as exc:  # noqa: BLE001 - the engine raises plain Exceptions
                    # Nothing can be stored in it yet: what this call made goes, so the next try starts clean.
                    self._release(name)
                    shutil.rmtree(folder, ignore_errors=True)
                    raise IndexingError(f"cannot create the vector index {name} in {folder}: "
                                        f"{_first_line(exc)}") from None
                self._shards[name] = shard
            return True

    @contextmanager
    def _creation_lock(self, mode):
        """Hold the lock between processes on creating shards (``fcntl.LOCK_EX`` to create one,
        ``LOCK_SH`` to load one: loads run side by side, never beside a creation). ``mode`` None
        (Windows, no ``fcntl``): no lock."""
        if mode is None:   # pragma: no cover - Windows
            yield
            return
        fd = os.open(self.root / CREATE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)   # releases the lock

    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict]) -> None:
        from qdrant_edge import Point, UpdateOperation

        vectors = np.asarray(vectors, dtype=np.float32)
        points = [Point(pid, vec.tolist(), payload) for pid, vec, payload in zip(ids, vectors, payloads)]
        try:
            self.shard(name).update(UpdateOperation.upsert_points(points))
        except IndexingError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise IndexingError(f"cannot store vectors in the index {name}: {_first_line(exc)}") from None

    def flush(self, name: str) -> None:
        self.shard(name).flush()

    def build_ann(self, name: str) -> bool:
        """Build the HNSW graph of every segment (merging segments on the way); True if it ran."""
        shard = self.shard(name)
        changed = shard.optimize()
        shard.flush()
        return changed

    def quarantine(self, name: str, reason: str, say: bool = True) -> DamagedIndex | None:
        """Move the index ``name`` aside as damaged (its vectors read back wrong: ``reason``); what
        moved, or None when it was gone already. ``say``: tell the user now (else the caller does)."""
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                try:
                    shard.close()
                except Exception:  # noqa: BLE001 - closing what is damaged
                    pass
            self._release(name)
            if not self.path(name).exists():
                return None
            damaged = quarantine_shard(self.root, name, reason)
            if say:
                self._say(damaged.notice)
            return damaged

    def drop(self, name: str) -> None:
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is None and (self.path(name) / SHARD_FILE).exists():
                shard = self._open_waiting(self.path(name))   # another process's lock: wait for it
            if shard is not None:
                shard.close()
            self._release(name)
            if self.path(name).exists():   # (a damaged one was moved aside while opening)
                shutil.rmtree(self.path(name))

    # -- reading -----------------------------------------------------------------------------

    def count(self, name: str, wait: bool = True) -> int:
        from qdrant_edge import CountRequest

        return int(self.shard(name, wait=wait).count(CountRequest(exact=True)))

    def indexed_count(self, name: str) -> int:
        """How many vectors the HNSW graph covers (0 when searches are all exact)."""
        return int(self.shard(name).info().indexed_vectors_count)

    def doc_ids(self, name: str) -> Iterable[str]:
        from qdrant_edge import ScrollRequest

        shard, offset = self.shard(name), None
        while True:
            records, offset = shard.scroll(ScrollRequest(offset=offset, limit=10_000, with_payload=["doc_id"],
                                                         with_vector=False))
            for r in records:
                yield r.payload["doc_id"]
            if offset is None:
                return

    def retrieve(self, name: str, ids: Sequence[str], payload: bool | list = True,
                 vectors: bool = False) -> list[tuple[str, dict, np.ndarray | None]]:
        """``(point id, payload, vector)`` of each stored point among ``ids`` (missing ones left out)."""
        records = self.shard(name).retrieve(list(ids), with_payload=payload, with_vector=vectors)
        return [(str(r.id), r.payload or {}, None if not vectors else np.asarray(_plain(r.vector), dtype=np.float32))
                for r in records]

    def search(self, name: str, vector: np.ndarray, k: int, exact: bool = True,
               hnsw_ef: int | None = None) -> tuple[list[str], np.ndarray]:
        from qdrant_edge import Query, QueryRequest, SearchParams

        params = SearchParams(exact=True) if exact else SearchParams(hnsw_ef=max(int(hnsw_ef or HNSW_EF), int(k)))
        res = self.shard(name).query(QueryRequest(limit=int(k), query=Query.Nearest(np.asarray(vector, dtype=np.float32).tolist()),
                                                  with_payload=["doc_id"], params=params))
        return [p.payload["doc_id"] for p in res], np.asarray([p.score for p in res])

    # -- damaged indexes ---------------------------------------------------------------------

    def check_all(self) -> None:
        """Open every index not open yet (one held by another process is skipped): damaged ones move aside."""
        for name in self.names():
            if name not in self._shards and (self.path(name) / SHARD_FILE).exists():
                try:
                    self.shard(name, wait=False)
                except FolderInUse:
                    pass
                except IndexingError:
                    pass

    def damaged(self) -> list:
        self.check_all()
        return damaged_indexes(self.root)

    def drop_damaged(self, name: str) -> int:
        return drop_damaged(self.root, name)

    def close(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                try:
                    shard.close()
                except Exception:  # noqa: BLE001 - closing what may already be gone
                    pass
            self._shards.clear()
            for name in list(self._holds):   # after the shards: nobody loads one still being closed
                self._release(name)

    @property
    def location(self) -> str:
        return "embedded"


class ServerStore:
    """Indexes as collections of a Qdrant server (or any ``QdrantClient``)."""

    kind = "server"

    def __init__(self, client, location: str = "server"):
        self.client = client
        self._location = location

    @property
    def location(self) -> str:
        return self._location

    def names(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def metadata(self, name: str) -> dict:
        col = self.client.get_collection(name)
        return dict(getattr(col.config, "metadata", None) or {})

    def set_metadata(self, name: str, meta: dict) -> None:
        self.client.update_collection(name, metadata=meta)

    def dim(self, name: str) -> int | None:
        vectors = self.client.get_collection(name).config.params.vectors
        return getattr(vectors, "size", None)

    def create(self, name: str, dim: int, metadata: dict) -> bool:
        """Create the collection with its metadata (one call: never one without the other); False
        when it exists already (another process made it first)."""
        from qdrant_client import models

        if self.client.collection_exists(name):
            return False
        try:
            self.client.create_collection(name, vectors_config=models.VectorParams(size=int(dim), distance=models.Distance.COSINE),
                                          metadata={**metadata, "dim": int(dim)})
        except Exception:
            if self.client.collection_exists(name):   # made meanwhile by another process
                return False
            raise
        return True

    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict]) -> None:
        from qdrant_client import models

        points = [models.PointStruct(id=pid, vector=np.asarray(vec, dtype=np.float32).tolist(), payload=payload)
                  for pid, vec, payload in zip(ids, vectors, payloads)]
        self.client.upsert(name, points=points, wait=True)

    def flush(self, name: str) -> None:
        pass   # wait=True upserts are durable on the server

    def build_ann(self, name: str) -> bool:
        return False   # the server's optimizer builds HNSW in the background, by its own settings

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def count(self, name: str, wait: bool = True) -> int:
        return int(self.client.count(name, exact=True).count)

    def indexed_count(self, name: str) -> int:
        return int(self.client.get_collection(name).indexed_vectors_count or 0)

    def doc_ids(self, name: str) -> Iterable[str]:
        offset = None
        while True:
            points, offset = self.client.scroll(name, limit=10_000, offset=offset, with_payload=["doc_id"],
                                                with_vectors=False)
            for p in points:
                yield p.payload["doc_id"]
            if offset is None:
                return

    def retrieve(self, name: str, ids: Sequence[str], payload: bool | list = True,
                 vectors: bool = False) -> list[tuple[str, dict, np.ndarray | None]]:
        records = self.client.retrieve(name, ids=list(ids), with_payload=payload, with_vectors=vectors)
        return [(str(r.id), r.payload or {}, None if not vectors else np.asarray(_plain(r.vector), dtype=np.float32))
                for r in records]

    def search(self, name: str, vector: np.ndarray, k: int, exact: bool = True,
               hnsw_ef: int | None = None) -> tuple[list[str], np.ndarray]:
        from qdrant_client import models

        params = models.SearchParams(exact=True) if exact else models.SearchParams(hnsw_ef=max(int(hnsw_ef or HNSW_EF), int(k)))
        with warnings.catch_warnings():   # a local client standing in for a server: always exact, and says so
            warnings.filterwarnings("ignore", message="Local mode performs exact")
            res = self.client.query_points(name, query=np.asarray(vector, dtype=np.float32).tolist(), limit=int(k),
                                           with_payload=["doc_id"], search_params=params)
        return [p.payload["doc_id"] for p in res.points], np.asarray([p.score for p in res.points])

    def damaged(self) -> list:
        return []

    def quarantine(self, name: str, reason: str, say: bool = True) -> None:
        """A server's collection is not ours to move: one line saying what to do."""
        raise IndexingError(f"the collection {name} on the Qdrant server holds damaged vectors ({reason}): "
                            f"drop it (`cascade indexes --drop {name}`) and index again")

    def drop_damaged(self, name: str) -> int:
        return 0

    def close(self) -> None:
        self.client.close()


def _plain(vector):
    """The unnamed dense vector of a record (engines may hand it as ``{"": [...]}``)."""
    if isinstance(vector, dict):
        return vector.get("", next(iter(vector.values())))
    return vector


def _read_meta(folder: Path) -> dict | None:
    """The metadata in ``folder`` (a shard), or None when it is missing or unreadable."""
    try:
        return read_record(folder / META_FILE)
    except Unreadable:
        return None


def _write_json_durably(path: Path, data: dict) -> None:
    """``path`` replaced whole by ``data``: a temporary file of this process, fsynced, renamed.

    Fsynced too, because a rename can reach the disk before the bytes it names: a power cut
    would then leave an empty ``cascade.json``, read as an index that says nothing.
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows has no directory handles to sync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:   # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:   # pragma: no cover - file systems that cannot sync a directory
        pass
    finally:
        os.close(fd)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "WouldBlock" in text or "already accessed" in text or "lock" in text.lower() and "wal" in text.lower()


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__
