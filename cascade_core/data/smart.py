"""SMART/Glasgow collections (Cranfield, CISI, CACM, MED ...): ``.I`` records and a qrels file.

Records start with ``.I <id>``; field markers on a line of their own (``.T`` title, ``.A``
authors, ``.B`` bibliography, ``.W`` text, ``.X`` cross-references, ...) start a field that
runs to the next marker. A repeated marker in one record appends to that field (CISI repeats
``.A`` once per author). Document title = ``.T`` (lines joined by spaces), text = ``.W``; the
other fields go into the metadata (``authors``, ``bibliography``, ``cross_references``, or the
lower-cased letter). Query text = ``.W`` (``.T`` when there is no ``.W``), spaces collapsed.
Numeric ids lose their leading zeros (``001`` -> ``1``) in records and qrels alike.

Folder convention (by content and name; files may be gzipped):

* files whose first line is ``.I ...`` are record files: the one whose name contains ``qry``,
  ``quer`` or ``topic`` holds the queries, the other one the documents (when several could be
  the documents, the one whose name contains ``all``);
* the qrels file is a file whose name contains ``rel`` and whose first line is numbers only
  (``cranqrel``, ``CISI.REL``; ``cranqrel.readme`` is not).

Query numbering: Cranfield's ``cran.qry`` numbers its queries 001, 002, 004 ... but its qrels
number them by position in the file (1..225). When the qrels' query ids match more queries by
position than by ``.I`` id, queries are renumbered by position (counted in the report as
``queries numbered by position (as the qrels do)``).

Grades (made "higher = more relevant", as nDCG needs):

==========================================  ================================================
qrels line                                  grade
==========================================  ================================================
``q d g`` (3 columns, Cranfield scale)      1 -> 4, 2 -> 3, 3 -> 2, 4 -> 1 (``5 - g``);
                                            5 ("no interest") and -1 ("no relevance") -> 0,
                                            i.e. judged non-relevant; anything else: error
``q d`` or ``q d 0 0.0`` (CISI, CACM)       1 for every listed pair (all are relevant)
``q 0 d g`` (4 columns, 2nd always 0: MED)  ``g`` as given (TREC layout)
==========================================  ================================================

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "mini.all").write_text(".I 1\\n.T\\nwings\\n.A\\nwright,o.\\n.W\\nlift of wings .\\n")
>>> _ = (folder / "mini.qry").write_text(".I 001\\n.W\\nwhat lifts\\na wing .\\n")
>>> _ = (folder / "minirel").write_text("1 1 2\\n")
>>> ds = load_smart(folder)
>>> ds.corpus["1"]
Document(id='1', text='lift of wings .', title='wings', metadata={'authors': 'wright,o.'})
>>> ds.queries.text_of("1"), ds.qrels.judgments
('what lifts a wing .', {'1': {'1': 3}})
"""

from __future__ import annotations

import codecs
import gzip
import re
from pathlib import Path

from ..errors import DataError
from .tabular import several
from .types import Corpus, Dataset, ValidationReport
from .validation import (Judgment, RawDoc, RawQuery, ReportBuilder, build_corpus, build_qrels, build_queries,
                         corpus_report, finish, numbered_lines, parse_grade, read_text)

FIELD_NAMES = {
    "A": "authors",
    "B": "bibliography",
    "X": "cross_references",
    "K": "keywords",
    "N": "date",
    "C": "categories",
}
CRANFIELD_GRADES = {1: 4, 2: 3, 3: 2, 4: 1, 5: 0, -1: 0}

_MARK = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")
_QUERY_NAME = re.compile(r"qry|quer|topic", re.I)


def _norm(token: str) -> str:
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and short: int() of 5,000 digits raises.
    return str(int(token)) if token.isascii() and token.isdigit() and len(token) <= 30 else token


def first_line(path: Path) -> str:
    """The first non-blank line of a file (only its first 4 KiB are read), or ''."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, EOFError):
        return ""
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    for line in head.decode("utf-8", errors="replace").split("\n"):
        if line.strip():
            return line.strip()
    return ""


def is_record_file(path: Path) -> bool:
    return bool(re.match(r"^\.I(\s|$)", first_line(path)))


def is_qrels_file(path: Path) -> bool:
    if "rel" not in path.name.lower():
        return False
    tokens = first_line(path).split()
    return len(tokens) >= 2 and all(parse_grade(t) is not None or _is_float(t) for t in tokens)


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def parse_records(path: Path) -> list[tuple[str, int, dict[str, list[str]]]]:
    """``(id, line, {field letter: lines})`` for every ``.I`` record of a file."""
    file = str(path)
    records: list[tuple[str, int, dict[str, list[str]]]] = []
    fields: dict[str, list[str]] | None = None
    current: list[str] | None = None
    for n, line in numbered_lines(read_text(path)):
        m = _MARK.match(line.rstrip())
        if m:
            letter, rest = m.group(1), (m.group(2) or "").strip()
            if letter == "I":
                if not rest:
                    raise DataError("'.I' without a record id", file, n)
                fields, current = {}, None
                records.append((_norm(rest.split()[0]), n, fields))
                continue
            if fields is None:
                raise DataError(f"field '.{letter}' before the first '.I <id>' line", file, n)
            current = fields.setdefault(letter, [])
            if rest:
                current.append(rest)
            continue
        if not line.strip():
            if current is not None:
                current.append("")
            continue
        if fields is None:
            raise DataError("expected a '.I <id>' line to start the first record", file, n)
        if current is None:
            raise DataError(
                f"text in record {records[-1][0]!r} before any field marker (.T, .W ...)", file, n
            )
        current.append(line.rstrip())
    return records


def _joined(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def read_smart_docs(path: Path) -> list[RawDoc]:
    file = str(path)
    docs = []
    for doc_id, line, fields in parse_records(path):
        title = " ".join(" ".join(fields.get("T", [])).split())
        metadata = {
            FIELD_NAMES.get(k, k.lower()): _joined(v)
            for k, v in fields.items()
            if k not in "TW" and _joined(v)
        }
        docs.append(RawDoc(doc_id, title, _joined(fields.get("W", [])), metadata, file, line))
    return docs


def read_smart_queries(path: Path) -> list[RawQuery]:
    file = str(path)
    out = []
    for qid, line, fields in parse_records(path):
        lines = fields.get("W") or fields.get("T") or []
        out.append(RawQuery(qid, " ".join(" ".join(lines).split()), file, line))
    return out


def read_smart_qrels(path: Path, rb: ReportBuilder) -> list[Judgment]:
    """Judgments with grades mapped as in the module docstring."""
    file = str(path)
    rows = [(n, line.split()) for n, line in numbered_lines(read_text(path)) if line.strip()]
    if not rows:
        return []
    width = len(rows[0][1])
    if width not in (2, 3, 4):
        raise DataError(f"expected 2, 3 or 4 columns (query doc [grade]), found {width}", file, rows[0][0])
    for n, cols in rows:
        if len(cols) != width:
            raise DataError(f"{len(cols)} columns, but line {rows[0][0]} has {width}", file, n)
    trec_layout = width == 4 and all(cols[1] == "0" for _, cols in rows)
    out = []
    for n, cols in rows:
        if trec_layout:
            q, d, g = cols[0], cols[2], cols[3]
            grade = parse_grade(g)
            if grade is None:
                raise DataError(f"grade {g!r} is not an integer", file, n)
        elif width == 3:
            q, d, g = cols
            raw = parse_grade(g)
            if raw is None:
                raise DataError(f"grade {g!r} is not an integer", file, n)
            if raw not in CRANFIELD_GRADES:
                raise DataError(f"grade {raw} is outside the Cranfield scale (1..5, -1)", file, n)
            grade = CRANFIELD_GRADES[raw]
            if grade == 0:
                rb.note("judgments graded -1 or 5 (kept as non-relevant, grade 0)")
        else:
            q, d, grade = cols[0], cols[1], 1
        out.append(Judgment(_norm(q), _norm(d), grade, file, n))
    return out


def smart_files(folder: Path, skip=()) -> tuple[Path | None, Path | None, Path | None]:
    """``(documents, queries, qrels)`` files of a SMART folder (see the module docstring); a role in
    ``skip`` ("corpus", "queries", "qrels": named explicitly) is not looked for (None)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    records = [p for p in files if is_record_file(p)]
    queries = [p for p in records if _QUERY_NAME.search(p.name)]
    docs = [p for p in records if p not in queries]
    if len(docs) > 1:
        docs = [p for p in docs if "all" in p.name.lower()] or docs
    qrels = [p for p in files if p not in records and is_qrels_file(p)]
    found = {"corpus": docs, "queries": queries, "qrels": qrels}
    for role in skip:
        found[role] = []
    for role, paths in found.items():
        if len(paths) > 1:
            raise DataError(several(role, paths), file=str(folder))
    return tuple((found[role] or [None])[0] for role in ("corpus", "queries", "qrels"))


def is_smart_folder(folder: Path) -> bool:
    return any(is_record_file(p) for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def load_smart(folder: Path, split: str | None = None) -> Dataset:
    """Load a SMART/Glasgow folder (see the module docstring for conventions and grades)."""
    if split is not None:
        raise DataError(f"a SMART folder has no splits (asked for split {split!r})", file=str(folder))
    docs_path, queries_path, qrels_path = smart_files(folder)
    if docs_path is None:
        raise DataError(
            "no document file: expected a file of '.I' records (e.g. cran.all.1400, CISI.ALL)",
            file=str(folder),
        )
    rb = ReportBuilder()
    corpus = build_corpus(read_smart_docs(docs_path), rb, source=str(docs_path))
    raw_queries = read_smart_queries(queries_path) if queries_path else []
    judgments = read_smart_qrels(qrels_path, rb) if qrels_path else []
    judged = {j.query_id for j in judgments}
    by_id = len(judged & {q.id for q in raw_queries})
    by_position = len(judged & {str(i) for i in range(1, len(raw_queries) + 1)})
    if by_position > by_id:
        raw_queries = [q._replace(id=str(i)) for i, q in enumerate(raw_queries, 1)]
        rb.note("queries numbered by position (as the qrels do)", len(raw_queries))
    queries = build_queries(raw_queries, rb)
    qrels = build_qrels(judgments, corpus, queries, rb)
    return finish(folder.name, corpus, queries, qrels, rb, source=str(folder))


def load_smart_corpus(path: Path) -> tuple[Corpus, ValidationReport]:
    """A corpus alone from one file of ``.I`` records."""
    rb = ReportBuilder()
    corpus = build_corpus(read_smart_docs(path), rb, source=str(path))
    return corpus, corpus_report(corpus, rb)
