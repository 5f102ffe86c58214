"""TREC collections: SGML documents, topics and qrels.

Folder convention (names are case-insensitive; every file may be gzipped)::

    docs/             every file in it (recursively; hidden files skipped) holds <DOC> records
    *.trec, *.sgml, *.sgm   document files may also sit at the top of the folder
    topics*           topics files (topics.301-350, topics.txt, topics.tsv ...)   optional
    qrels*            qrels files (qrels.301-350.txt, qrels.txt ...)              optional

Other top-level files are recognised by their content (:mod:`.sniff`): ``<top>`` records are
topics whatever the name (``queries.trec``), ``qid 0 docid grade`` lines are qrels, ``<DOC>``
records are documents.

A folder is recognised as TREC when it has a ``docs/`` folder or top-level ``*.trec`` /
``*.sgml`` / ``*.sgm`` files. Several topics or qrels files are read in name order and merged.

Documents: ``<DOC><DOCNO>id</DOCNO><TITLE>..</TITLE><TEXT>..</TEXT></DOC>``. The title comes
from ``<TITLE>`` (or ``<HEADLINE>``/``<HEAD>``), the text from every ``<TEXT>`` element joined
(without one, from whatever else the record holds); other simple upper-case elements
(``<DATE>``, ``<AUTHOR>`` ...) go into the metadata under their lower-cased tag. Inner tags are removed and
SGML entities (``&amp;``) decoded.

Topics: the classic SGML form (``<top> <num> Number: 301 <title> ... <desc> ... </top>``,
closing tags optional; the query text is the ``<title>``, or ``<desc>`` when the title is empty)
or a plain ``qid<TAB>text`` file (a line without a tab splits at its first space).

Qrels: ``qid 0 docid grade``, whitespace separated; grades are kept as given (0 and negative
grades are judged non-relevant).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "news.trec").write_text(
...     "<DOC>\\n<DOCNO> FT-1 </DOCNO>\\n<TITLE>Cats</TITLE>\\n<TEXT>\\nCats &amp; dogs.\\n</TEXT>\\n</DOC>\\n")
>>> _ = (folder / "topics.301").write_text("<top>\\n<num> Number: 301\\n<title> pets\\n<desc> Description:\\nAbout pets.\\n</top>\\n")
>>> _ = (folder / "qrels.301").write_text("301 0 FT-1 1\\n")
>>> ds = load_trec(folder)
>>> ds.corpus["FT-1"].title, ds.corpus["FT-1"].text, ds.queries.text_of("301"), ds.qrels.relevant("301")
('Cats', 'Cats & dogs.', 'pets', {'FT-1': 1})
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..errors import DataError
from .sniff import sniff
from .types import Corpus, Dataset, ValidationReport
from .validation import (Judgment, RawDoc, RawQuery, ReportBuilder, base_name, build_corpus, build_qrels,
                         build_queries, corpus_report, finish, numbered_lines, parse_qrels, read_text, suffix)

DOC_SUFFIXES = (".trec", ".sgml", ".sgm")

_DOCNO = re.compile(r"<DOCNO>(.*?)</DOCNO>", re.I | re.S)
_TITLE = re.compile(r"<(TITLE|HEADLINE|HEAD)>(.*?)</\1>", re.I | re.S)
_TEXT = re.compile(r"<TEXT>(.*?)</TEXT>", re.I | re.S)
_ELEMENT = re.compile(r"<([A-Z][A-Z0-9_.-]*)>([^<]*)</\1>", re.S)  # upper case, as TREC tags are
_ANY_TAG = re.compile(r"<[^>]*>")
_BLANKS = re.compile(r"[ \t\r\f\v]+")


def _clean(s: str) -> str:
    """Tags removed, entities decoded, runs of spaces collapsed, lines stripped."""
    s = html.unescape(_ANY_TAG.sub(" ", s))
    lines = (_BLANKS.sub(" ", line).strip() for line in s.split("\n"))
    return "\n".join(line for line in lines if line)


def _blocks(text: str, tag: str, file: str):
    """``(line, body)`` for every ``<tag> ... </tag>`` block; unbalanced tags are DataErrors."""
    pattern = re.compile(rf"<(/?){tag}>", re.I)
    line, last, open_at, open_line = 1, 0, None, 0
    for m in pattern.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        if not m.group(1):
            if open_at is not None:
                raise DataError(
                    f"<{tag}> opened again before the <{tag}> of line {open_line} was closed", file, line
                )
            open_at, open_line = m.end(), line
        else:
            if open_at is None:
                raise DataError(f"</{tag}> without a matching <{tag}>", file, line)
            yield open_line, text[open_at : m.start()]
            open_at = None
    if open_at is not None:
        raise DataError(f"<{tag}> never closed (file ends first)", file, open_line)


def read_trec_docs(path: Path, rb: ReportBuilder | None = None) -> list[RawDoc]:
    """Raw documents of one SGML file (maybe gzipped)."""
    file = str(path)
    docs = []
    for line, body in _blocks(read_text(path), "DOC", file):
        m = _DOCNO.search(body)
        if m is None:
            raise DataError("<DOC> without a <DOCNO>", file, line)
        doc_id = _clean(m.group(1))
        if not doc_id:
            raise DataError("empty <DOCNO>", file, line)
        rest = body[: m.start()] + body[m.end() :]
        t = _TITLE.search(rest)
        title = " ".join(_clean(t.group(2)).split("\n")) if t else ""
        if t:
            rest = rest[: t.start()] + rest[t.end() :]
        texts = _TEXT.findall(rest)
        rest = _TEXT.sub(" ", rest)
        metadata = {}
        for e in _ELEMENT.finditer(rest):
            value = _clean(e.group(2))
            if value:
                metadata.setdefault(e.group(1).lower(), value)
        text = "\n".join(_clean(x) for x in texts) if texts else _clean(_ELEMENT.sub(" ", rest))
        docs.append(RawDoc(doc_id, title, text.strip(), metadata, file, line))
    if not docs and rb is not None:
        rb.warn("no-docs", "no <DOC> records in this file: ignored", file)
    return docs


_FIELD = re.compile(r"<(/?)([A-Za-z]+)[^>]*>")
_PREFIXES = {"num": r"number:", "title": r"topic:", "desc": r"description:", "narr": r"narrative:"}


def _topic_fields(body: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    marks = [m for m in _FIELD.finditer(body)]
    for i, m in enumerate(marks):
        if m.group(1):
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        name = m.group(2).lower()
        value = " ".join(html.unescape(body[m.end() : end]).split())
        prefix = _PREFIXES.get(name)
        if prefix:
            value = re.sub(rf"^{prefix}\s*", "", value, flags=re.I)
        fields.setdefault(name, value)
    return fields


def read_topics(path: Path) -> list[RawQuery]:
    """Queries from a TREC topics file: SGML ``<top>`` records or ``qid<TAB>text`` lines."""
    file = str(path)
    text = read_text(path)
    if re.search(r"<top>", text, re.I):
        out = []
        for line, body in _blocks(text, "top", file):
            fields = _topic_fields(body)
            qid = fields.get("num", "")
            if not qid:
                raise DataError("topic without a <num>", file, line)
            out.append(RawQuery(qid, fields.get("title") or fields.get("desc", ""), file, line))
        return out
    out = []
    for n, line in numbered_lines(text):
        if not line.strip():
            continue
        qid, _, query = line.partition("\t") if "\t" in line else line.strip().partition(" ")
        if not qid.strip():
            raise DataError("empty query id", file, n)
        out.append(RawQuery(qid.strip(), query.strip(), file, n))
    return out


def _visible(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".")


def trec_files(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """``(document files, topics files, qrels files)`` following the folder convention."""
    top = sorted(p for p in folder.iterdir() if _visible(p))
    docs = (
        sorted(p for p in (folder / "docs").rglob("*") if _visible(p)) if (folder / "docs").is_dir() else []
    )
    topics, qrels = [], []
    for p in top:
        name = base_name(p)
        if name.startswith("topics"):
            topics.append(p)
        elif name.startswith("qrels"):
            qrels.append(p)
        else:  # by content: queries.trec holds <top> records, judgments.txt qrels lines ...
            kind, _ = sniff(p)
            if kind == "trec-topics":
                topics.append(p)
            elif kind in ("trec-qrels", "beir-qrels"):
                qrels.append(p)
            elif kind == "trec-docs" or (kind is None and suffix(p) in DOC_SUFFIXES):
                docs.append(p)
    return docs, topics, qrels


def is_trec_folder(folder: Path) -> bool:
    return (folder / "docs").is_dir() or any(
        suffix(p) in DOC_SUFFIXES or sniff(p)[0] == "trec-docs" for p in folder.iterdir() if _visible(p)
    )


def load_trec(folder: Path, split: str | None = None) -> Dataset:
    """Load a TREC folder (see the module docstring for the convention)."""
    if split is not None:
        raise DataError(f"a TREC folder has no splits (asked for split {split!r})", file=str(folder))
    doc_files, topic_files, qrels_files = trec_files(folder)
    if not doc_files:
        raise DataError(
            "no document files: expected a docs/ folder or *.trec / *.sgml files", file=str(folder)
        )
    rb = ReportBuilder()
    raw = [d for p in doc_files for d in read_trec_docs(p, rb)]
    corpus = build_corpus(raw, rb, source=str(folder))
    queries = build_queries([q for p in topic_files for q in read_topics(p)], rb)
    judgments: list[Judgment] = [j for p in qrels_files for j in parse_qrels(p)]
    qrels = build_qrels(judgments, corpus, queries, rb)
    return finish(folder.name, corpus, queries, qrels, rb, source=str(folder))


def load_trec_corpus(path: Path) -> tuple[Corpus, ValidationReport]:
    """A corpus alone from one SGML document file."""
    rb = ReportBuilder()
    corpus = build_corpus(read_trec_docs(path, rb), rb, source=str(path))
    return corpus, corpus_report(corpus, rb)
