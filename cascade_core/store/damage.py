"""Damaged files: how to recognise a broken SQLite file, and how to move one aside (never delete it).

The score store and the embedded vector database are SQLite files. A disk that filled up, a
copy cut short, or bytes overwritten make one unreadable; then the tool moves the file aside
(``scores.sqlite`` -> ``scores.sqlite.damaged-20260101-120000``, its ``-wal``/``-shm`` files
with it), starts a new one, and says in one message what was lost and where the old file went.
Nothing is deleted: the user may still recover rows from the moved copy with SQLite's tools.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp(); path = os.path.join(folder, "s.sqlite")
>>> with open(path, "wb") as f: _ = f.write(b"not a database at all" * 100)
>>> sqlite_damage(path)
'file is not a database'
>>> moved = move_aside(path, when="20260101-120000")
>>> moved.name, os.path.exists(path)
('s.sqlite.damaged-20260101-120000', False)
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

# SQLite's primary result codes for a broken file: SQLITE_CORRUPT and SQLITE_NOTADB.
CORRUPTION_CODES = {11, 26}
CORRUPTION_WORDS = ("malformed", "not a database", "corrupt")
SIDECARS = ("-wal", "-shm", "-journal")   # SQLite's companion files: they travel with the main file
# Integrity check on open costs about 4 ms per MB here (0.28 s on a 65 MB store of 1.36 M
# scores); above this size only the schema is read on open and damage is caught on reads.
QUICK_CHECK_MAX_BYTES = 512 * 2**20


def is_corruption(exc: BaseException) -> bool:
    """Whether a sqlite3 error says the file is damaged (not locked, not missing, not read-only).

    >>> is_corruption(sqlite3.DatabaseError("database disk image is malformed"))
    True
    >>> is_corruption(sqlite3.OperationalError("database is locked"))
    False
    """
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in CORRUPTION_CODES:
        return True
    return any(w in str(exc).lower() for w in CORRUPTION_WORDS)


def sqlite_damage(path: str | Path, full: bool | None = None) -> str | None:
    """Why the SQLite file at ``path`` is damaged, or None if it reads well (or does not exist).

    ``PRAGMA quick_check`` reads every page (cheap: see ``QUICK_CHECK_MAX_BYTES``); a larger file,
    unless ``full``, only has its header and schema read.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    if full is None:
        full = path.stat().st_size <= QUICK_CHECK_MAX_BYTES
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        return str(exc) if is_corruption(exc) else None
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        if full:
            rows = conn.execute("PRAGMA quick_check(20)").fetchall()
            if rows and rows[0][0] != "ok":
                lines = [ln.strip() for r in rows for ln in str(r[0]).splitlines()]
                problems = [ln for ln in lines if ln and not ln.startswith("***")] or lines
                more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
                return f"integrity check: {problems[0][:120]}{more}"
        return None
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_corruption(exc) else None
    finally:
        conn.close()


def count_rows(path: str | Path, table: str) -> int | None:
    """Rows of ``table`` in a (damaged) SQLite file, or None when that cannot be known."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()
    except (sqlite3.Error, OSError, TypeError):
        return None


def aside_path(path: str | Path, when: str | None = None) -> Path:
    """Where a damaged ``path`` goes: beside it, ``NAME.damaged-YYYYmmdd-HHMMSS`` (made unique)."""
    path = Path(path)
    stamp = when or time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 2
    while target.exists() or any(Path(f"{target}{s}").exists() for s in SIDECARS):
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    return target


def move_aside(path: str | Path, when: str | None = None) -> Path:
    """Rename ``path`` (a file or a folder) and its SQLite companion files aside; return the new path.

    Raises FileNotFoundError when ``path`` is already gone (another process moved it first).
    """
    path = Path(path)
    target = aside_path(path, when)
    os.replace(path, target)
    for suffix in SIDECARS:
        side = Path(f"{path}{suffix}")
        if side.exists():
            try:
                os.replace(side, f"{target}{suffix}")
            except OSError:
                pass
    return target


def scores_lost(n: int | None) -> str:
    """The words for what a damaged score store lost.

    >>> scores_lost(1200), scores_lost(None)
    ('1,200 stored scores', 'its stored scores (how many cannot be known: the file is unreadable)')
    """
    if n is None:
        return "its stored scores (how many cannot be known: the file is unreadable)"
    return f"{n:,} stored score{'s' if n != 1 else ''}"
