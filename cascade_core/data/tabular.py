"""Plain JSONL and CSV: single corpus files, and folders of corpus, queries and qrels.

Records
    * documents: an id (key or column ``_id``, ``id``, ``docid`` or ``doc_id``), ``text``
      (required; ``contents`` is accepted too), optional ``title``; a ``metadata`` object and
      every other key or column go into the document's metadata.
    * queries: an id (``_id``, ``id``, ``qid`` or ``query_id``) and ``text`` (or ``query``).
    * qrels: ``query_id doc_id grade`` (or TREC's ``query 0 doc grade``), with or without a header,
      tab/space separated (``.tsv``, ``.txt``) or comma separated (``.csv``).

    A ``.csv`` file is comma separated, a ``.tsv`` file tab separated; both need a header line.
    Every file may be gzipped (``corpus.jsonl.gz``).

Folder convention
    ``corpus.jsonl`` | ``corpus.csv`` | ``corpus.tsv`` (required), ``queries.jsonl`` |
    ``queries.csv`` | ``queries.tsv`` (optional), ``qrels.tsv`` | ``qrels.csv`` | ``qrels.txt``
    (optional). A corpus alone is a valid dataset with no queries and no judgments.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "corpus.csv").write_text("id,title,text,year\\nd1,Cats,Cats purr.,2020\\n")
>>> _ = (folder / "queries.jsonl").write_text('{"id": "q1", "text": "purring"}\\n')
>>> _ = (folder / "qrels.tsv").write_text("q1\\td1\\t2\\n")
>>> ds = load_tabular_folder(folder)
>>> ds.corpus["d1"], ds.qrels.relevant("q1")
(Document(id='d1', text='Cats purr.', title='Cats', metadata={'year': '2020'}), {'d1': 2})
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import DataError
from ..readback import Unreadable, cut, loads
from .types import Corpus, Dataset, QuerySet, ValidationReport
from .validation import (RawDoc, RawQuery, ReportBuilder, build_corpus, build_qrels, build_queries, corpus_report,
                         finish, numbered_lines, parse_qrels, read_text, suffix)

DOC_ID_KEYS = ("_id", "id", "docid", "doc_id")
QUERY_ID_KEYS = ("_id", "id", "qid", "query_id")
DOC_TEXT_KEYS = ("text", "contents")
QUERY_TEXT_KEYS = ("text", "query")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv")


# ---------------------------------------------------------------------------------------------
# Rows -> raw records


def _first_key(keys: tuple[str, ...], present) -> str | None:
    return next((k for k in keys if k in present), None)


def _id_value(value, file: str, line: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DataError(f"id must be a string or a number, found {cut(json.dumps(value))}", file, line)
    text = str(value).strip()
    if not text:
        raise DataError("empty id", file, line)
    return text


def _text_value(value, what: str, file: str, line: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DataError(f"{what!r} must be a string, found {type(value).__name__}", file, line)


def _id_and_text_keys(rec: dict, id_keys, text_keys, what: str, file: str, line: int) -> tuple[str, str]:
    """The keys holding a record's id and text (the first of each list found), or a DataError."""
    id_key = _first_key(id_keys, rec)
    if id_key is None:
        raise DataError(
            f"no {what} id: expected a key {' or '.join(repr(k) for k in id_keys[:2])} "
            f"(found keys: {', '.join(map(repr, rec)) or 'none'})",
            file,
            line,
        )
    text_key = _first_key(text_keys, rec)
    if text_key is None:
        raise DataError(f"no 'text' field (found keys: {', '.join(map(repr, rec))})", file, line)
    return id_key, text_key


def _doc_from_mapping(rec: dict, file: str, line: int) -> RawDoc:
    id_key, text_key = _id_and_text_keys(rec, DOC_ID_KEYS, DOC_TEXT_KEYS, "document", file, line)
    metadata: dict = {}
    meta = rec.get("metadata")
    if isinstance(meta, dict):
        metadata.update(meta)
    elif meta not in (None, ""):
        metadata["metadata"] = meta
    for k, v in rec.items():
        if k not in (id_key, text_key, "title", "metadata"):
            metadata[k] = v
    return RawDoc(
        _id_value(rec[id_key], file, line),
        _text_value(rec.get("title"), "title", file, line).strip(),
        _text_value(rec[text_key], text_key, file, line),
        metadata,
        file,
        line,
    )


def _query_from_mapping(rec: dict, file: str, line: int) -> RawQuery:
    id_key, text_key = _id_and_text_keys(rec, QUERY_ID_KEYS, QUERY_TEXT_KEYS, "query", file, line)
    return RawQuery(
        _id_value(rec[id_key], file, line), _text_value(rec[text_key], text_key, file, line), file, line
    )


# ---------------------------------------------------------------------------------------------
# Files


def iter_jsonl(path: Path):
    """``(line number, object)`` for every non-blank line; invalid JSON is a DataError."""
    file = str(path)
    for n, line in numbered_lines(read_text(path)):
        if not line.strip():
            continue
        try:   # strict and bounded: no Infinity, no 5,000-digit number, no nesting past the stack
            rec = loads(line)
        except Unreadable as e:
            raise DataError(str(e), file, n) from None
        if not isinstance(rec, dict):
            raise DataError(f"expected a JSON object per line, found {type(rec).__name__}", file, n)
        yield n, rec


def iter_csv(path: Path, required: tuple[tuple[str, ...], ...]):
    """``(line number, row dict)`` for every data row of a CSV/TSV file with a header."""
    file = str(path)
    text = read_text(path)
    # Tab-separated by name, or by a tab in the header (a file recognised by content, any name).
    delimiter = "\t" if suffix(path) == ".tsv" or "\t" in text.lstrip().split("\n", 1)[0] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(f"malformed CSV: {e}", file, start) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = [c.strip() for c in row]
            present = set(header)
            for options in required:
                if not present.intersection(options):
                    raise DataError(
                        f"no {' or '.join(repr(o) for o in options)} column in the header "
                        f"(found columns: {', '.join(map(repr, header))})",
                        file,
                        start,
                    )
            continue
        if len(row) != len(header):
            raise DataError(f"{len(row)} fields, but the header has {len(header)} columns", file, start)
        yield start, dict(zip(header, row))
    if header is None:
        raise DataError("empty file: expected a header line", file)


def _is_csv(path: Path, fmt: str | None) -> bool:
    return fmt == "csv" if fmt in ("csv", "jsonl") else suffix(path) in CSV_SUFFIXES


def read_docs(path: Path, fmt: str | None = None) -> list[RawDoc]:
    """Raw document records from a ``.jsonl`` or ``.csv``/``.tsv`` file (maybe gzipped).

    ``fmt`` (``"jsonl"`` or ``"csv"``) overrides the file name's extension.
    """
    file = str(path)
    if _is_csv(path, fmt):
        rows = iter_csv(path, (DOC_ID_KEYS, DOC_TEXT_KEYS))
    else:
        rows = iter_jsonl(path)
    return [_doc_from_mapping(rec, file, n) for n, rec in rows]


def read_queries(path: Path, fmt: str | None = None) -> list[RawQuery]:
    """Raw query records from a ``.jsonl`` or ``.csv``/``.tsv`` file (maybe gzipped).

    ``fmt`` (``"jsonl"`` or ``"csv"``) overrides the file name's extension.
    """
    file = str(path)
    if _is_csv(path, fmt):
        rows = iter_csv(path, (QUERY_ID_KEYS, QUERY_TEXT_KEYS))
    else:
        rows = iter_jsonl(path)
    return [_query_from_mapping(rec, file, n) for n, rec in rows]


def load_corpus(path: Path, fmt: str | None = None) -> tuple[Corpus, ValidationReport]:
    """A corpus alone from one JSONL or CSV file."""
    rb = ReportBuilder()
    corpus = build_corpus(read_docs(path, fmt), rb, source=str(path))
    return corpus, corpus_report(corpus, rb)


# ---------------------------------------------------------------------------------------------
# Folders


def find_one(folder: Path, names: tuple[str, ...], role: str = "candidate") -> Path | None:
    """The one file in ``folder`` called one of ``names`` (each maybe with ``.gz``), or None.

    Two candidates (``corpus.jsonl`` and ``corpus.csv``, or ``x`` and ``x.gz``) are ambiguous:
    a DataError asks to name one (``corpus=``/``queries=``/``qrels=``; ``--corpus``,
    ``--queries-file``, ``--qrels`` on the command line), which then wins over the folder's.
    """
    wanted = {n.lower() for n in names} | {n.lower() + ".gz" for n in names}
    found = sorted(p for p in folder.iterdir() if p.name.lower() in wanted and p.is_file())
    if len(found) > 1:
        raise DataError(several(role, found), file=str(folder))
    return found[0] if found else None


FLAGS = {"corpus": "--corpus", "queries": "--queries-file", "qrels": "--qrels"}


def several(role: str, found) -> str:
    """The one message for two files that could fill one role.

    >>> several("qrels", [Path("qrels.tsv"), Path("qrels.txt")])
    'several qrels files: qrels.tsv, qrels.txt; name the one to use (--qrels FILE), or keep only one'
    """
    how = f"name the one to use ({FLAGS[role]} FILE), or keep only one" if role in FLAGS else "keep only one"
    return f"several {role} files: {', '.join(p.name for p in found)}; {how}"


CORPUS_NAMES = ("corpus.jsonl", "corpus.csv", "corpus.tsv")
QUERIES_NAMES = ("queries.jsonl", "queries.csv", "queries.tsv")
QRELS_NAMES = ("qrels.tsv", "qrels.csv", "qrels.txt")


def load_tabular_folder(folder: Path, split: str | None = None) -> Dataset:
    """Load a folder of ``corpus.*`` and optional ``queries.*`` and ``qrels.*`` (see module doc)."""
    if split is not None:
        raise DataError(
            f"a JSONL/CSV folder has no splits (asked for split {split!r}); "
            "use a BEIR layout (qrels/<split>.tsv) for splits",
            file=str(folder),
        )
    corpus_path = find_one(folder, CORPUS_NAMES)
    if corpus_path is None:
        raise DataError(
            f"no corpus file: expected one of {', '.join(CORPUS_NAMES)} (maybe .gz)", file=str(folder)
        )
    rb = ReportBuilder()
    corpus = build_corpus(read_docs(corpus_path), rb, source=str(corpus_path))
    queries_path = find_one(folder, QUERIES_NAMES)
    queries = build_queries(read_queries(queries_path), rb) if queries_path else QuerySet({})
    qrels_path = find_one(folder, QRELS_NAMES)
    qrels = build_qrels(parse_qrels(qrels_path) if qrels_path else [], corpus, queries, rb)
    return finish(folder.name, corpus, queries, qrels, rb, source=str(folder))
