"""Recognise a data file by its content (its first few KiB), with its name as a hint.

:func:`sniff` names what a file holds, and how that was decided:

================  =====================================================================
``trec-docs``     ``<DOC>`` / ``<DOCNO>`` records (TREC SGML documents)
``trec-topics``   ``<top>`` / ``<num>`` records (TREC topics)
``trec-qrels``    lines ``qid 0 docid grade`` (or ``Q0``), whitespace separated
``beir-qrels``    a ``query-id<TAB>corpus-id<TAB>score`` header (or ``qid doc grade`` lines)
``jsonl-corpus``  JSON lines with an id and a text, and titles or long texts
``jsonl-queries`` JSON lines with an id and a short text (or the name says queries)
``csv-corpus``    a CSV/TSV header with an id and a text column, and titles or long texts
``csv-queries``   a CSV/TSV header with an id and a short text (or a ``query`` column)
``smart``         ``.I`` records (SMART/Glasgow; queries or documents by the name)
================  =====================================================================

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "queries.trec"
>>> _ = p.write_text("<top>\\n<num> Number: 301\\n<title> pets\\n</top>\\n")
>>> sniff(p)
('trec-topics', 'by content')
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from pathlib import Path

from ..readback import Unreadable, loads
from .validation import base_name, parse_grade

KINDS = {
    "trec-docs": "TREC documents",
    "trec-topics": "TREC topics",
    "trec-qrels": "TREC qrels",
    "beir-qrels": "qrels (query doc grade)",
    "jsonl-corpus": "JSONL corpus",
    "jsonl-queries": "JSONL queries",
    "csv-corpus": "CSV/TSV corpus",
    "csv-queries": "CSV/TSV queries",
    "smart": "SMART records",
}
ROLES = {  # what each kind can be used as
    "trec-docs": "corpus",
    "jsonl-corpus": "corpus",
    "csv-corpus": "corpus",
    "trec-topics": "queries",
    "jsonl-queries": "queries",
    "csv-queries": "queries",
    "trec-qrels": "qrels",
    "beir-qrels": "qrels",
}
_HEADER_NAMES = {"query-id", "query_id", "qid", "queryid", "topic", "topic_id"}
_SHORT_QUERY = 300  # characters: longer "texts" without titles look like documents


def head_text(path: Path, size: int = 8192) -> str:
    """The first ``size`` bytes of a file (decompressed when ``.gz``), decoded leniently; '' on error."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            raw = fh.read(size)
    except (OSError, EOFError, zlib.error):
        return ""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace")


def _lines(text: str, limit: int = 30) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut in the middle
    out = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return out[:limit]


def _qrels_kind(lines: list[str]) -> str | None:
    if not lines:
        return None
    first = [c.strip().lower() for c in re.split(r"\t|,", lines[0])] if ("\t" in lines[0] or "," in lines[0]) else lines[0].lower().split()
    body = lines[1:] if first and first[0] in _HEADER_NAMES else lines
    if body is not lines and not body:
        return "beir-qrels"
    cols = [ln.split() for ln in body]
    if all(len(c) == 4 and c[1] in ("0", "Q0", "q0") and parse_grade(c[3]) is not None for c in cols):
        return "trec-qrels"
    if all(len(c) == 3 and parse_grade(c[2]) is not None for c in cols):
        return "beir-qrels"   # with a header, or ``qid doc grade`` lines alone
    return None


def _jsonl_kind(lines: list[str], name: str) -> str | None:
    records = []
    for ln in lines:
        try:
            rec = loads(ln)
        except Unreadable:
            continue  # a line cut by the head's end (or not JSON: the reader then says which line)
        if not isinstance(rec, dict):
            return None
        records.append(rec)
    if not records:
        return None
    if "quer" in name or "topic" in name:
        return "jsonl-queries"
    if "corpus" in name or "doc" in name or "collection" in name:
        return "jsonl-corpus"
    if any(rec.get("title") for rec in records) or any("contents" in rec for rec in records):
        return "jsonl-corpus"
    if any("query" in rec or "qid" in rec or "query_id" in rec for rec in records):
        return "jsonl-queries"
    texts = [rec.get("text") for rec in records if isinstance(rec.get("text"), str)]
    if texts and max(len(t) for t in texts) <= _SHORT_QUERY:
        return "jsonl-queries"
    return "jsonl-corpus"


_ID_COLUMNS = {"_id", "id", "docid", "doc_id", "qid", "query_id"}
_TEXT_COLUMNS = {"text", "contents", "query"}


def _tabular_kind(text: str, name: str) -> str | None:
    """A CSV/TSV file with a header naming an id and a text column: corpus or queries.

    The same rule as JSON lines: a ``title`` or ``contents`` column, or long texts, make a corpus;
    a ``query`` column or short texts make queries; the name decides only where both could fit.
    """
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return None
    if len(rows) > 1:
        rows = rows[:-1]          # the last row may be cut by the head's end
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        return None
    header = [c.strip().lower() for c in rows[0]]
    if not _ID_COLUMNS.intersection(header) or not _TEXT_COLUMNS.intersection(header):
        return None
    body = [dict(zip(header, r)) for r in rows[1:] if len(r) == len(header)]
    if "quer" in name or "topic" in name:
        return "csv-queries"
    if "corpus" in name or "doc" in name or "collection" in name:
        return "csv-corpus"
    if "title" in header or "contents" in header:
        return "csv-corpus"
    if "query" in header:
        return "csv-queries"
    texts = [row.get("text", "") for row in body]
    if texts and max(len(t) for t in texts) <= _SHORT_QUERY:
        return "csv-queries"
    return "csv-corpus"


def sniff(path: Path) -> tuple[str | None, str]:
    """``(kind, how)``: the kind of data in ``path`` (a key of :data:`KINDS`, or None) and
    ``"by content"`` or ``"by name"`` (the name decided where the content was ambiguous)."""
    name = base_name(path)
    text = head_text(path)
    stripped = text.lstrip()
    tag = re.match(r"<\s*([A-Za-z]+)", stripped)  # SGML files start with their record tag
    if tag and tag.group(1).upper() in ("DOC", "DOCNO"):
        return "trec-docs", "by content"
    if tag and tag.group(1).upper() in ("TOP", "NUM"):
        return "trec-topics", "by content"
    if re.match(r"\.I(\s|$)", stripped):
        return "smart", ("by name" if re.search(r"qry|quer|topic", name) else "by content")
    lines = _lines(text)
    if stripped.startswith("{"):
        kind = _jsonl_kind(lines, name)
        if kind is not None:
            by_name = re.search(r"quer|topic|corpus|doc|collection", name)
            return kind, "by name" if by_name else "by content"
    kind = _qrels_kind(lines)
    if kind is not None:
        return kind, "by content"
    kind = _tabular_kind(text, name)
    if kind is not None:
        by_name = re.search(r"quer|topic|corpus|doc|collection", name)
        return kind, "by name" if by_name else "by content"
    return None, "by content"


def describe(path: Path) -> str:
    """``"queries.trec: TREC topics (by content)"``, or ``"x: not recognised"``."""
    kind, how = sniff(path)
    return f"{path.name}: {KINDS[kind]} ({how})" if kind else f"{path.name}: not recognised"
