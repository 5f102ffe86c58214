"""The workspace: the data folder's score store, the Qdrant client, and shared loaded objects.

One per process (the dashboard shares it between sessions). Qdrant is embedded (the engine in
process, through ``qdrant-edge-py``: one folder per index under ``qdrant-edge/`` in the data
folder) unless a server URL is given, by argument or ``QDRANT_URL`` (with ``QDRANT_API_KEY``);
nothing else changes between the two (:mod:`cascade_core.vectors.backends`).

>>> import tempfile
>>> ws = Workspace(tempfile.mkdtemp())
>>> ws.qdrant_location
'embedded'
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Callable

from ..data import Corpus, QuerySet
from ..errors import CascadeError, IndexingError, require
from ..home import cascade_home
from ..models import ResolvedModel
from ..scorers import Retriever, Scorer, ScorerConfig, ScorerContext, retriever_class, scorer_class
from ..store.damage import is_corruption
from ..store.scores import ScoreStore
from ..vectors.backends import EdgeStore, ServerStore
from ..vectors.index import VectorIndex


class Workspace:
    def __init__(self, home: str | Path | None = None, qdrant_url: str | None = None,
                 qdrant_api_key: str | None = None, notify: Callable[[str], None] | None = None):
        """``notify`` is called with each notice of a damaged file moved aside and rebuilt (the
        score store on open, a vector index when Qdrant opens); :attr:`notices` keeps them all."""
        self.notices: list[str] = []
        self._notify = notify
        self.home = data_folder(Path(home) if home is not None else cascade_home())
        self.store = open_store(self.home / "scores.sqlite", notify=self.notice)
        self.qdrant_url = qdrant_url or os.environ.get("QDRANT_URL") or None
        self.qdrant_api_key = qdrant_api_key or os.environ.get("QDRANT_API_KEY") or None
        self._qdrant = None
        self._lock = threading.RLock()
        self.shared_objects: dict = {}   # BM25 indexes and the like, keyed by corpus + params
        self._indexes: dict = {}

    def notice(self, message: str) -> None:
        """Record a notice for the user (a damaged file replaced) and pass it to ``notify``."""
        self.notices.append(message)
        if self._notify is not None:
            self._notify(message)

    @property
    def qdrant_location(self) -> str:
        return self.qdrant_url or "embedded"

    @property
    def qdrant(self):
        """The vector store: the Qdrant engine in process (default) or a Qdrant server's client.

        Made on first use; the engine's shards open later still, one by one, when their vectors
        are needed (a run whose scores are all stored never opens one). When another process
        holds a shard, this one says so once and waits for it, up to ``$CASCADE_QDRANT_WAIT_S``
        seconds (default 120), then fails with one line."""
        with self._lock:
            if self._qdrant is None:
                self._qdrant = open_qdrant(self.home, self.qdrant_url, self.qdrant_api_key, notify=self.notice)
            return self._qdrant

    @property
    def embedded_folder(self) -> Path:
        """Where the embedded engine keeps its shards (one folder per index)."""
        return self.home / EMBEDDED_DIR

    def damaged_indexes(self) -> list:
        """Vector indexes found damaged and moved aside (embedded engine only; opens every index first)."""
        return self.qdrant.damaged()

    def vector_index(self, corpus: Corpus, model: ResolvedModel):
        key = (corpus.fingerprint, model.key)
        with self._lock:
            if key not in self._indexes:
                # the client opens when the index is first used, not now: see :attr:`qdrant`
                self._indexes[key] = VectorIndex(lambda: self.qdrant, corpus, model)
            return self._indexes[key]

    def scorer(self, config: ScorerConfig, corpus: Corpus, queries: QuerySet | None = None,
               device: str = "auto", resolved_device: str | None = None) -> Scorer:
        """A stage of ``config``'s kind over ``corpus``; its model (if it runs one here) on ``device``
        (a setting: :mod:`cascade_core.models.device`), or on ``resolved_device`` when that is decided
        elsewhere (a cluster's workers)."""
        return scorer_class(config.kind)(config, ScorerContext(corpus, self, queries, device, resolved_device))

    def retriever(self, config: ScorerConfig, corpus: Corpus, queries: QuerySet | None = None,
                  device: str = "auto") -> Retriever:
        """A first pass of ``config``'s kind over ``corpus`` (see :meth:`scorer`)."""
        return retriever_class(config.kind)(config, ScorerContext(corpus, self, queries, device))

    def close(self) -> None:
        with self._lock:
            if self._qdrant is not None:
                self._qdrant.close()
                self._qdrant = None
            for key, obj in list(self.shared_objects.items()):
                if callable(getattr(obj, "close", None)):   # what a kind holds open (an existing collection's folder)
                    obj.close()
                    del self.shared_objects[key]


def data_folder(path: Path) -> Path:
    """``path``, created if missing; refused with one line if it is a file or cannot be made.

    >>> import tempfile
    >>> data_folder(Path(tempfile.mkstemp()[1]))
    Traceback (most recent call last):
    ...
    cascade_core.errors.CascadeError: the data folder ... is a file, not a folder (check --home or CASCADE_HOME)
    """
    if path.exists() and not path.is_dir():
        # mkdir would raise FileExistsError: say which setting points at a file instead.
        raise CascadeError(f"the data folder {path} is a file, not a folder (check --home or CASCADE_HOME)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CascadeError(f"cannot create the data folder {path}: {exc.strerror or exc} "
                           "(check --home or CASCADE_HOME)") from None
    return path


def open_store(path: Path, notify: Callable[[str], None] | None = None) -> ScoreStore:
    """The score store at ``path``; a damaged one is moved aside and replaced (``notify`` hears of
    it), a folder we may not write to is one line, not a sqlite traceback."""
    try:
        return ScoreStore(path, notify=notify)
    except (OSError, sqlite3.Error) as exc:
        if isinstance(exc, sqlite3.DatabaseError) and is_corruption(exc):   # damaged again at once
            raise CascadeError(f"the score store {path} is damaged and could not be replaced: {exc}") from None
        raise CascadeError(f"cannot open the score store {path}: {exc} (check --home or CASCADE_HOME, "
                           "and that the folder is writable)") from None


QDRANT_WAIT_S = 120.0   # how long a process waits for another to release an embedded index
EMBEDDED_DIR = "qdrant-edge"   # the engine's shards, one folder per index
LEGACY_DIR = "qdrant"          # the old embedded store (qdrant-client local mode): converted on first use
PROBE_TIMEOUT_S = 5      # a server that does not answer the first call in this long is "unreachable"
REQUEST_TIMEOUT_S = 60   # real work (wait=True upserts on a busy cluster) may take longer


def open_qdrant(home: Path, url: str | None = None, api_key: str | None = None,
                notify: Callable[[str], None] | None = None):
    """The vector store: the engine in process under the data folder ``home``, or the server at
    ``url`` (checked reachable first) through qdrant-client. Both answer the same calls
    (:mod:`cascade_core.vectors.backends`)."""
    if url:
        QdrantClient = require("qdrant_client", "a Qdrant server").QdrantClient

        # Probe first with a short timeout and no background version check: an unreachable
        # server then fails within seconds (qdrant-client does not retry) with one clear line,
        # instead of a warning from the version-check thread racing the error message.
        probe = QdrantClient(url=url, api_key=api_key, timeout=PROBE_TIMEOUT_S, check_compatibility=False)
        try:
            probe.get_collections()
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            raise IndexingError(f"cannot reach the Qdrant server at {url}: {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''} "
                                "(check the URL, QDRANT_API_KEY, and that the server runs)") from exc
        finally:
            probe.close()
        # Reachable: this client keeps qdrant-client's client/server version check.
        return ServerStore(QdrantClient(url=url, api_key=api_key, timeout=REQUEST_TIMEOUT_S), location=url)
    # Embedded: the engine; indexes of the old local-mode folder are converted on first use.
    require("qdrant_edge", "the embedded vector index")
    store = EdgeStore(home / EMBEDDED_DIR, notify=notify, legacy=home / LEGACY_DIR)
    store.root.mkdir(parents=True, exist_ok=True)   # a file in its place: said here, naming it
    return store
