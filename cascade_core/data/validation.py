"""Checks shared by every loader: reading files, grouping warnings, building validated objects.

Each format module turns its files into plain records that remember where they came from
(:class:`RawDoc`, :class:`RawQuery`, :class:`Judgment`) and hands them to :func:`build_corpus`,
:func:`build_queries` and :func:`build_qrels`, so the same rules hold for every format:

* Fatal problems raise :class:`~cascade_core.errors.DataError` with file and line: a missing file,
  text that is not UTF-8 (line and byte offset given), a malformed line, a qrels grade that is not
  an integer, a corpus with no documents.
* Recoverable problems become warnings, grouped by kind (one :class:`Finding` per kind and file,
  with a count and the first location):

  - duplicate document id: the first is kept;
  - duplicate query id: the first is kept;
  - document with an empty text: kept (the title is still searchable);
  - document with neither title nor text: kept as well, so that judgments on it still count
    (it can never be found by content; Cranfield has two such documents, 471 and 995);
  - query with an empty text: dropped (with its judgments);
  - judgment naming an unknown query or an unknown document: dropped;
  - the same (query, document) pair judged twice: the **last** grade is kept, as pytrec_eval,
    ir_measures and ir_datasets do when they read the same file, so our metrics agree with theirs.

* A UTF-8 byte-order mark is stripped silently; Windows line ends are accepted.

>>> rb = ReportBuilder()
>>> corpus = build_corpus([RawDoc("d1", "", "Cats purr.", {}, "c.jsonl", 1),
...                        RawDoc("d1", "", "Dogs bark.", {}, "c.jsonl", 2)], rb)
>>> len(corpus), corpus["d1"].text
(1, 'Cats purr.')
>>> print(rb.findings[0])
warning: c.jsonl:2: duplicate document id 'd1' (first at line 1): kept the first
"""

from __future__ import annotations

import codecs
import csv
import gzip
import zlib
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from ..errors import DataError
from ..readback import cut
from .types import Corpus, Dataset, Document, Finding, Qrels, QuerySet, ValidationReport


class RawDoc(NamedTuple):
    id: str
    title: str
    text: str
    metadata: dict
    file: str
    line: int


class RawQuery(NamedTuple):
    id: str
    text: str
    file: str
    line: int


class Judgment(NamedTuple):
    query_id: str
    doc_id: str
    grade: int
    file: str
    line: int


class ReportBuilder:
    """Collects warnings (grouped by kind and file) and informational counts while loading."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.info: dict[str, int] = {}
        self._groups: dict[tuple[str, str | None], Finding] = {}

    def warn(self, kind: str, message: str, file: str | None = None, line: int | None = None) -> None:
        """Record one occurrence of a problem; later occurrences of the same kind only count."""
        found = self._groups.get((kind, file))
        if found is None:
            found = Finding("warning", message, file, line)
            self._groups[(kind, file)] = found
            self.findings.append(found)
        else:
            found.count += 1

    def note(self, name: str, n: int = 1) -> None:
        """Add to an informational count (shown in the report's counts, not as a warning)."""
        if n:
            self.info[name] = self.info.get(name, 0) + n

    def report(self, counts: dict[str, int]) -> ValidationReport:
        return ValidationReport(findings=list(self.findings), counts={**counts, **self.info})


# ---------------------------------------------------------------------------------------------
# Reading files


def base_name(path: Path) -> str:
    """The file name without a trailing ``.gz``, lower-cased: ``Corpus.JSONL.gz`` -> ``corpus.jsonl``."""
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def suffix(path: Path) -> str:
    """The extension that says what is inside, ignoring ``.gz``: ``corpus.jsonl.gz`` -> ``.jsonl``."""
    return Path(base_name(path)).suffix


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when the name ends in ``.gz``."""
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a folder, expected a file", file=str(path)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(
            f"not a valid gzip file ({e}); decompress it or fix its name", file=str(path)
        ) from None
    except OSError as e:
        raise DataError(f"cannot read file: {e.strerror or e}", file=str(path)) from None


def read_text(path: Path) -> str:
    """The file decoded as UTF-8 (a byte-order mark is dropped); a clear error if it is not UTF-8."""
    raw = read_bytes(path)
    offset = 0
    if raw.startswith(codecs.BOM_UTF8):
        raw, offset = raw[3:], 3
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-encode it as UTF-8, "
            f"e.g. iconv -f UTF-16 -t UTF-8 {path.name} > {path.name}.utf8",
            file=str(path),
            line=1,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        where = " of the decompressed text" if path.name.lower().endswith(".gz") else ""
        raise DataError(
            f"not valid UTF-8: byte 0x{raw[e.start]:02x} at byte offset {e.start + offset}{where} "
            f"(column {column}); re-encode the file as UTF-8, e.g. "
            f"iconv -f latin1 -t UTF-8 {path.name} > {path.name}.utf8",
            file=str(path),
            line=line,
        ) from None


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` pairs, line ends (``\\n`` or ``\\r\\n``) removed.

    Splits on ``\\n`` only (not ``str.splitlines``), so line numbers match what editors show.
    """
    for n, line in enumerate(text.split("\n"), 1):
        yield n, line[:-1] if line.endswith("\r") else line


# ---------------------------------------------------------------------------------------------
# Relevance judgments files (TREC, BEIR and plain qrels share one reader)

_QUERY_COLUMNS = {"query-id", "query_id", "queryid", "qid", "query", "topic", "topic_id", "topic-id"}
_DOC_COLUMNS = {
    "corpus-id",
    "corpus_id",
    "doc-id",
    "doc_id",
    "docid",
    "docno",
    "doc",
    "document",
    "document_id",
}
_GRADE_COLUMNS = {"score", "grade", "relevance", "rel", "label", "judgment", "judgement"}


MAX_GRADE = 1000   # relevance grades are small integers; 1e300 is damage, not a grade


def parse_grade(token: str) -> int | None:
    """An integer grade from ``"2"``, ``"-1"`` or ``"1.0"``; None when it is not an integer within
    ``-MAX_GRADE..MAX_GRADE`` (``"1e300"`` and a number of 5,000 digits are not grades).

    >>> parse_grade("2"), parse_grade("1.0"), parse_grade("1e300"), parse_grade("9" * 5000), parse_grade("x")
    (2, 1, None, None, None)
    """
    if len(token) > 30:   # int() of a long digit string costs time, and past 4,300 digits raises
        return None
    try:
        value = int(token)
    except ValueError:
        try:
            as_float = float(token)
        except ValueError:
            return None
        if not as_float.is_integer():
            return None
        value = int(as_float)
    return value if -MAX_GRADE <= value <= MAX_GRADE else None


def split_columns(line: str, is_csv: bool) -> list[str]:
    if is_csv:
        return [c.strip() for c in next(csv.reader([line]))]
    return [c.strip() for c in line.split("\t")] if "\t" in line else line.split()


def parse_qrels(path: Path) -> list[Judgment]:
    """Read a qrels file: ``query doc grade`` (3 columns) or TREC ``query iter doc grade`` (4).

    Columns are separated by tabs (when the line has one), by whitespace, or by commas in a
    ``.csv`` file. An optional first header line is recognised by its names (``query-id``/``qid``,
    ``corpus-id``/``doc_id``, ``score``/``grade`` ...; its grade column is not a number) and used
    to find the columns. Blank lines and lines starting with ``#`` are skipped.
    """
    file = str(path)
    is_csv = suffix(path) == ".csv"
    out: list[Judgment] = []
    order: tuple[int, int, int] | None = None  # from a header: (query, doc, grade) positions
    first = True
    for n, line in numbered_lines(read_text(path)):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = split_columns(line, is_csv)
        if first:
            first = False
            if len(cols) in (3, 4) and not _is_number(cols[-1]) and _is_header(cols):
                order = _header_order(cols)
                continue
        if order is not None:
            if len(cols) <= max(order):
                raise DataError(
                    f"expected {max(order) + 1} columns as in the header, found {len(cols)}", file, n
                )
            q, d, g = (cols[i] for i in order)
        elif len(cols) == 3:
            q, d, g = cols
        elif len(cols) == 4:
            q, _, d, g = cols
        else:
            raise DataError(
                f"expected 3 columns (query doc grade) or 4 (query iteration doc grade), found {len(cols)}",
                file,
                n,
            )
        grade = parse_grade(g)
        if grade is None:
            raise DataError(f"grade {cut(g)!r} is not an integer from -{MAX_GRADE:,} to {MAX_GRADE:,}", file, n)
        if not q or not d:
            raise DataError("empty query id or document id", file, n)
        out.append(Judgment(q, d, grade, file, n))
    return out


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _is_header(cols: list[str]) -> bool:
    known = _QUERY_COLUMNS | _DOC_COLUMNS | _GRADE_COLUMNS
    return any(c.lower() in known for c in cols)


def _header_order(cols: list[str]) -> tuple[int, int, int]:
    names = [c.lower() for c in cols]

    def find(known: set[str], default: int) -> int:
        return next((i for i, c in enumerate(names) if c in known), default)

    default = (0, 1, 2) if len(cols) == 3 else (0, 2, 3)
    order = (
        find(_QUERY_COLUMNS, default[0]),
        find(_DOC_COLUMNS, default[1]),
        find(_GRADE_COLUMNS, default[2]),
    )
    return order if len(set(order)) == 3 else default


# ---------------------------------------------------------------------------------------------
# Building validated objects


def _duplicate(record, seen: dict, rb: ReportBuilder, what: str) -> bool:
    """Whether ``record``'s id came before (warned once, with where the first one is, and counted:
    the first is kept); else it is remembered in ``seen``."""
    first = seen.get(record.id)
    if first is None:
        seen[record.id] = record
        return False
    where = f"line {first.line}" if first.file == record.file else f"{first.file}:{first.line}"
    rb.warn(f"duplicate-{'doc' if what == 'document' else what}",
            f"duplicate {what} id {record.id!r} (first at {where}): kept the first", record.file, record.line)
    rb.note(f"duplicate {'documents' if what == 'document' else 'queries'} (dropped)")
    return True


def build_corpus(records: Iterable[RawDoc], rb: ReportBuilder, *, source: str | None = None) -> Corpus:
    """A :class:`Corpus` from raw records: duplicates and empty documents handled as documented."""
    docs: list[Document] = []
    seen: dict[str, RawDoc] = {}
    for r in records:
        if _duplicate(r, seen, rb, "document"):
            continue
        if not r.text.strip():
            if r.title.strip():
                rb.warn(
                    "empty-text",
                    f"document {r.id!r} has an empty text: kept (its title is searchable)",
                    r.file,
                    r.line,
                )
            else:
                rb.warn(
                    "empty-doc",
                    f"document {r.id!r} has neither title nor text: kept so that judgments on it still count "
                    "(it can never be found by content)",
                    r.file,
                    r.line,
                )
                rb.note("empty documents (kept)")
        _space_in_id(r, rb, "document")
        docs.append(Document(r.id, r.text, r.title, r.metadata))
    if not docs:
        raise DataError("the corpus holds no documents", file=source)
    corpus = Corpus(docs)
    corpus.source = source or ""   # where it was read (vectors shipped beside it are looked for there)
    return corpus


def _space_in_id(r, rb: ReportBuilder, what: str) -> None:
    """Warn about an id with a space in it: kept (every page works), but TREC files split their
    lines on spaces, so qrels or a run naming it cannot be written (said now, not at export)."""
    if any(c.isspace() for c in r.id):
        rb.warn(f"space-in-{what}-id", f"{what} id {cut(r.id)!r} contains a space: kept, but TREC qrels and run files "
                "cannot hold it (exporting judgments as TREC qrels is refused for such ids)", r.file, r.line)


def build_queries(records: Iterable[RawQuery], rb: ReportBuilder) -> QuerySet:
    """A :class:`QuerySet`: duplicate ids keep the first, empty queries are dropped."""
    queries: dict[str, str] = {}
    lines: dict[str, RawQuery] = {}
    for r in records:
        if _duplicate(r, lines, rb, "query"):
            continue
        if not r.text.strip():
            rb.warn("empty-query", f"query {r.id!r} has an empty text: dropped", r.file, r.line)
            rb.note("empty queries (dropped)")
            continue
        _space_in_id(r, rb, "query")
        queries[r.id] = r.text
    return QuerySet(queries)


def build_qrels(judgments: Iterable[Judgment], corpus: Corpus, queries: QuerySet, rb: ReportBuilder) -> Qrels:
    """:class:`Qrels` keeping only judgments on known queries and documents (last grade wins)."""
    table: dict[str, dict[str, int]] = {}
    where: dict[tuple[str, str], Judgment] = {}
    for j in judgments:
        if j.query_id not in queries:
            hint = " (no queries were loaded)" if len(queries) == 0 else ""
            rb.warn(
                "unknown-query",
                f"judgment names query {j.query_id!r}, which is not among the queries{hint}: dropped",
                j.file,
                j.line,
            )
            rb.note("judgments dropped (unknown query)")
            continue
        if j.doc_id not in corpus:
            rb.warn(
                "unknown-doc",
                f"judgment names document {j.doc_id!r}, which is not in the corpus: dropped",
                j.file,
                j.line,
            )
            rb.note("judgments dropped (unknown document)")
            continue
        grades = table.setdefault(j.query_id, {})
        key = (j.query_id, j.doc_id)
        prev = where.get(key)
        if prev is not None:
            at = f"line {prev.line}" if prev.file == j.file else f"{prev.file}:{prev.line}"
            if prev.grade == j.grade:
                rb.warn(
                    "duplicate-judgment",
                    f"pair ({j.query_id!r}, {j.doc_id!r}) judged again with the same grade (first at {at})",
                    j.file,
                    j.line,
                )
            else:
                rb.warn(
                    "conflicting-judgment",
                    f"pair ({j.query_id!r}, {j.doc_id!r}) judged {j.grade} here and {prev.grade} at {at}: "
                    "kept the last",
                    j.file,
                    j.line,
                )
            rb.note("duplicate judgments (last kept)")
        where[key] = j
        grades[j.doc_id] = j.grade
    return Qrels(table)


def finish(
    name: str,
    corpus: Corpus,
    queries: QuerySet,
    qrels: Qrels,
    rb: ReportBuilder,
    *,
    source: str,
    split: str | None = None,
) -> Dataset:
    """Assemble the :class:`Dataset` and its report, with the standard counts first."""
    dataset = Dataset(name=name, corpus=corpus, queries=queries, qrels=qrels, source=source, split=split)
    relevant = sum(len(qrels.relevant(q)) for q in qrels.query_ids)
    counts = {
        "documents": len(corpus),
        "queries": len(queries),
        "judged queries": len(dataset.judged_queries),
        "judged pairs": qrels.n_pairs,
        "relevant pairs": relevant,
    }
    dataset.report = rb.report(counts)
    return dataset


def corpus_report(corpus: Corpus, rb: ReportBuilder) -> ValidationReport:
    return rb.report({"documents": len(corpus)})
