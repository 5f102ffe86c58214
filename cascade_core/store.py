"""The score store: every score ever computed, and what computing it cost.

Scores are keyed by (scorer id, corpus fingerprint, query key, document id). The query key is a
hash of the query *text*, so the same question under two ids shares its scores, and an edited
query never reuses stale ones. Nothing stored is ever scored again.

SQLite in WAL mode: many readers (dashboard sessions) and one writer at a time are safe; each
thread gets its own connection.

>>> import tempfile, os
>>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "scores.sqlite"))
>>> store.put("bm25", "corpus1", query_key("cats"), ["d1", "d2"], [2.5, 0.5])
>>> store.get("bm25", "corpus1", query_key("cats"), ["d1", "d3"])
{'d1': 2.5}
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS score_sets (
    id INTEGER PRIMARY KEY,
    scorer TEXT NOT NULL,
    corpus TEXT NOT NULL,
    UNIQUE (scorer, corpus)
);
CREATE TABLE IF NOT EXISTS scores (
    set_id INTEGER NOT NULL,
    query TEXT NOT NULL,
    doc TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (set_id, query, doc)
) WITHOUT ROWID;
-- A first-pass retrieval stores its top `depth` documents; deeper asks retrieve again.
CREATE TABLE IF NOT EXISTS retrievals (
    set_id INTEGER NOT NULL,
    query TEXT NOT NULL,
    depth INTEGER NOT NULL,
    PRIMARY KEY (set_id, query)
) WITHOUT ROWID;
-- One row per timed call of a scorer: the cost model is fitted on these.
CREATE TABLE IF NOT EXISTS costs (
    scorer TEXT NOT NULL,
    n_pairs INTEGER NOT NULL,
    n_chars INTEGER NOT NULL,
    seconds REAL NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS costs_by_scorer ON costs (scorer);
"""


def query_key(text: str) -> str:
    """A stable key for a query's text.

    >>> query_key("what do cats eat")
    '2a3816e618e1a2e2'
    """
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class ScoreStore:
    """Persistent scores and cost records in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._set_ids: dict[tuple[str, str], int] = {}
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _set_id(self, scorer: str, corpus: str, create: bool = True) -> int | None:
        key = (scorer, corpus)
        if key in self._set_ids:
            return self._set_ids[key]
        conn = self._conn()
        row = conn.execute(
            "SELECT id FROM score_sets WHERE scorer=? AND corpus=?", key
        ).fetchone()
        if row is None:
            if not create:
                return None
            with conn:
                conn.execute("INSERT OR IGNORE INTO score_sets (scorer, corpus) VALUES (?, ?)", key)
            row = conn.execute("SELECT id FROM score_sets WHERE scorer=? AND corpus=?", key).fetchone()
        self._set_ids[key] = row[0]
        return row[0]

    # -- scores ------------------------------------------------------------------------------

    def put(self, scorer: str, corpus: str, query: str, docs: Sequence[str], scores: Iterable[float]) -> None:
        """Store the scores of ``docs`` for one query (replacing any already there)."""
        sid = self._set_id(scorer, corpus)
        rows = [(sid, query, d, float(s)) for d, s in zip(docs, scores)]
        conn = self._conn()
        with conn:
            conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)

    def put_many(self, scorer: str, corpus: str, rows: Iterable[tuple[str, str, float]]) -> None:
        """Store ``(query key, doc id, score)`` rows in one transaction."""
        sid = self._set_id(scorer, corpus)
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                ((sid, q, d, float(s)) for q, d, s in rows),
            )

    def get(self, scorer: str, corpus: str, query: str, docs: Sequence[str] | None = None) -> dict[str, float]:
        """Stored scores of one query: all of them, or those of ``docs`` that are present."""
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return {}
        rows = self._conn().execute(
            "SELECT doc, score FROM scores WHERE set_id=? AND query=?", (sid, query)
        ).fetchall()
        found = dict(rows)
        if docs is None:
            return found
        return {d: found[d] for d in docs if d in found}

    def get_many(self, scorer: str, corpus: str, queries: Iterable[str]) -> dict[str, dict[str, float]]:
        """Stored scores of many queries at once: ``{query key: {doc id: score}}``."""
        wanted = set(queries)
        out: dict[str, dict[str, float]] = {q: {} for q in wanted}
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return out
        cur = self._conn().execute("SELECT query, doc, score FROM scores WHERE set_id=?", (sid,))
        for q, d, s in cur:
            bucket = out.get(q)
            if bucket is not None:
                bucket[d] = s
        return out

    # -- first-pass retrievals ---------------------------------------------------------------

    def put_retrieval(self, scorer: str, corpus: str, query: str, docs: Sequence[str],
                      scores: Sequence[float], depth: int) -> None:
        """Store a first-pass result list and the depth it is complete to."""
        sid = self._set_id(scorer, corpus)
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM scores WHERE set_id=? AND query=?", (sid, query))
            conn.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?)",
                [(sid, query, d, float(s)) for d, s in zip(docs, scores)],
            )
            conn.execute("INSERT OR REPLACE INTO retrievals VALUES (?, ?, ?)", (sid, query, int(depth)))

    def retrieval_depths(self, scorer: str, corpus: str) -> dict[str, int]:
        """``{query key: depth}`` of every stored retrieval of this scorer on this corpus."""
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return {}
        return dict(self._conn().execute(
            "SELECT query, depth FROM retrievals WHERE set_id=?", (sid,)).fetchall())

    # -- costs -------------------------------------------------------------------------------

    def record_costs(self, scorer: str, calls: Iterable[tuple[int, int, float]]) -> None:
        """Record timed calls as ``(n_pairs, n_chars, seconds)``."""
        now = time.time()
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT INTO costs VALUES (?, ?, ?, ?, ?)",
                [(scorer, int(n), int(c), float(s), now) for n, c, s in calls],
            )

    def costs(self, scorer: str, most_recent: int = 5000) -> np.ndarray:
        """The most recent recorded calls of a scorer as rows ``(n_pairs, n_chars, seconds)``.

        Only recent calls count, so a model on faster hardware (or a fixed slowdown) ages out.
        """
        rows = self._conn().execute(
            "SELECT n_pairs, n_chars, seconds FROM costs WHERE scorer=? ORDER BY rowid DESC LIMIT ?",
            (scorer, most_recent)).fetchall()
        return np.asarray(rows, dtype=float).reshape(-1, 3)

    def n_scores(self, scorer: str | None = None) -> int:
        if scorer is None:
            return self._conn().execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        return self._conn().execute(
            "SELECT COUNT(*) FROM scores JOIN score_sets ON scores.set_id = score_sets.id "
            "WHERE score_sets.scorer=?", (scorer,)).fetchone()[0]
