"""The score store: every score ever computed, and what computing it cost.

Scores are keyed by (scorer id, corpus fingerprint, query key, document id). The query key is a
hash of the query *text*, so the same question under two ids shares its scores, and an edited
query never reuses stale ones. Nothing stored is ever scored again.

SQLite in WAL mode: many readers (dashboard sessions) and one writer at a time are safe; each
thread gets its own connection.

Damage: a store that fails its integrity check on open (``PRAGMA quick_check``; ~4 ms per MB),
or whose file turns out damaged on a read, is moved aside (``scores.sqlite.damaged-DATE-TIME``,
never deleted) and a new empty store replaces it; one notice (:attr:`ScoreStore.notices`, and
the ``notify`` callback) says how many scores were lost and where the old file went. Scores are
recomputable: what a cascade needs is scored again. A read that finds the damage mid-run raises
:class:`~cascade_core.errors.StoreDamagedError` with that message (the next run rescores).

Several processes: SQLite lets one writer in at a time and makes the others wait up to its busy
timeout (:attr:`ScoreStore.busy_timeout_s`). A writer still locked out after that tries again, with
one notice saying it waits and for whom, until ``$CASCADE_STORE_WAIT_S`` seconds (default 600) have
passed; then :class:`~cascade_core.errors.StoreBusyError` says so in one line. Every write is one
transaction (``INSERT OR REPLACE``), so trying again never stores anything twice.

Provenance: each scoring run registers what produced it (:meth:`ScoreStore.start_run`: model
fingerprints, library versions, machine; see :mod:`cascade_core.store.provenance`) and its scores and
cost records carry the run's id. Rows stored before provenance was recorded have none (NULL):
"unknown provenance", counted apart by :meth:`ScoreStore.score_provenance`.

>>> import tempfile, os
>>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "scores.sqlite"))
>>> store.put("bm25", "corpus1", query_key("cats"), ["d1", "d2"], [2.5, 0.5])
>>> store.get("bm25", "corpus1", query_key("cats"), ["d1", "d3"])
{'d1': 2.5}
>>> run = store.start_run("bm25", "corpus1", {"models": {}, "versions": {"rank-bm25": "0.2.2"},
...                                           "machine": {"id": "m1", "cores": 2}})
>>> store.put("bm25", "corpus1", query_key("dogs"), ["d1"], [1.0], run=run)
>>> [(p["run"], p["scores"], p["versions"]) for p in store.score_provenance("bm25", "corpus1")]
[(None, 2, None), (1, 1, {'rank-bm25': '0.2.2'})]
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import StoreBusyError, StoreDamagedError
from .damage import count_rows, is_corruption, move_aside, scores_lost, sqlite_damage

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
    run INTEGER,                 -- runs.id; NULL: stored before provenance was recorded
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
    recorded_at REAL NOT NULL,   -- one value per recording: the calls of one scoring run
    run INTEGER,                 -- runs.id (its machine); NULL: recorded before provenance
    cpu_s REAL,                  -- process CPU seconds during the call (latency.timing); NULL: not recorded
    wait_s REAL,                 -- the calling thread's wait for a core; NULL: not reported or not recorded
    threads INTEGER,             -- the parallelism it ran with
    load REAL                    -- the 1-minute load average after it
);
CREATE INDEX IF NOT EXISTS costs_by_scorer ON costs (scorer);
-- What produced a scoring run (see cascade_core.store.provenance); scores and costs point here.
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    scorer TEXT NOT NULL,
    corpus TEXT NOT NULL,
    models TEXT NOT NULL,        -- JSON {model name: content fingerprint}
    versions TEXT NOT NULL,      -- JSON {library: version}
    machine TEXT NOT NULL,       -- JSON {hostname, cpu, cores, machine, system, id}
    machine_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_scorer ON runs (scorer, corpus);
-- A listwise scorer's scores depend on the candidate list it ranked: each list it saw is a row
-- here (its document ids in the order received), and its scores are stored in `scores` under
-- the query key `QUERY#LIST` (see ScoreStore.put_list).
CREATE TABLE IF NOT EXISTS score_lists (
    set_id INTEGER NOT NULL,
    query TEXT NOT NULL,
    list TEXT NOT NULL,          -- list_key(docs)
    docs TEXT NOT NULL,          -- JSON array of document ids, in the order the stage received them
    created_at REAL NOT NULL,
    PRIMARY KEY (set_id, query, list)
) WITHOUT ROWID;
"""
# Added to stores made before provenance: NULL in old rows means "unknown provenance".
RUN_COLUMNS = ("scores", "costs")
# Added to the costs of stores made before CPU time and waits were recorded (their rows: NULL).
# (A ``probe_ms`` column of older stores is left as it was: nothing reads it any more.)
TIMING_COLUMNS = (("cpu_s", "REAL"), ("wait_s", "REAL"), ("threads", "INTEGER"), ("load", "REAL"))
# Named columns: a migrated table has the run column last, a new one too, so both take this.
INSERT_SCORE = "INSERT OR REPLACE INTO scores (set_id, query, doc, score, run) VALUES (?, ?, ?, ?, ?)"


STORE_WAIT_S = 600.0   # how long a locked-out writer keeps trying (``$CASCADE_STORE_WAIT_S``)

LIST_SEP = "#"   # joins a query key and a list key in the `scores` rows of a listwise scorer


def list_key(doc_ids: Sequence[str]) -> str:
    """A stable key for a candidate list: its document ids *in order* (a listwise ranking starts
    from the order it receives, so the same documents in another order are another list).

    >>> list_key(["d1", "d2"]), list_key(["d2", "d1"]) == list_key(["d1", "d2"])
    ('c43c539f74413bea', False)
    """
    return hashlib.sha1("\n".join(doc_ids).encode("utf-8")).hexdigest()[:16]


def query_key(text: str) -> str:
    """A stable key for a query's text.

    >>> query_key("what do cats eat")
    '2a3816e618e1a2e2'
    """
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class ScoreStore:
    """Persistent scores and cost records in one SQLite file."""

    busy_timeout_s = 60.0   # SQLite's own wait for another process's write lock, per attempt

    def __init__(self, path: str | Path, notify: Callable[[str], None] | None = None, check: bool = True):
        """Open (or create) the store at ``path``; a damaged file is moved aside and replaced, and
        ``notify`` (if given) is called with the one-line notice (kept in :attr:`notices` too).
        ``check=False`` skips the integrity check on open (reads still catch damage)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notices: list[str] = []
        self._notify = notify
        self._local = threading.local()
        self._generation = 0            # bumped when the file is replaced: connections reopen
        self._recovering = threading.Lock()
        self._set_ids: dict[tuple[str, str], int] = {}
        reason = sqlite_damage(self.path) if check else None
        if reason is not None:
            self._replace_damaged(reason, announce=True)
        try:
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self._replace_damaged(str(exc), announce=True)
            self._create_schema()

    def _create_schema(self) -> None:
        with self._conn() as conn:
            conn.executescript(SCHEMA)
        self._migrate()

    # -- damage ------------------------------------------------------------------------------

    def _replace_damaged(self, reason: str, announce: bool) -> str:
        """Move the damaged file aside, start a new one, and return (and record) the notice."""
        self._close_conn()
        lost = count_rows(self.path, "scores")
        try:
            moved = f"moved to {move_aside(self.path)}"
        except FileNotFoundError:   # another process moved it first
            moved = "already moved aside by another process"
        self._generation += 1
        self._set_ids.clear()
        notice = (f"the score store {self.path} was damaged ({reason}): {moved}; a new empty store "
                  f"replaces it. Lost: {scores_lost(lost)} and the recorded timings, all recomputable: "
                  "what a cascade needs is scored again")
        self.notices.append(notice)
        if announce and self._notify is not None:
            self._notify(notice)
        return notice

    def _damaged_on_read(self, exc: sqlite3.DatabaseError):
        """A read or write found the file damaged: replace it (once) and raise the one message."""
        with self._recovering:
            self._close_conn()
            reason = sqlite_damage(self.path, full=True)
            if reason is None:   # the file there reads well: another process has just replaced it
                self._generation += 1
                self._set_ids.clear()
                raise StoreDamagedError(f"the score store {self.path} failed a read ({exc}) and was replaced "
                                        "meanwhile by a new one; run it again") from None
            notice = self._replace_damaged(reason, announce=False)
            self._create_schema()
        raise StoreDamagedError(f"{notice}. Run it again to score what is missing") from None

    def _close_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass
            self._local.conn = None

    def _migrate(self) -> None:
        """Add the ``run`` column to a store made before provenance was recorded (rows kept, NULL).

        ``ADD COLUMN`` with a NULL default only rewrites the schema, not the rows: instant even on
        a large store. Two processes opening an old store at once may race: the loser's "duplicate
        column" is the winner's work, not an error.
        """
        conn = self._conn()
        for column, sql_type in TIMING_COLUMNS:
            self._add_column(conn, "costs", column, sql_type)
        for table in RUN_COLUMNS:
            if "run" in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                continue
            try:
                with conn:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN run INTEGER")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise

    @staticmethod
    def _add_column(conn, table: str, column: str, sql_type: str) -> None:
        """Add a NULL column to a table of an older store (a race with another process is harmless)."""
        if column in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            return
        try:
            with conn:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", 0) != self._generation:
            self._close_conn()   # the file was replaced since this thread connected
            conn = None
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            self._local.generation = self._generation
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

    def put(self, scorer: str, corpus: str, query: str, docs: Sequence[str], scores: Iterable[float],
            run: int | None = None) -> None:
        """Store the scores of ``docs`` for one query (replacing any already there), made by ``run``
        (:meth:`start_run`; None: unknown provenance)."""
        sid = self._set_id(scorer, corpus)
        rows = [(sid, query, d, float(s), run) for d, s in zip(docs, scores)]
        conn = self._conn()
        with conn:
            conn.executemany(INSERT_SCORE, rows)

    def put_many(self, scorer: str, corpus: str, rows: Iterable[tuple[str, str, float]],
                 run: int | None = None) -> None:
        """Store ``(query key, doc id, score)`` rows in one transaction, made by ``run``."""
        sid = self._set_id(scorer, corpus)
        conn = self._conn()
        with conn:
            conn.executemany(INSERT_SCORE, ((sid, q, d, float(s), run) for q, d, s in rows))

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

    # -- listwise scores: one set per candidate list -------------------------------------------

    def put_list(self, scorer: str, corpus: str, query: str, docs: Sequence[str], scores: Iterable[float],
                 run: int | None = None) -> str:
        """Store a listwise scorer's scores of one candidate list (``docs``, in the order it ranked
        them) for one query; returns the list's key. Other lists of the query are kept.

        >>> import tempfile, os
        >>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "scores.sqlite"))
        >>> store.put_list("llm", "c1", "q1", ["a", "b", "c"], [3, 2, 1])
        '2074e277e1b02db9'
        >>> _ = store.put_list("llm", "c1", "q1", ["b", "a"], [2, 1])
        >>> [(docs, scores) for _, docs, scores in store.get_lists("llm", "c1", ["q1"])["q1"]]
        [(['a', 'b', 'c'], {'a': 3.0, 'b': 2.0, 'c': 1.0}), (['b', 'a'], {'a': 1.0, 'b': 2.0})]
        """
        docs = list(docs)
        key = list_key(docs)
        sid = self._set_id(scorer, corpus)
        rows = [(sid, f"{query}{LIST_SEP}{key}", d, float(s), run) for d, s in zip(docs, scores)]
        conn = self._conn()
        with conn:
            conn.execute("INSERT OR REPLACE INTO score_lists VALUES (?, ?, ?, ?, ?)",
                         (sid, query, key, json.dumps(docs), time.time()))
            conn.executemany(INSERT_SCORE, rows)
        return key

    def get_lists(self, scorer: str, corpus: str, queries: Iterable[str]
                  ) -> dict[str, list[tuple[str, list[str], dict[str, float]]]]:
        """Every stored candidate list of a listwise scorer, per query, oldest first:
        ``{query key: [(list key, doc ids in the order ranked, {doc id: score})]}``."""
        wanted = set(queries)
        out: dict[str, list] = {q: [] for q in wanted}
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return out
        conn = self._conn()
        lists = {}
        for q, key, docs in conn.execute(
                "SELECT query, list, docs FROM score_lists WHERE set_id=? ORDER BY created_at, list", (sid,)):
            if q in wanted:
                entry = (key, json.loads(docs), {})
                lists[f"{q}{LIST_SEP}{key}"] = entry
                out[q].append(entry)
        if lists:
            for q, d, s in conn.execute("SELECT query, doc, score FROM scores WHERE set_id=?", (sid,)):
                entry = lists.get(q)
                if entry is not None:
                    entry[2][d] = s
        return out

    # -- first-pass retrievals ---------------------------------------------------------------

    def put_retrieval(self, scorer: str, corpus: str, query: str, docs: Sequence[str],
                      scores: Sequence[float], depth: int, run: int | None = None) -> None:
        """Store a first-pass result list and the depth it is complete to, made by ``run``."""
        sid = self._set_id(scorer, corpus)
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM scores WHERE set_id=? AND query=?", (sid, query))
            conn.executemany(INSERT_SCORE, [(sid, query, d, float(s), run) for d, s in zip(docs, scores)])
            conn.execute("INSERT OR REPLACE INTO retrievals VALUES (?, ?, ?)", (sid, query, int(depth)))

    def retrieval_depths(self, scorer: str, corpus: str) -> dict[str, int]:
        """``{query key: depth}`` of every stored retrieval of this scorer on this corpus."""
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return {}
        return dict(self._conn().execute(
            "SELECT query, depth FROM retrievals WHERE set_id=?", (sid,)).fetchall())

    # -- costs -------------------------------------------------------------------------------

    def record_costs(self, scorer: str, calls: Iterable[tuple], run: int | None = None) -> None:
        """Record timed calls as ``(n_pairs, n_chars, timing)``, timed in ``run`` (its machine);
        ``timing`` is a :class:`~cascade_core.latency.timing.Timing` (wall, CPU, wait for a core,
        threads, load) or plain wall seconds (then the rest is NULL: not recorded)."""
        now = time.time()

        def row(n, c, t):
            if isinstance(t, (int, float)):
                return (scorer, int(n), int(c), float(t), now, run, None, None, None, None)
            return (scorer, int(n), int(c), float(t.wall_s), now, run, _or_null(t.cpu_s), _or_null(t.wait_s),
                    int(t.threads), _or_null(t.load))

        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT INTO costs (scorer, n_pairs, n_chars, seconds, recorded_at, run, cpu_s, wait_s, threads, load) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [row(*call) for call in calls])

    def costs(self, scorer: str, most_recent: int = 5000) -> np.ndarray:
        """The most recent recorded calls of a scorer as rows ``(n_pairs, n_chars, seconds)``.

        Only recent calls count, so a model on faster hardware (or a fixed slowdown) ages out.
        """
        return self.cost_rows(scorer, most_recent)[:, :3]

    def cost_rows(self, scorer: str, most_recent: int = 5000) -> np.ndarray:
        """The most recent recorded calls, newest first, as rows ``(n_pairs, n_chars, seconds,
        recorded_at, quiet_s, cpu_s, load)``: ``seconds`` is the wall clock, ``quiet_s`` the
        quiet-equivalent (wall less the wait for a core; NaN where no wait was recorded). Calls
        recorded together share ``recorded_at``, so the cost model can read the latest recording first.

        >>> import tempfile, os
        >>> from cascade_core.latency.timing import Timing
        >>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "scores.sqlite"))
        >>> store.record_costs("ce", [(10, 100, Timing(0.03, 0.05, 0.01, 2, 3.0))]); store.record_costs("ce", [(5, 50, 0.01)])
        >>> [[round(v, 3) for v in r] for r in store.cost_rows("ce")[:, [0, 2, 4, 5]].tolist()]
        [[5.0, 0.01, nan, nan], [10.0, 0.03, 0.02, 0.05]]
        """
        rows = self._conn().execute(
            "SELECT n_pairs, n_chars, seconds, recorded_at, seconds - wait_s, cpu_s, load FROM costs WHERE scorer=? "
            "ORDER BY rowid DESC LIMIT ?", (scorer, most_recent)).fetchall()
        return np.asarray([[np.nan if v is None else v for v in r] for r in rows], dtype=float).reshape(-1, 7)

    # -- provenance --------------------------------------------------------------------------

    def start_run(self, scorer: str, corpus: str, provenance: dict) -> int:
        """The id of a run of ``scorer`` on ``corpus`` with this provenance (``{"models": {name:
        fingerprint}, "versions": {library: version}, "machine": {..., "id": ...}}``, as
        :func:`cascade_core.store.provenance.step_provenance` makes it), to pass to the ``put`` methods.

        A run with identical provenance is reused: a row says *what* produced scores, not when,
        so scoring more queries with the same model, libraries and machine adds no row.
        """
        models = json.dumps(provenance.get("models") or {}, sort_keys=True)
        versions = json.dumps(provenance.get("versions") or {}, sort_keys=True)
        machine = provenance.get("machine") or {}
        machine_json = json.dumps(machine, sort_keys=True)
        key = (scorer, corpus, models, versions, machine_json)
        conn = self._conn()
        sql = "SELECT id FROM runs WHERE scorer=? AND corpus=? AND models=? AND versions=? AND machine=?"
        row = conn.execute(sql + " ORDER BY id DESC LIMIT 1", key).fetchone()
        if row is not None:
            return row[0]
        with conn:
            cur = conn.execute(
                "INSERT INTO runs (scorer, corpus, models, versions, machine, machine_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", key + (str(machine.get("id", "")), time.time()))
        return cur.lastrowid

    def runs(self, ids: Iterable[int]) -> dict[int, dict]:
        """``{run id: {"scorer", "corpus", "models", "versions", "machine", "machine_id", "created_at"}}``."""
        ids = sorted({int(i) for i in ids if i is not None})
        out: dict[int, dict] = {}
        for lo in range(0, len(ids), 500):   # SQLite caps bound parameters per statement
            chunk = ids[lo:lo + 500]
            for rid, scorer, corpus, models, versions, machine, mid, at in self._conn().execute(
                    f"SELECT id, scorer, corpus, models, versions, machine, machine_id, created_at FROM runs "
                    f"WHERE id IN ({','.join('?' * len(chunk))})", chunk):
                out[rid] = {"scorer": scorer, "corpus": corpus, "models": json.loads(models),
                            "versions": json.loads(versions), "machine": json.loads(machine),
                            "machine_id": mid, "created_at": at}
        return out

    def score_provenance(self, scorer: str, corpus: str, query_keys: Iterable[str] | None = None) -> list[dict]:
        """The runs behind the stored scores of ``scorer`` on ``corpus`` (of ``query_keys`` only, if
        given): one dict per run with ``run`` (None: unknown provenance, stored before it was
        recorded), ``scores`` (how many) and the run's ``models``, ``versions``, ``machine``,
        ``machine_id``, ``created_at`` (None for unknown); unknown first, then by run id.
        """
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return []
        conn = self._conn()
        if query_keys is None:
            counts = dict(conn.execute("SELECT run, COUNT(*) FROM scores WHERE set_id=? GROUP BY run", (sid,)))
        else:
            wanted = set(query_keys)
            counts = {}
            # grouped per query in SQL (the primary key's order), filtered here: one pass, no
            # parameter-count limit however many queries are asked about
            for q, run, n in conn.execute(
                    "SELECT query, run, COUNT(*) FROM scores WHERE set_id=? GROUP BY query, run", (sid,)):
                if q.partition(LIST_SEP)[0] in wanted:   # a listwise scorer's rows: QUERY#LIST
                    counts[run] = counts.get(run, 0) + n
        return self._with_runs(counts, "scores")

    def cost_provenance(self, scorer: str, most_recent: int = 5000) -> list[dict]:
        """The runs behind the cost records :meth:`costs` returns (its ``most_recent`` calls), as
        :meth:`score_provenance` gives them, with ``calls`` (how many) in place of ``scores``."""
        counts = dict(self._conn().execute(
            "SELECT run, COUNT(*) FROM (SELECT run FROM costs WHERE scorer=? ORDER BY rowid DESC LIMIT ?) "
            "GROUP BY run", (scorer, most_recent)))
        return self._with_runs(counts, "calls")

    def _with_runs(self, counts: dict, what: str) -> list[dict]:
        runs = self.runs(counts)
        out = []
        for rid in sorted(counts, key=lambda r: (r is not None, r or 0)):
            info = runs.get(rid) if rid is not None else None
            row = {"run": rid, what: counts[rid]}
            for field in ("models", "versions", "machine", "machine_id", "created_at"):
                row[field] = info[field] if info else None
            out.append(row)
        return out

    def drop_scores(self, scorer: str, corpus: str) -> int:
        """Forget every stored score (and first-pass depth) of ``scorer`` on ``corpus``, so the
        next run scores them again; returns how many scores were deleted."""
        sid = self._set_id(scorer, corpus, create=False)
        if sid is None:
            return 0
        conn = self._conn()
        with conn:
            n = conn.execute("DELETE FROM scores WHERE set_id=?", (sid,)).rowcount
            conn.execute("DELETE FROM retrievals WHERE set_id=?", (sid,))
            conn.execute("DELETE FROM score_lists WHERE set_id=?", (sid,))
        return n

    def drop_costs(self, scorer: str) -> int:
        """Forget every cost record of ``scorer`` (on any corpus); returns how many were deleted."""
        conn = self._conn()
        with conn:
            return conn.execute("DELETE FROM costs WHERE scorer=?", (scorer,)).rowcount

    def scorers(self, corpus: str) -> dict[str, int]:
        """``{scorer id: stored scores}`` of every scorer with scores on ``corpus``."""
        return dict(self._conn().execute(
            "SELECT s.scorer, COUNT(*) FROM scores JOIN score_sets s ON scores.set_id = s.id "
            "WHERE s.corpus=? GROUP BY s.scorer ORDER BY s.scorer", (corpus,)).fetchall())

    def n_scores(self, scorer: str | None = None) -> int:
        if scorer is None:
            return self._conn().execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        return self._conn().execute(
            "SELECT COUNT(*) FROM scores JOIN score_sets ON scores.set_id = score_sets.id "
            "WHERE score_sets.scorer=?", (scorer,)).fetchone()[0]


def _or_null(x: float):
    """A float for SQLite, NULL for NaN (not measured)."""
    return None if x is None or x != x else float(x)


def is_locked(exc: sqlite3.Error) -> bool:
    """True for SQLite's "another connection holds the lock" errors (worth waiting for)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _wait_s() -> float:
    try:
        return max(0.0, float(os.environ.get("CASCADE_STORE_WAIT_S", STORE_WAIT_S)))
    except ValueError:
        return STORE_WAIT_S


def _guarded(method):
    """A store method whose SQLite "file is damaged" error becomes the store's recovery, and whose
    "database is locked" (after SQLite's own busy timeout) is tried again until the store's wait."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        started = time.monotonic()
        announced = False
        while True:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if is_locked(exc):
                    waited = time.monotonic() - started
                    limit = _wait_s()
                    if waited >= limit:
                        raise StoreBusyError(
                            f"the score store {self.path} stayed locked by another process's write for "
                            f"{waited:.0f} s ($CASCADE_STORE_WAIT_S={limit:.0f} s); nothing was lost: "
                            "run it again when the other run has finished") from None
                    if not announced:
                        announced = True
                        notice = (f"the score store {self.path} is being written by another process: "
                                  f"waiting (up to {limit:.0f} s, $CASCADE_STORE_WAIT_S)")
                        self.notices.append(notice)
                        if self._notify is not None:
                            self._notify(notice)
                    time.sleep(min(1.0, max(0.05, limit - waited)))
                    continue
                if not is_corruption(exc):
                    raise
                self._damaged_on_read(exc)
    return wrapper


for _name in ("put", "put_many", "get", "get_many", "put_list", "get_lists", "put_retrieval", "retrieval_depths",
              "record_costs", "cost_rows", "start_run", "runs", "score_provenance",
              "cost_provenance", "drop_scores", "drop_costs", "scorers", "n_scores"):
    setattr(ScoreStore, _name, _guarded(getattr(ScoreStore, _name)))
