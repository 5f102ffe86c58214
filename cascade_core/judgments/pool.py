"""What to judge for one query: the pool of the current cascade, or only its holes.

* **pool** -- the union of every step's top ``depth`` (the first pass's, then each stage's),
  deduplicated and shuffled. The order is a deterministic function of the query id alone (not of
  any rank), so a judge cannot tell which stage ranked what, and the same query shows the same
  order after a refresh.
* **holes** -- only the documents of the cascade's final top 10 that nobody judged yet: on a
  sparsely judged collection they count as non-relevant, so a better reranker can score worse.

>>> pool = pool_from_rankings("q1", [["d1", "d2", "d3"], ["d3", "d9", "d1"]], depth=2)
>>> sorted(pool), pool == pool_from_rankings("q1", [["d9", "d3"], ["d2", "d1"]], depth=2)
(['d1', 'd2', 'd3', 'd9'], True)
>>> holes(["d1", "d2", "d3"], {"d2": 0})
['d1', 'd3']
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..data import Qrels
from ..errors import MissingScoresError

POOL, HOLES = "pool", "holes"
MODES = {POOL: "every step's top k", HOLES: "unjudged documents in the final top 10"}
HOLES_K = 10


def shuffled(doc_ids: Iterable[str], query_id: str) -> list[str]:
    """``doc_ids`` (deduplicated) in an order fixed by ``query_id`` alone: sorted first, so the
    order they came in (a rank) cannot show through, then shuffled with a seed from the query id.

    >>> shuffled(["b", "a", "c", "a"], "q1") == shuffled(["c", "b", "a"], "q1")
    True
    """
    docs = sorted(set(doc_ids))
    seed = int.from_bytes(hashlib.sha256(f"judge-pool\x1f{query_id}".encode()).digest()[:8], "big")
    random.Random(seed).shuffle(docs)
    return docs


def pool_from_rankings(query_id: str, rankings: Sequence[Sequence[str]], depth: int = 10) -> list[str]:
    """The union of each ranking's top ``depth``, deduplicated, in the query's shuffled order."""
    return shuffled((d for ranking in rankings for d in list(ranking)[: max(int(depth), 0)]), query_id)


def holes(final: Sequence[str], judged: dict | Iterable[str], k: int = HOLES_K) -> list[str]:
    """The documents of ``final``'s top ``k`` not in ``judged`` (any grade counts as judged), in
    ``final``'s order (the caller shuffles them: see :func:`judging_pool`)."""
    judged = set(judged)
    return [d for d in list(final)[:k] if d not in judged]


def step_rankings(run, q: int, depth: int | None = None) -> dict[str, list[str]]:
    """Each step's kept list (best first) for query row ``q`` of a :class:`CascadeRun`, as ids."""
    out = {}
    for step in run.steps:
        pos, valid = run.corpus_positions(step)
        ids = [run.matrix.doc_ids[p] for p, v in zip(pos[q].tolist(), valid[q].tolist()) if v]
        out[step.name] = ids if depth is None else ids[:depth]
    return out


@dataclass
class JudgingPool:
    """The documents to show a judge for one query, and where they came from (never per doc)."""

    query: str
    query_text: str
    doc_ids: list[str]                 # shuffled: see :func:`shuffled`
    mode: str = POOL
    depth: int = 10
    steps: list[str] = field(default_factory=list)   # the steps drawn from, in cascade order
    final_top: list[str] = field(default_factory=list)   # the cascade's final top 10 (for "holes")

    def __len__(self) -> int:
        return len(self.doc_ids)

    def judged(self, qrels: Qrels) -> list[str]:
        """The pool's documents that ``qrels`` grades (any grade)."""
        graded = qrels.judgments.get(self.query, {})
        return [d for d in self.doc_ids if d in graded]

    def next_unjudged(self, qrels: Qrels, skipped: Iterable[str] = ()) -> str | None:
        """The first document in pool order neither judged nor skipped (None: all done)."""
        graded, skipped = qrels.judgments.get(self.query, {}), set(skipped)
        return next((d for d in self.doc_ids if d not in graded and d not in skipped), None)

    def progress(self, qrels: Qrels) -> str:
        """``"7 of 23 judged for this query"``.

        >>> JudgingPool("q1", "", ["d1", "d2"]).progress(Qrels({"q1": {"d2": 1}}))
        '1 of 2 judged for this query'
        """
        return f"{len(self.judged(qrels))} of {len(self)} judged for this query"


def judging_pool(run, q: int, query_id: str, query_text: str = "", depth: int = 10, mode: str = POOL,
                 judged: Qrels | None = None) -> JudgingPool:
    """The pool (or the holes) of query row ``q`` of ``run`` (a simulated :class:`CascadeRun`).

    ``judged``: the relevance in force (dataset qrels merged with judgments made here), which
    "holes" leaves out."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    rankings = step_rankings(run, q)
    final = run.final_doc_ids(q)[:HOLES_K]
    if mode == HOLES:
        graded = (judged or Qrels({})).judgments.get(query_id, {})
        docs = shuffled(holes(final, graded), query_id)
    else:
        docs = pool_from_rankings(query_id, list(rankings.values()), depth)
    return JudgingPool(query_id, query_text, docs, mode, depth, list(rankings), final)


def pool_for_query(experiment, query_id: str, query_text: str, spec=None, depth: int = 10, mode: str = POOL,
                   progress=None, score: bool = True) -> JudgingPool:
    """The judging pool of one query under ``spec`` (default: the experiment's), read from the
    score store; a query never scored (typed here, or outside the judged set) is scored first and
    stored, so evaluating it later costs nothing (:meth:`Experiment.query_run`; ``score=False``:
    MissingScoresError instead).

    The holes are the final top 10's documents the *dataset's* qrels do not grade: judging them
    here does not shrink the list being judged (it shows them as judged instead)."""
    run = experiment.query_run(query_text, spec, progress, score=score)
    return judging_pool(run, 0, query_id, query_text, depth, mode, experiment.dataset.qrels)


def holes_of_all(experiment, spec=None, judged: Qrels | None = None, k: int = HOLES_K) -> list[tuple[str, str]]:
    """Every evaluated query's unjudged documents in the cascade's final top ``k`` as (query id,
    document) pairs, in query order (read from the score store: MissingScoresError when a query's
    scores are not stored yet). ``judged``: what counts as judged (default: the experiment's qrels)."""
    run = experiment.run(spec).run
    graded = (judged if judged is not None else experiment.qrels).judgments
    return [(qid, d) for q, qid in enumerate(run.matrix.query_ids)
            for d in holes(run.final_doc_ids(q), graded.get(qid, {}), k)]


def pools_of(experiment, queries: Sequence[tuple[str, str]], spec=None, depth: int = 10,
             missing: list | None = None) -> list[tuple[str, str]]:
    """The judging pools (every step's top ``depth``) of ``queries`` ((id, text) pairs) as (query id,
    document) pairs, each pool in its shuffled order (:func:`pool_for_query`), read from the score
    store only: a query whose scores are not stored is left out (its id appended to ``missing``)."""
    out = []
    for qid, text in queries:
        try:
            out += [(qid, d) for d in pool_for_query(experiment, qid, text, spec, depth, POOL, score=False).doc_ids]
        except MissingScoresError:
            if missing is not None:
                missing.append(qid)
    return out
