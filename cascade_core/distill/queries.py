"""Where a student's training queries come from, and the rule that they are never evaluated on.

Three sources: a split of the dataset (its judged queries, with their judgments), a query file
(``.jsonl`` with ``_id``/``text``, or ``.tsv``/``.csv`` with a header), or queries generated
from documents (a sentence of a random document; that document is its one judged-relevant
answer). Whatever the source, training queries that are also held-out queries (by id or by
text) are never trained on: :func:`exclude_held_out` leaves out a few duplicates and refuses a
real overlap (:func:`check_disjoint`).

>>> from cascade_core.data import QuerySet
>>> check_disjoint(QuerySet({"1": "a"}), QuerySet({"2": "b"}))
>>> check_disjoint(QuerySet({"1": "cats purr"}), QuerySet({"9": "Cats  purr"}))
Traceback (most recent call last):
...
cascade_core.errors.CascadeError: the training queries overlap the evaluation queries (1 shared, e.g. '1'): train on other queries (another split, a query file, or --generate)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Corpus, Qrels, QuerySet, load_dataset
from ..data.tabular import read_queries
from ..errors import CascadeError


@dataclass
class TrainingQueries:
    """Queries to train on, their judgments (possibly none) and where they came from."""

    queries: QuerySet
    qrels: Qrels
    source: str        # for people and distilled.json: "split 'train' of scifact (809 queries)"
    kind: str          # split | file | generated

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "queries": len(self.queries),
                "judged_pairs": self.qrels.n_pairs}


def split_queries(path: str | Path, split: str, fmt: str = "auto") -> TrainingQueries:
    """The judged queries of one split of a dataset folder (BEIR ``qrels/<split>.tsv``)."""
    ds = load_dataset(path, split=split, fmt=fmt)
    if not len(ds.qrels):
        raise CascadeError(f"split {split!r} of {ds.name} has no judged queries to train on")
    qs = ds.judged_queries
    return TrainingQueries(qs, ds.qrels, f"split {split!r} of {ds.name} ({len(qs)} queries)", "split")


def file_queries(path: str | Path) -> TrainingQueries:
    """Queries from a ``.jsonl`` (``_id``, ``text``) or ``.csv``/``.tsv`` file (no judgments)."""
    p = Path(path)
    if not p.is_file():
        raise CascadeError(f"query file {path}: no such file")
    raw = read_queries(p)
    qs = QuerySet({q.id: q.text for q in raw if q.text.strip()})
    if not len(qs):
        raise CascadeError(f"query file {path}: no queries in it")
    return TrainingQueries(qs, Qrels({}), f"query file {p.name} ({len(qs)} queries)", "file")


SENTENCE = re.compile(r"(?<=[.!?])\s+")


def generated_queries(corpus: Corpus, n: int, seed: int = 0, min_words: int = 6,
                      max_words: int = 30) -> TrainingQueries:
    """``n`` queries made from documents: one sentence of a random document each, that
    document judged relevant (grade 1). Cheap and crude: claims and questions written by
    people are better; this is for collections that have none.

    >>> from cascade_core.data import Corpus
    >>> c = Corpus.from_records([{"id": "d1", "text": "Short. Cats purr when they are content and calm."}])
    >>> tq = generated_queries(c, 1)
    >>> tq.queries.text_of("gen-d1-0"), tq.qrels.relevant("gen-d1-0")
    ('Cats purr when they are content and calm.', {'d1': 1})
    """
    rng = np.random.default_rng(seed)
    queries, judgments = {}, {}
    order = rng.permutation(len(corpus))
    for pos in order:
        if len(queries) >= n:
            break
        doc = corpus.documents[int(pos)]
        sentences = [s for s in SENTENCE.split(doc.text)
                     if min_words <= len(s.split()) <= max_words]
        if not sentences:
            continue
        i = int(rng.integers(len(sentences)))
        qid = f"gen-{doc.id}-{i}"
        queries[qid] = sentences[i].strip()
        judgments[qid] = {doc.id: 1}
    if not queries:
        raise CascadeError("no document has a sentence to make a query of")
    return TrainingQueries(QuerySet(queries), Qrels(judgments),
                           f"{len(queries)} queries generated from documents (seed {seed})", "generated")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


MAX_SHARED = 0.05   # a larger share of training queries also held out is a mistake, not a duplicate


def shared_queries(train: QuerySet, held_out: QuerySet) -> list[str]:
    """Training queries that are also held-out queries, by id or by (case- and space-folded) text."""
    held_texts = {_norm(held_out.text_of(q)) for q in held_out.ids}
    return [q for q in train.ids if q in held_out or _norm(train.text_of(q)) in held_texts]


def check_disjoint(train: QuerySet, held_out: QuerySet) -> None:
    """Refuse (one line) training queries that are also evaluation queries, by id or by text."""
    shared = shared_queries(train, held_out)
    if shared:
        raise CascadeError(f"the training queries overlap the evaluation queries ({len(shared)} shared, "
                           f"e.g. {shared[0]!r}): train on other queries (another split, a query file, "
                           "or --generate)")


def exclude_held_out(training: TrainingQueries, held_out: QuerySet) -> TrainingQueries:
    """``training`` without the queries it shares with ``held_out``, saying how many were left out.

    Public collections repeat a few queries across splits (SciFact: 2 train claims have the text of
    a test claim), so a handful are left out of training, never evaluated on; a larger overlap
    (over 5%: training on the evaluation split) is refused as :func:`check_disjoint` does.

    >>> t = TrainingQueries(QuerySet({str(i): f"q{i}" for i in range(40)}), Qrels({}), "file", "file")
    >>> kept = exclude_held_out(t, QuerySet({"x": "Q3 "}))
    >>> len(kept.queries), kept.source
    (39, "file; 1 left out (also an evaluation query, e.g. '3')")
    """
    shared = shared_queries(training.queries, held_out)
    if not shared:
        return training
    if len(shared) > MAX_SHARED * len(training.queries):
        check_disjoint(training.queries, held_out)
    kept = training.queries.subset(q for q in training.queries.ids if q not in set(shared))
    note = f"{len(shared)} left out (also {'an evaluation query' if len(shared) == 1 else 'evaluation queries'}, " \
           f"e.g. {shared[0]!r})"
    return TrainingQueries(kept, training.qrels, f"{training.source}; {note}", training.kind)
