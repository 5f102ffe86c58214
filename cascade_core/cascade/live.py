"""Live runs: one ad-hoc query through the real models, end to end, every step timed.

Nothing is read from or written to the score store: this is what production would do. The
ordering logic is :func:`~cascade_core.cascade.simulate.simulate` itself (on a one-query score
matrix filled as the stages run), so a live run and a simulation cannot disagree on semantics;
for pointwise scorers they return the same lists, which validates the simulator, and the
measured times validate the cost model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import CascadeError
from .simulate import ScoreMatrix, simulate


@dataclass
class LiveStep:
    name: str
    doc_ids: list[str]       # survivors, best first
    scores: np.ndarray       # the score each survivor was ranked by
    n_scored: int            # candidates this step scored
    ms: float                # measured wall time of the step


@dataclass
class LiveResult:
    query: str
    steps: list[LiveStep]
    final_k: int

    @property
    def total_ms(self) -> float:
        return sum(s.ms for s in self.steps)

    @property
    def final_doc_ids(self) -> list[str]:
        """The last step's survivors cut at the spec's ``final_k``."""
        return self.steps[-1].doc_ids[: self.final_k]


def live_run(plan, query: str) -> LiveResult:
    """Run ``plan.spec`` for ``query`` with the real first pass and scorers, timing each step."""
    if not query or not query.strip():
        raise CascadeError("the query is empty: type something to search for")
    spec, corpus = plan.spec, plan.corpus
    plan.retriever.prepare()
    t0 = time.perf_counter()
    ids, first = plan.retriever.retrieve(query, spec.pool_size)
    timings = [time.perf_counter() - t0]
    n = max(len(ids), 1)
    docs = np.full((1, n), -1, dtype=np.int64)
    docs[0, : len(ids)] = [corpus.index_of(d) for d in ids]
    firsts = np.full((1, n), -np.inf)
    firsts[0, : len(ids)] = first
    matrix = ScoreMatrix(["live"], corpus.ids, docs, firsts, [np.full((1, n), np.nan) for _ in spec.stages],
                         plan.scorer_ids, [query])
    scored = [len(ids)]
    for s, scorer in enumerate(plan.scorers):
        cols, valid = simulate(spec.prefix(s), matrix).steps[-1].kept()
        cols = cols[0][valid[0]]
        cand = [corpus.documents[p].id for p in docs[0, cols]]
        scorer.prepare(cand)  # models and document vectors, outside the timed section
        t0 = time.perf_counter()
        scores = scorer.score(query, cand)
        timings.append(time.perf_counter() - t0)
        matrix.stage_scores[s][0, cols] = scores
        scored.append(len(cand))
    run = simulate(spec, matrix)
    steps = []
    for step, secs, n_scored in zip(run.steps, timings, scored):
        cols, valid = step.kept()
        keep_cols = cols[0][valid[0]]
        steps.append(LiveStep(step.name, [corpus.documents[p].id for p in docs[0, keep_cols]],
                              step.scores[0, : len(keep_cols)], n_scored, secs * 1000.0))
    return LiveResult(query, steps, spec.final_k)
