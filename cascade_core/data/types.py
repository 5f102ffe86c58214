"""The data model: a corpus, a query set, relevance judgments, and a validation report.

>>> corpus = Corpus.from_records([{"id": "d1", "title": "Cats", "text": "Cats purr."}])
>>> corpus.text_of("d1")
'Cats\\nCats purr.'
>>> qrels = Qrels({"q1": {"d1": 2}})
>>> qrels.relevant("q1")
{'d1': 2}
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """What scorers see: the title (when there is one), a newline, then the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text


class Corpus:
    """An ordered collection of documents with unique ids.

    Documents keep the order they were loaded in; ``index_of`` maps an id to that position,
    which the simulation uses as a compact integer key.
    """

    def __init__(self, documents: Iterable[Document]):
        self.documents: list[Document] = list(documents)
        self._index = {d.id: i for i, d in enumerate(self.documents)}
        if len(self._index) != len(self.documents):
            raise ValueError("Corpus ids must be unique (loaders report duplicates before this)")
        self._fingerprint: str | None = None
        self.source = ""   # the file (or folder) it was read from, when loaded from one

    @classmethod
    def from_records(cls, records: Iterable[dict]) -> "Corpus":
        return cls(
            Document(str(r["id"]), r.get("text", ""), r.get("title", "") or "", r.get("metadata", {}) or {})
            for r in records
        )

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._index

    def __getitem__(self, doc_id: str) -> Document:
        return self.documents[self._index[doc_id]]

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.documents]

    def index_of(self, doc_id: str) -> int:
        return self._index[doc_id]

    def text_of(self, doc_id: str) -> str:
        return self[doc_id].full_text

    @property
    def fingerprint(self) -> str:
        """A short hash of every id, title and text: equal content, equal fingerprint.

        Caches key on it, so a changed corpus never reuses stale scores or vectors.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            for d in self.documents:
                for part in (d.id, d.title, d.text):
                    h.update(part.encode("utf-8", "surrogatepass"))
                    h.update(b"\x1f")
                h.update(b"\x1e")
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


class QuerySet:
    """Queries by id, in load order.

    >>> QuerySet({"q1": "what do cats eat"}).text_of("q1")
    'what do cats eat'
    """

    def __init__(self, queries: dict[str, str]):
        self.queries: dict[str, str] = dict(queries)

    def __len__(self) -> int:
        return len(self.queries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.queries)

    def __contains__(self, qid: str) -> bool:
        return qid in self.queries

    @property
    def ids(self) -> list[str]:
        return list(self.queries)

    def text_of(self, qid: str) -> str:
        return self.queries[qid]

    def subset(self, qids: Iterable[str]) -> "QuerySet":
        return QuerySet({q: self.queries[q] for q in qids if q in self.queries})


class Qrels:
    """Graded relevance judgments: ``{query_id: {doc_id: grade}}``.

    A grade > 0 means relevant; grades <= 0 are kept (judged non-relevant) but never count
    as relevant in any metric.
    """

    def __init__(self, judgments: dict[str, dict[str, int]]):
        self.judgments = {q: dict(d) for q, d in judgments.items()}

    def __len__(self) -> int:
        return len(self.judgments)

    def __contains__(self, qid: str) -> bool:
        return qid in self.judgments

    @property
    def query_ids(self) -> list[str]:
        return list(self.judgments)

    def relevant(self, qid: str) -> dict[str, int]:
        """Judged-relevant documents (grade > 0) of one query."""
        return {d: g for d, g in self.judgments.get(qid, {}).items() if g > 0}

    def grade(self, qid: str, doc_id: str) -> int:
        return self.judgments.get(qid, {}).get(doc_id, 0)

    @property
    def n_pairs(self) -> int:
        return sum(len(d) for d in self.judgments.values())


Level = Literal["error", "warning"]


@dataclass
class Finding:
    """One problem found while loading: where it is and what is wrong."""

    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    count: int = 1  # how many times the same problem occurred (warnings are grouped)

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        more = f" ({self.count} occurrences; first shown)" if self.count > 1 else ""
        return f"{self.level}: {where}{self.message}{more}"


@dataclass
class ValidationReport:
    """What loading found: counts and findings. Recoverable problems are warnings."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        lines = [", ".join(f"{k}: {v}" for k, v in self.counts.items())]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


@dataclass
class Dataset:
    """A corpus, its queries and (optionally) judgments, as loaded from one place."""

    name: str
    corpus: Corpus
    queries: QuerySet
    qrels: Qrels
    report: ValidationReport = field(default_factory=ValidationReport)
    source: str = ""
    split: str | None = None
    files: dict[str, list[str]] = field(default_factory=dict)  # role -> "name: kind (how recognised)"

    @property
    def judged_queries(self) -> QuerySet:
        """Queries that have at least one relevant judgment: the ones metrics are computed on."""
        return self.queries.subset(q for q in self.qrels.query_ids if self.qrels.relevant(q))
