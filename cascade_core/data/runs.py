"""Runs: another system's ranked lists (an engine's first pass, a reranker's scores), read from a file.

A run names, per query id, documents and their scores. Three forms, each optionally gzipped:

* TREC (``.run``, ``.trec``, ``.txt``, or any file whose lines have six columns): ``qid Q0 docid
  rank score tag``, whitespace separated, what trec_eval, PyTerrier, ranx, Anserini and this
  tool's own exports write;
* JSON lines (``.jsonl``): one object per line with a query id (``qid``, ``query_id``,
  ``query-id``), a document id (``docid``, ``doc_id``, ``corpus-id``) and a ``score``, and
  optionally ``latency_ms``: what the engine took for that query;
* Parquet (``.parquet``): the same columns.

Each query's list is ordered by score, highest first; documents with equal scores keep the
file's order (a run exported with rounded scores reads back in the order it was written). A
line naming a (query, document) pair a second time is refused with its file and line: which of
two scores is the run's cannot be guessed. Numbers must be finite.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "bm25.run"
>>> _ = path.write_text("q1 Q0 d3 1 9.5 bm25\\nq1 Q0 d1 2 7.0 bm25\\nq1 Q0 d2 3 7.0 bm25\\nq2 Q0 d1 1 3.2 bm25\\n")
>>> run = read_run(path)
>>> run.lists["q1"], run.format, run.pairs
([('d3', 9.5), ('d1', 7.0), ('d2', 7.0)], 'trec', 4)
>>> _ = path.write_text("q1 Q0 d3 1 9.5 bm25\\nq1 Q0 d3 2 7.0 bm25\\n")
>>> read_run(path)   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cascade_core.errors.DataError: .../bm25.run:2: query q1 names document d3 a second time (first on line 1): ...
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, require
from ..readback import Unreadable, cut, loads
from .validation import base_name, numbered_lines, read_bytes, read_text

QUERY_KEYS = ("qid", "query_id", "query-id", "queryid", "query")
DOC_KEYS = ("docid", "doc_id", "corpus-id", "corpus_id", "docno", "doc")
LATENCY_KEYS = ("latency_ms",)
MAX_ID = 500   # characters of a query or document id


@dataclass
class Run:
    """A run read from a file: ``lists[qid]`` is ``[(doc id, score), ...]`` best first; ``latency_ms``
    the engine's own time per query where the file gives it; ``fingerprint`` hashes the file's
    bytes (a changed file is another run: its scores are stored apart)."""

    path: str
    format: str
    lists: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def pairs(self) -> int:
        return sum(len(v) for v in self.lists.values())


def run_format(path: Path) -> str:
    """``trec``, ``jsonl`` or ``parquet``, from the name (``.gz`` aside); TREC when the name says nothing.

    >>> run_format(Path("a.jsonl.gz")), run_format(Path("b.parquet")), run_format(Path("bm25.run"))
    ('jsonl', 'parquet', 'trec')
    """
    ext = Path(base_name(path)).suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(ext, "trec")


def read_run(path: str | Path) -> Run:
    """The run in ``path`` (see the module); a :class:`~cascade_core.errors.DataError` names the
    file and line of the first thing wrong."""
    path = Path(path).expanduser()
    fmt = run_format(path)
    raw = read_bytes(path)
    run = Run(str(path), fmt, fingerprint=hashlib.sha256(raw).hexdigest())
    rows = {"trec": _trec_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows}[fmt](path)
    seen: dict[tuple[str, str], int] = {}
    for line, qid, doc, score, latency in rows:
        for what, value in (("query", qid), ("document", doc)):
            if not value or len(value) > MAX_ID:
                raise DataError(f"a {what} id of {len(value):,} characters (1 to {MAX_ID} expected): "
                                f"{cut(value, 40)!r}", str(path), line)
        if not math.isfinite(score):
            raise DataError(f"score {score} for query {qid} and document {doc} is not a finite number",
                            str(path), line)
        first = seen.setdefault((qid, doc), line)
        if first != line:
            raise DataError(f"query {qid} names document {doc} a second time (first on line {first}): a run "
                            "gives each document one score per query", str(path), line)
        run.lists.setdefault(qid, []).append((doc, score))
        if latency is not None:
            if not math.isfinite(latency) or latency < 0:
                raise DataError(f"latency_ms {latency} for query {qid} is not a time in ms", str(path), line)
            run.latency_ms.setdefault(qid, latency)
    if not run.lists:
        raise DataError("holds no ranked documents", str(path))
    for qid, entries in run.lists.items():
        entries.sort(key=lambda e: -e[1])   # stable: equal scores keep the file's order
    return run


def _trec_rows(path: Path):
    text = read_text(path)
    for n, line in numbered_lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split()
        if len(cols) != 6:
            raise DataError(f"expected 6 columns (qid Q0 docid rank score tag), found {len(cols)}: "
                            f"{cut(line, 80)!r}", str(path), n)
        try:
            score = float(cols[4])
        except ValueError:
            raise DataError(f"score {cut(cols[4], 40)!r} is not a number", str(path), n) from None
        yield n, cols[0], cols[2], score, None


def _pick(record: dict, keys: tuple[str, ...], what: str, path: Path, line: int) -> str:
    key = next((k for k in keys if k in record), None)
    if key is None:
        raise DataError(f"no {what} ({' or '.join(keys)}) in {cut(sorted(record), 120)}", str(path), line)
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{key} must be text or a whole number, found {cut(repr(value), 40)}", str(path), line)
    return str(value).strip()


def _number(record: dict, key: str, path: Path, line: int, required: bool = True) -> float | None:
    if key not in record or record[key] is None:
        if required:
            raise DataError(f"no {key}", str(path), line)
        return None
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{key} must be a number, found {cut(repr(value), 40)}", str(path), line)
    return float(value)


def _record_row(record, path: Path, line: int):
    if not isinstance(record, dict):
        raise DataError("each line must be a JSON object with a query id, a document id and a score", str(path), line)
    latency = next((_number(record, k, path, line, required=False) for k in LATENCY_KEYS if k in record), None)
    return (line, _pick(record, QUERY_KEYS, "query id", path, line), _pick(record, DOC_KEYS, "document id", path, line),
            _number(record, "score", path, line), latency)


def _jsonl_rows(path: Path):
    text = read_text(path)
    for n, line in numbered_lines(text):
        if not line.strip():
            continue
        try:
            record = loads(line, max_chars=100_000)
        except Unreadable as exc:
            raise DataError(str(exc), str(path), n) from None
        yield _record_row(record, path, n)


def _parquet_rows(path: Path):
    pq = require("pyarrow.parquet", "reading a Parquet run")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own kinds for a damaged file
        raise DataError(f"not a readable Parquet file: {cut(exc, 160)}", str(path)) from None
    for n, record in enumerate(table.to_pylist(), 1):   # "line": the row, from 1
        yield _record_row(record, path, n)
