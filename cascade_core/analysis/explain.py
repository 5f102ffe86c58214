"""Why was it dropped? The path of one document through a simulated cascade.

Everything here reads a :class:`~cascade_core.cascade.simulate.CascadeRun` (pure, no model call):

* :func:`document_path` -- one document's rank and score at every step, the cut-off it faced, its
  margins (how many ranks and how much score it missed by) and the step that dropped it;
* :func:`relevant_paths` -- those paths for every judged-relevant document of a query;
* :func:`beaten_by` -- the candidates ranked above it where it was dropped;
* :func:`keep_needed` -- the cut-off that would have let it through, and at what predicted latency;
  :func:`keeps_to_final` -- every cut-off to raise for it to reach the final list;
* :func:`lost_by_stage` -- across the query set, where the relevant documents are lost;
* :func:`highlight_spans` -- a text cut into segments, query terms (stemmed) marked.

Steps are the first pass, each stage, then ``"final"``: the last stage's list cut at ``final_k``.
The first pass "ranks" its whole stored list (``N`` deep) and keeps the pool, so a document at
BM25 rank 130 with a pool of 100 is "rank 130, cut-off 100"; one absent from the stored list was
"not retrieved in the first pass's top N" (its rank is unknown).

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
>>> from cascade_core.scorers import ScorerConfig
>>> m = ScoreMatrix(["q1"], ["a", "b", "c", "d"], np.array([[0, 1, 2, 3]]),
...                 first=np.array([[4.0, 3.0, 2.0, 1.0]]),
...                 stage_scores=[np.array([[0.9, 0.1, 0.5, 0.7]])])
>>> spec = CascadeSpec(ScorerConfig("bm25"), pool_size=3,
...                    stages=[StageSpec(ScorerConfig("bi-encoder"), keep=2)], final_k=1)
>>> run = simulate(spec, m)
>>> path = document_path(run, 0, "b")
>>> path.describe()
'dropped at bi-encoder: rank 3, cut-off 2 (1 rank and 0.4 in score short)'
>>> document_path(run, 0, "d").describe()
'dropped at first pass: rank 4, cut-off 3 (1 rank and 1 in score short)'
>>> keep_needed(run, path).spec.describe()
'bm25 -> 3 -> bi-encoder -> 3 -> final 1'
>>> highlight_spans("Stem cells divide.", "dividing cell")
[('Stem ', False), ('cells', True), (' ', False), ('divide', True), ('.', False)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..cascade.simulate import CascadeRun, StageResult, simulate
from ..cascade.spec import CascadeSpec
from ..data import Corpus, Qrels
from ..data.text import Tokenizer, get_tokenizer
from ..errors import CascadeError, MissingScoresError
from ..latency.model import CostModel, LatencyReport, predict_spec_latency
from .evaluation import Relevance

FINAL = "final"


# -- one document's path ----------------------------------------------------------------------

@dataclass(frozen=True)
class StepPosition:
    """Where one document stood at one step, for one query."""

    step: str
    keep: int                      # the cut-off this step applies
    n_in: int                      # candidates entering this step (first pass: the stored list)
    reached: bool                  # the document was among them
    rank: int | None               # 1-based rank in this step's order (None: not reached, or not retrieved)
    score: float | None            # the (combined) score the step ranked by
    raw: float | None              # the step's own scorer output
    cutoff_score: float | None     # the score of the last candidate kept

    @property
    def survived(self) -> bool:
        return self.rank is not None and self.rank <= self.keep

    @property
    def rank_margin(self) -> int | None:
        """``rank - keep``: > 0 is how many ranks it missed by, <= 0 its headroom."""
        return None if self.rank is None else self.rank - self.keep

    @property
    def score_margin(self) -> float | None:
        """The last kept candidate's score minus this one's: > 0 when it was dropped."""
        if self.score is None or self.cutoff_score is None:
            return None
        return self.cutoff_score - self.score


@dataclass(frozen=True)
class DocumentPath:
    """One document's way through every step of a run, for one query."""

    query: int                     # row of the query in the run
    query_id: str
    doc_id: str
    grade: int                     # its judged grade (0: not judged relevant)
    in_corpus: bool
    retrieved: bool                # present in the first pass's stored list
    depth: int                     # how deep that list is stored (N)
    steps: tuple[StepPosition, ...]   # first pass, each stage, then "final"

    @property
    def dropped_at(self) -> str | None:
        """The step that dropped it; None when it is in the final list."""
        return next((s.step for s in self.steps if not s.survived), None)

    @property
    def survived(self) -> bool:
        return self.dropped_at is None

    @property
    def final_rank(self) -> int | None:
        return self.steps[-1].rank if self.survived else None

    def at(self, step: str) -> StepPosition:
        for s in self.steps:
            if s.step == step:
                return s
        raise CascadeError(f"no step named {step!r}; steps: {', '.join(s.step for s in self.steps)}")

    def describe(self) -> str:
        """One line: where it was dropped and by how much, or its final rank."""
        if not self.in_corpus:
            return "not in the corpus (judged, but no such document was loaded)"
        if self.survived:
            return f"kept: final rank {self.final_rank}"
        s = self.at(self.dropped_at)
        if s.rank is None:
            return f"not retrieved in the first pass's top {self.depth} (cut-off {s.keep})"
        ranks = f"{s.rank_margin} rank{'s' if s.rank_margin != 1 else ''}"
        score = "" if s.score_margin is None else f" and {s.score_margin:.4g} in score"
        return f"dropped at {s.step}: rank {s.rank}, cut-off {s.keep} ({ranks}{score} short)"


def step_names(run: CascadeRun) -> list[str]:
    """The first pass, each stage, then ``"final"``."""
    return [s.name for s in run.steps] + [FINAL]


def document_path(run: CascadeRun, query: int, doc_id: str, grade: int = 0) -> DocumentPath:
    """The path of ``doc_id`` through ``run`` for the query in row ``query``."""
    _check_query(run, query)
    position = _position(run, doc_id)
    if position is None:
        raise CascadeError(f"unknown document id {doc_id!r}: it is not in the corpus")
    return _path(run, query, doc_id, position, grade)


def relevant_paths(run: CascadeRun, qrels: Qrels, query: int) -> list[DocumentPath]:
    """Paths of every judged-relevant document of a query (never-retrieved ones too).

    Ordered by how far each got: the final list first (by rank), then those dropped late before
    those dropped early.
    """
    _check_query(run, query)
    qid = run.matrix.query_ids[query]
    paths = [_path(run, query, d, _position(run, d), g) for d, g in qrels.relevant(qid).items()]

    def how_far(p: DocumentPath):
        survived = sum(s.survived for s in p.steps)
        last = p.steps[min(survived, len(p.steps) - 1)]
        return (-survived, last.rank if last.rank is not None else np.inf, p.doc_id)

    return sorted(paths, key=how_far)


def query_index(run: CascadeRun, query_id: str) -> int:
    """The row of ``query_id`` in ``run`` (a one-line error when it is not there)."""
    try:
        return run.matrix.query_ids.index(query_id)
    except ValueError:
        raise CascadeError(f"unknown query id {query_id!r}: not among the {len(run.matrix.query_ids)} "
                           "queries evaluated") from None


def _path(run: CascadeRun, query: int, doc_id: str, position: int | None, grade: int) -> DocumentPath:
    m = run.matrix
    hit = np.flatnonzero(m.docs[query] == position) if position is not None else np.array([], int)
    col = int(hit[0]) if len(hit) else None
    steps, reached = [], True
    for step in run.steps + [run.final]:
        n_in = int(step.n_in[query])
        rank = _rank_in(step, query, col) if reached and col is not None else None
        at = None if rank is None else rank - 1
        keep = int(step.keep_per_query[query])   # an adaptive cut-off's count for this query
        n_kept = min(keep, n_in)
        steps.append(StepPosition(
            step.name, keep, n_in, reached, rank,
            None if at is None else float(step.scores[query, at]),
            None if at is None else float(step.raw[query, at]),
            float(step.scores[query, n_kept - 1]) if n_kept > 0 else None))
        reached = reached and rank is not None and rank <= keep
    return DocumentPath(query, m.query_ids[query], doc_id, int(grade), position is not None, col is not None,
                        int((m.docs[query] >= 0).sum()), tuple(steps))


def _rank_in(step: StageResult, query: int, col: int) -> int | None:
    where = np.flatnonzero((step.order[query] == col) & step.valid[query])
    return int(where[0]) + 1 if len(where) else None


def _position(run: CascadeRun, doc_id: str) -> int | None:
    # A dict over the corpus ids, built once per matrix: many lookups per page render.
    m = run.matrix
    cache = getattr(m, "_explain_positions", None)
    if cache is None or len(cache) != len(m.doc_ids):
        cache = {d: i for i, d in enumerate(m.doc_ids)}
        m._explain_positions = cache
    return cache.get(doc_id)


def _check_query(run: CascadeRun, query: int) -> None:
    if not 0 <= query < len(run.matrix.query_ids):
        raise CascadeError(f"query row {query} is out of range (0..{len(run.matrix.query_ids) - 1})")


def _step_index(run: CascadeRun, step: str | int) -> int:
    names = step_names(run)
    if isinstance(step, (int, np.integer)):
        if not 0 <= step < len(names):
            raise CascadeError(f"step {step} is out of range (0..{len(names) - 1})")
        return int(step)
    if step not in names:
        raise CascadeError(f"no step named {step!r}; steps: {', '.join(names)}")
    return names.index(step)


# -- who beat it ------------------------------------------------------------------------------

def ranking_at(run: CascadeRun, query: int, step: str | int, ranks, relevance: Relevance | None = None,
               ) -> pd.DataFrame:
    """The candidates at the given 1-based ``ranks`` of one step's order, for one query.

    Columns: rank, doc_id, score (what the step ranked by), raw (its scorer's output), kept,
    and grade when ``relevance`` is given (``<NA>`` for a document the qrels never judged: unjudged
    is not "grade 0"). Ranks past the list's end are skipped.
    """
    _check_query(run, query)
    i = _step_index(run, step)
    st = (run.steps + [run.final])[i]
    n_in = int(st.valid[query].sum())
    ranks = [int(r) for r in ranks if 1 <= int(r) <= n_in]
    at = np.asarray(ranks, dtype=int) - 1
    cols = st.order[query, at]
    out = pd.DataFrame({
        "rank": ranks,
        "doc_id": [run.matrix.doc_ids[p] for p in run.matrix.docs[query, cols]],
        "score": st.scores[query, at].astype(float),
        "raw": st.raw[query, at].astype(float),
        "kept": np.asarray(ranks) <= st.keep,
    })
    if relevance is not None:
        grades = relevance.grades[query, cols].astype(int)
        judged = relevance.judged[query, cols] if relevance.judged is not None else np.ones(len(cols), dtype=bool)
        out["grade"] = pd.array([int(g) if j else pd.NA for g, j in zip(grades, judged)], dtype="Int64")
    return out


def beaten_by(run: CascadeRun, query: int, step: str | int, doc_id: str, limit: int = 10,
              relevance: Relevance | None = None) -> pd.DataFrame:
    """The candidates ranked above ``doc_id`` at ``step``, with their scores.

    For a dropped document: the last ``limit`` kept candidates and up to ``limit`` candidates
    between the cut-off and it (the ones it would have had to pass first). For a kept one: the
    ``limit`` just above it. A never-retrieved document counts as ranked just below the stored
    list. Columns as :func:`ranking_at`.
    """
    i = _step_index(run, step)
    path = document_path(run, query, doc_id)
    pos = path.steps[i]
    if not pos.reached:
        raise CascadeError(f"{doc_id!r} never reached {pos.step}: it was dropped at {path.dropped_at}")
    rank = pos.rank if pos.rank is not None else pos.n_in + 1
    if rank > pos.keep:
        last_kept = min(pos.keep, pos.n_in)
        ranks = list(range(max(1, last_kept - limit + 1), last_kept + 1))
        ranks += list(range(max(pos.keep + 1, rank - limit), rank))
    else:
        ranks = list(range(max(1, rank - limit), rank))
    return ranking_at(run, query, i, ranks, relevance)


# -- what would have kept it ------------------------------------------------------------------

@dataclass(frozen=True)
class KeepNeeded:
    """The cut-off that would have let a document through one step, and what it costs."""

    doc_id: str
    step: str
    keep: int                     # the cut-off now
    needed: int | None            # the smallest cut-off that keeps it (its rank); None: never retrieved
    spec: CascadeSpec | None      # the run's spec with that cut-off
    latency_before_ms: float      # predicted per query (NaN without cost models)
    latency_after_ms: float
    then: DocumentPath | None     # its path under the new spec (None: stored scores do not cover it)

    def describe(self) -> str:
        if self.needed is None:
            return (f"{self.doc_id} is not in the first pass's stored list: no cut-off keeps it; "
                    "retrieve deeper or change the first pass")
        return f"{_what(self.step)} >= {self.needed} (now {self.keep})" + _price(self) + _then(self)


def describe_keeps(chain: list[KeepNeeded]) -> str:
    """One line for :func:`keeps_to_final`'s chain: every cut-off, the cost, where it ends up."""
    if not chain:
        return "already in the final list"
    if chain[0].needed is None:
        return chain[0].describe()
    last = chain[-1]
    return ", ".join(f"{_what(k.step)} >= {k.needed}" for k in chain) + _price(last) + _then(last)


def _what(step: str) -> str:
    return {FINAL: "final k", "first pass": "pool size"}.get(step, f"{step} keeps")


def _price(k: KeepNeeded) -> str:
    if k.latency_before_ms != k.latency_before_ms:  # NaN: no cost models
        return ""
    return f": predicted {k.latency_before_ms:.1f} ms -> {k.latency_after_ms:.1f} ms per query"


def _then(k: KeepNeeded) -> str:
    if k.then is None:
        return "; past that, the stored scores do not reach (score deeper to see further)"
    return "; then " + (f"it reaches the final list at rank {k.then.final_rank}" if k.then.survived
                        else k.then.describe())


def keep_needed(run: CascadeRun, path: DocumentPath, step: str | int | None = None,
                costs=None, budget_ms: float | None = None) -> KeepNeeded:
    """The cut-off at ``step`` (default: where it was dropped) that lets ``path``'s document through.

    The needed cut-off is its rank there: the step's own input does not change, so neither does
    its order. ``costs`` (an :class:`~cascade_core.analysis.experiment.Experiment` or a list of
    :class:`~cascade_core.latency.model.CostModel`, one per step) prices the old and the new spec: a
    larger cut-off feeds every later stage more candidates. Candidate counts follow from the cut-offs
    alone, so the prediction needs no new scores. When the stored scores cover the new spec it is
    also simulated, and ``then`` says where the document goes next (a later stage may drop it).
    """
    i = _step_index(run, step if step is not None else (path.dropped_at or FINAL))
    pos = path.steps[i]
    if not pos.reached:
        raise CascadeError(f"{path.doc_id!r} never reached {pos.step}: it was dropped at {path.dropped_at}")
    if pos.survived:
        raise CascadeError(f"{path.doc_id!r} already passes {pos.step} (rank {pos.rank}, cut-off {pos.keep})")
    models = _cost_models(costs)
    before = _latency(run, run.spec, models, budget_ms).total_ms if models else float("nan")
    if pos.rank is None:  # not in the stored first-pass list: no cut-off we can simulate keeps it
        return KeepNeeded(path.doc_id, pos.step, pos.keep, None, None, before, float("nan"), None)
    spec = _with_cutoff(run.spec, i, pos.rank)
    after = _latency(run, spec, models, budget_ms).total_ms if models else float("nan")
    try:
        then = _path(simulate(spec, run.matrix), path.query, path.doc_id, _position(run, path.doc_id), path.grade)
    except MissingScoresError:
        then = None
    return KeepNeeded(path.doc_id, pos.step, pos.keep, pos.rank, spec, before, after, then)


def keeps_to_final(run: CascadeRun, path: DocumentPath, costs=None,
                   budget_ms: float | None = None) -> list[KeepNeeded]:
    """Every cut-off to raise, in order, for the document to reach the final list.

    Each item raises one more cut-off on top of the ones before (its ``spec`` holds them all, its
    ``latency_after_ms`` their total cost). The chain stops early where the stored scores do not
    cover the next spec (the last item's ``then`` is None): a later stage never scored it.
    """
    chain: list[KeepNeeded] = []
    while not path.survived:
        need = keep_needed(run, path, costs=costs, budget_ms=budget_ms)
        if chain:  # price against the spec we started from
            need = KeepNeeded(need.doc_id, need.step, need.keep, need.needed, need.spec,
                              chain[0].latency_before_ms, need.latency_after_ms, need.then)
        chain.append(need)
        if need.then is None:
            break
        run, path = simulate(need.spec, run.matrix), need.then
    return chain


def predicted_latency(run: CascadeRun, spec: CascadeSpec, costs, budget_ms: float | None = None) -> LatencyReport:
    """``spec``'s predicted latency over ``run``'s queries, without simulating it.

    Each step's candidates follow from the cut-offs alone (``min(keep, what came in)`` per
    query), exactly as :meth:`~cascade_core.analysis.experiment.Experiment.run` counts them.
    """
    return _latency(run, spec, _cost_models(costs), budget_ms)


def _latency(run: CascadeRun, spec: CascadeSpec, models: list[CostModel], budget_ms) -> LatencyReport:
    return predict_spec_latency(spec, run.matrix.lengths, models, budget_ms)


def _with_cutoff(spec: CascadeSpec, i: int, keep: int) -> CascadeSpec:
    # Raising step i's cut-off never breaks "cut-offs may not grow": the document's rank there is
    # at most the candidates it received, which the step before kept. Later cut-offs stay.
    if i == 0:
        return spec.with_keeps(pool_size=keep)
    if i <= len(spec.stages):
        keeps = [st.keep for st in spec.stages]
        keeps[i - 1] = keep
        return spec.with_keeps(keeps=keeps)
    return spec.with_keeps(final_k=keep)


def _cost_models(costs) -> list[CostModel]:
    if costs is None:
        return []
    if hasattr(costs, "cost_models"):
        return costs.cost_models()
    return list(costs)


# -- across the query set ---------------------------------------------------------------------

@dataclass
class LostDocuments:
    """Where the judged-relevant documents of a query set are lost."""

    by_stage: pd.DataFrame    # index step: keep, lost, share (of all judged relevant), queries (affected)
    documents: pd.DataFrame   # one row per lost document: query, doc_id, grade, step, rank, keep, margins
    n_relevant: int           # judged-relevant documents in all
    n_final: int              # of which in the final lists

    @property
    def queries(self) -> list[str]:
        """Queries that lose at least one relevant document, in the run's order."""
        return list(dict.fromkeys(self.documents["query"]))

    @property
    def first_query(self) -> str | None:
        """The first query that loses a relevant document it retrieved (the telling case: its rank
        and margin are known); else the first that loses any; None when nothing is lost."""
        ranked = self.documents[self.documents["rank"].notna()]
        return (ranked if len(ranked) else self.documents)["query"].iloc[0] if len(self.documents) else None

    def lost_in(self, query_id: str) -> int:
        """How many relevant documents one query loses (listed ones: pass qrels to count all)."""
        return self._per_query.get(query_id, 0)

    @cached_property
    def _per_query(self) -> dict[str, int]:
        # Counted once: a page labels every query of the set with it.
        return self.documents["query"].value_counts().to_dict()


def lost_by_stage(run: CascadeRun, relevance: Relevance, qrels: Qrels | None = None) -> LostDocuments:
    """Relevant documents lost at each step (and at the final cut), over the whole query set.

    Counts come from ``relevance`` and agree with :func:`cascade_core.analysis.flow.flow_table`'s
    ``relevant_lost`` (plus a ``final`` row: kept by the last stage, below ``final_k``).
    Relevant documents the first pass never retrieved count as lost there; pass ``qrels`` to list
    them by id in ``documents`` too (rank empty).
    """
    m = run.matrix
    Q, N = m.docs.shape
    steps = run.steps + [run.final]
    relevant = (relevance.grades > 0) & (m.docs >= 0)
    not_retrieved = relevance.n_relevant - relevant.sum(axis=1)
    rows_q = np.arange(Q)[:, None]

    lost_at = np.full((Q, N), -1)          # the step that dropped each relevant column
    rank_at = np.zeros((Q, N), dtype=int)  # its rank there
    alive = relevant.copy()
    counts, queries, records = [], [], []
    for i, st in enumerate(steps):
        rank = np.zeros((Q, N), dtype=int)
        C = st.order.shape[1]
        r = np.broadcast_to(np.arange(1, C + 1), (Q, C))
        rank[np.broadcast_to(rows_q, (Q, C))[st.valid], st.order[st.valid]] = r[st.valid]
        keep = st.keep_per_query                  # [Q]: an adaptive cut-off's count per query
        dropped = alive & (rank > keep[:, None])
        lost_at[dropped], rank_at[dropped] = i, rank[dropped]
        per_query = dropped.sum(axis=1) + (not_retrieved if i == 0 else 0)
        counts.append(int(per_query.sum()))
        queries.append(int((per_query > 0).sum()))
        alive &= ~dropped
        n_in = st.n_in
        cutoff = _cutoff_scores(st, np.minimum(keep, n_in))
        for q, col in zip(*np.nonzero(dropped)):
            at = rank[q, col] - 1
            records.append((q, i, m.query_ids[q], m.doc_ids[m.docs[q, col]], int(relevance.grades[q, col]),
                            st.name, int(rank[q, col]), int(keep[q]), int(rank[q, col] - keep[q]),
                            float(cutoff[q] - st.scores[q, at]) if n_in[q] else np.nan))
    if qrels is not None:
        for q in np.flatnonzero(not_retrieved > 0):
            present = {m.doc_ids[p] for p in m.docs[q][m.docs[q] >= 0]}
            for d, g in qrels.relevant(m.query_ids[q]).items():
                if d not in present:
                    records.append((q, 0, m.query_ids[q], d, int(g), steps[0].name, None, steps[0].keep,
                                    None, np.nan))

    n_relevant = int(relevance.n_relevant.sum())
    by_stage = pd.DataFrame({"step": [s.name for s in steps], "keep": [s.keep for s in steps],
                             "lost": counts,
                             "share": [c / n_relevant if n_relevant else np.nan for c in counts],
                             "queries": queries}).set_index("step")
    records.sort(key=lambda r: (r[0], r[1], np.inf if r[6] is None else r[6]))
    documents = pd.DataFrame([r[2:] for r in records], columns=[
        "query", "doc_id", "grade", "step", "rank", "keep", "rank_margin", "score_margin"])
    documents = documents.astype({"rank": "Int64", "rank_margin": "Int64"})
    return LostDocuments(by_stage, documents, n_relevant, int(alive.sum()))


def _cutoff_scores(step: StageResult, n_kept: np.ndarray) -> np.ndarray:
    """Per query, the score of the last kept candidate (NaN where nothing is kept)."""
    at = np.maximum(n_kept - 1, 0)[:, None]
    out = np.take_along_axis(step.scores, at, axis=1)[:, 0].astype(float)
    return np.where(n_kept > 0, out, np.nan)


# -- tables for people ------------------------------------------------------------------------

def paths_summary(paths: list[DocumentPath]) -> pd.DataFrame:
    """One row per document: grade, where it was dropped, its rank and cut-off there, margins."""
    rows = []
    for p in paths:
        s = p.at(p.dropped_at) if p.dropped_at else p.steps[-1]
        rows.append({"doc_id": p.doc_id, "grade": p.grade, "outcome": p.describe(),
                     "dropped at": p.dropped_at or "-", "rank there": s.rank, "cut-off": s.keep,
                     "rank margin": s.rank_margin if p.dropped_at else None,
                     "score margin": s.score_margin if p.dropped_at else None,
                     "final rank": p.final_rank})
    out = pd.DataFrame(rows, columns=["doc_id", "grade", "outcome", "dropped at", "rank there", "cut-off",
                                      "rank margin", "score margin", "final rank"])
    return out.astype({"rank there": "Int64", "rank margin": "Int64", "final rank": "Int64",
                       "score margin": float}).set_index("doc_id")


def paths_table(paths: list[DocumentPath]) -> pd.DataFrame:
    """One row per (document, step): rank, score, cut-off, margins and what happened there."""
    rows = []
    for p in paths:
        for s in p.steps:
            outcome = ("kept" if s.survived else "not retrieved" if s.reached and s.rank is None
                       else "dropped here" if s.reached else "not reached")
            rows.append({"doc_id": p.doc_id, "grade": p.grade, "step": s.step, "rank": s.rank, "cut-off": s.keep,
                         "candidates in": s.n_in, "score": s.score, "raw score": s.raw,
                         "rank margin": s.rank_margin, "score margin": s.score_margin, "outcome": outcome})
    out = pd.DataFrame(rows, columns=["doc_id", "grade", "step", "rank", "cut-off", "candidates in", "score",
                                      "raw score", "rank margin", "score margin", "outcome"])
    return out.astype({"rank": "Int64", "rank margin": "Int64", "score": float, "raw score": float,
                       "score margin": float})


# -- query terms in a text --------------------------------------------------------------------

# A number with its decimal point or thousands separator is one word ("10.0", not "10" and "0").
_WORD = re.compile(r"\d+(?:[.,]\d+)+|\w+")


def highlight_spans(text: str, query: str, tokenizer: Tokenizer | None = None) -> list[tuple[str, bool]]:
    """Cut ``text`` into ``(segment, is_query_term)`` pieces, joined back they give ``text``.

    A word is a query term when its stem is one of the query's (BM25's tokenizer by default:
    lower-cased, stopwords dropped, Snowball-stemmed), so "cells" matches "cell". A number
    matches only as a whole and a one-character term never does: a query about "0-dimensional"
    materials would otherwise light up every "0" of "10.0" and "2.0".

    >>> [w for w, hit in highlight_spans("In 10.0 or 0 of 20 dimensional cells", "0-dimensional cell") if hit]
    ['dimensional', 'cells']
    """
    tok = tokenizer or get_tokenizer()
    terms = set(tok.tokenize(query))
    spans: list[tuple[str, bool]] = []
    seen: dict[str, bool] = {}
    last = 0
    for match in _WORD.finditer(text):
        word = match.group()
        if word not in seen:
            if any(c.isdigit() for c in word):   # a number: as a whole, or not at all
                seen[word] = len(word) > 1 and word.lower() in terms
            else:
                seen[word] = bool(terms.intersection(t for t in tok.tokenize(word) if len(t) > 1))
        if seen[word]:
            if match.start() > last:
                spans.append((text[last:match.start()], False))
            spans.append((word, True))
            last = match.end()
    if last < len(text):
        spans.append((text[last:], False))
    return spans


def highlight_document(corpus: Corpus, doc_id: str, query: str,
                       tokenizer: Tokenizer | None = None) -> list[tuple[str, bool]]:
    """:func:`highlight_spans` of a corpus document's title and text."""
    if doc_id not in corpus:
        raise CascadeError(f"unknown document id {doc_id!r}: it is not in the corpus")
    return highlight_spans(corpus.text_of(doc_id), query, tokenizer)
