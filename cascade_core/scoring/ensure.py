"""Scoring, once: fill the score store with everything a spec needs, then load it for simulation.

:func:`ensure_scores` runs the first pass at the pool depth and each stage over the candidates
that can reach it under the spec, but only for (query, document) pairs not stored yet: a second
identical run makes no model call. Every timed call is recorded for the cost model. Scores and
timings carry the provenance of the run that made them (model fingerprints, library versions,
machine: :mod:`cascade_core.store.provenance`), for the doctor's provenance check.
To let a slider move up to some cut-off without scoring, ensure with the deepest spec you allow.
A listwise stage (its scores depend on the whole list it ranks) is scored per candidate list:
the list it receives under the spec, unless that very list was ranked before; each list is kept
(:mod:`cascade_core.cascade.listwise`), and the simulation says when it is handed another.

>>> # plan = CascadePlan(spec, corpus, workspace); ensure_scores(plan, queries)
>>> # matrix = load_matrix(plan, queries); run = simulate(spec, matrix)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..cascade.executor import Executor
from ..cascade.listwise import StoredLists
from ..cascade.simulate import ScoreMatrix, simulate
from ..cascade.spec import CascadeSpec
from ..data import Corpus, QuerySet
from ..latency.timing import calibration_parts, stated_or, step_threads, timed
from ..models.device import cluster_device
from ..progress import ProgressCallback, ProgressTracker
from ..store.provenance import step_provenance
from ..store.scores import list_key, query_key
from ..store.shipped import TOLERANCE, VERIFY_QUERIES, ShippedScores, find_shipped_scores
from .on_ray import score_stage_on_ray
from .workspace import Workspace


class CascadePlan:
    """A spec bound to a corpus and a workspace: its retriever and scorers, built once."""

    def __init__(self, spec: CascadeSpec, corpus: Corpus, workspace: Workspace, queries: QuerySet | None = None):
        self.spec = spec
        self.corpus = corpus
        self.workspace = workspace
        self.queries = queries   # the dataset's: a run file's query ids are matched through them
        self.retriever = workspace.retriever(spec.first_pass, corpus, queries, spec.device)   # always here
        # On a cluster the stages' models run on the workers' device, not this machine's.
        there = None if Executor.parse(spec.executor).is_local else cluster_device(spec.device)
        self.scorers = [workspace.scorer(st.scorer, corpus, queries, spec.device, there) for st in spec.stages]

    @property
    def scorer_ids(self) -> list[str]:
        return [self.retriever.id] + [s.id for s in self.scorers]

    @property
    def timing_keys(self) -> list[str]:
        """Where each step's timed calls are kept (its id, with the device when not the CPU)."""
        return [self.retriever.timing_key] + [s.timing_key for s in self.scorers]

    def devices(self) -> list[str]:
        """Where each step runs (``cpu`` for a step whose model does not run here)."""
        return [self.retriever.device] + [s.device for s in self.scorers]

    def with_spec(self, spec: CascadeSpec) -> "CascadePlan":
        """The same plan for a spec with other cut-offs (scorers reused when they are the same)."""
        if spec.scorer_key() == self.spec.scorer_key() and spec.device == self.spec.device and \
                Executor.parse(spec.executor).is_local == Executor.parse(self.spec.executor).is_local:
            clone = object.__new__(CascadePlan)
            clone.__dict__.update(self.__dict__, spec=spec)
            return clone
        return CascadePlan(spec, self.corpus, self.workspace, self.queries)


@dataclass
class ScoringReport:
    """What :func:`ensure_scores` did: calls made per step, time spent, and documents cut.

    ``truncated``: ``{step name: {"documents": n, "limit": "256 tokens"}}`` for each step that cut
    documents it read in this run to its model's limit (:mod:`cascade_core.models.truncation`).
    """

    retrieved_queries: int = 0
    scored_pairs: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    truncated: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)   # what a step found while preparing (an existing collection's coverage)
    # Where each step that scored in this run was scored: "this process", or the Ray cluster's
    # units and hosts (:mod:`cascade_core.scoring.on_ray`).
    where: dict[str, str] = field(default_factory=dict)

    def note_cuts(self, step: str, component) -> None:
        """Record the documents ``component`` cut in this run, if any."""
        cuts = component.cuts
        if len(cuts):
            self.truncated[step] = {"documents": len(cuts), "limit": cuts.limit}

    def describe_truncated(self) -> list[str]:
        """One line per step that cut documents.

        >>> ScoringReport(truncated={"bi": {"documents": 1, "limit": "256 tokens"}}).describe_truncated()
        ['bi: 1 document cut to 256 tokens (no further is read or sent)']
        """
        return [truncation_line(step, c) for step, c in self.truncated.items()]

    def describe(self) -> list[str]:
        """Every line worth showing after scoring: where steps were scored (when not all in this
        process), the notes, then the truncations.

        >>> ScoringReport(where={"bm25": "this process", "ce": "Ray (auto): 2 units on h (40 pairs)"}).describe()
        ['Scored: bm25 in this process; ce on Ray (auto): 2 units on h (40 pairs)']
        """
        return self.describe_where() + list(self.notes) + [f"Truncated: {line}" for line in self.describe_truncated()]

    def describe_where(self) -> list[str]:
        """One line saying where each step was scored, when any was scored off this process."""
        if all(w == LOCAL for w in self.where.values()):
            return []
        return ["Scored: " + "; ".join(f"{step} {'in' if w == LOCAL else 'on'} {w}" for step, w in self.where.items())]

    @property
    def model_calls(self) -> int:
        return self.retrieved_queries + sum(1 for n in self.scored_pairs.values() if n)


LOCAL = "this process"


def truncation_line(step: str, cut: dict) -> str:
    """One step's cut documents in words, from ``{"documents": n, "limit": "256 tokens"}`` (the
    scoring report's ``truncated`` entry, as the JSON report carries it too)."""
    n = cut["documents"]
    return f"{step}: {n} document{'s' if n != 1 else ''} cut to {cut['limit']} (no further is read or sent)"


def ensure_scores(plan: CascadePlan, queries: QuerySet, progress: ProgressCallback | None = None) -> ScoringReport:
    """Compute and store every score ``plan.spec`` needs on ``queries`` that is not stored yet."""
    start = time.perf_counter()
    report = ScoringReport()
    store, fp, spec = plan.workspace.store, plan.corpus.fingerprint, plan.spec
    executor = Executor.parse(spec.executor)

    # 1. First pass, at the pool depth.
    rid = plan.retriever.id
    todo = first_pass_todo(plan, queries)
    if todo:
        plan.retriever.cuts.clear()   # count what this run cuts
        plan.retriever.prepare(progress)
        report.notes.extend(getattr(plan.retriever, "notes", ()))
        # One untimed call first: a model's or a library's first call pays one-off set-up
        # (thread pools, lazy buffers) that would be read as the cost of every query.
        plan.retriever.retrieve(queries.text_of(todo[0]), 1)
        # After the warm-up: the model is loaded, so the run records the weights that score.
        run_id = store.start_run(rid, fp, step_provenance(plan.retriever))
        tracker = ProgressTracker(f"first pass ({spec.first_pass.label})", len(todo), progress, "queries")
        costs, threads = [], step_threads(plan.retriever)
        try:
            for qid in todo:
                text = queries.text_of(qid)
                with timed(threads) as clock:   # wall, CPU, and the wait for a core: was it busy?
                    ids, scores = plan.retriever.retrieve(text, spec.pool_size)
                costs.append((len(ids), len(text), stated_or(plan.retriever, text, clock.timing)))
                store.put_retrieval(rid, fp, query_key(text), ids, scores, spec.pool_size, run=run_id)
                tracker.advance(1)   # may raise: a cancelled run keeps what it stored, timings too
        finally:
            if costs:
                store.record_costs(plan.retriever.timing_key, costs, run=run_id)
        report.retrieved_queries = len(todo)
        report.where[spec.stage_names[0]] = LOCAL   # the first pass runs here whatever the executor
        report.note_cuts(spec.stage_names[0], plan.retriever)
        report.notes.extend(plan.retriever.scoring_notes())

    # 2. Each stage, over the candidates that reach it under this spec.
    for s, (stage, scorer) in enumerate(zip(spec.stages, plan.scorers)):
        work = stage_work(plan, queries, s)
        listwise = is_listwise(scorer)
        n_pairs = sum(len(n) for _, n in work)
        report.scored_pairs[stage.name] = n_pairs
        if not work:
            continue
        scorer.cuts.clear()
        if not executor.is_local:   # the missing pairs, on the cluster; stored here as they return
            if not listwise and find_shipped_scores(plan.corpus, scorer.id)[0] is not None:
                # Taking them needs this machine's model to agree on a few queries first (ShippedImport).
                report.notes.append(f"{stage.name}: the scores shipped with the dataset are taken by the local "
                                    "executor only: on the cluster every missing pair is scored")
            tracker = ProgressTracker(f"scoring: {stage.name} ({stage.scorer.label}) on Ray", n_pairs, progress, "pairs")
            score_stage_on_ray(plan, s, work, tracker, report, executor)
            report.note_cuts(stage.name, scorer)
            continue
        report.where[stage.name] = LOCAL
        scorer.prepare(sorted({d for _, need in work for d in need}), progress)
        scorer.score(work[0][0], work[0][1][:1])   # untimed warm-up, as for the first pass
        run_id = store.start_run(scorer.id, fp, step_provenance(scorer))
        shipped = None if listwise else ShippedImport.find(plan.corpus, scorer.id, report)
        tracker = ProgressTracker(f"scoring: {stage.name} ({stage.scorer.label})", n_pairs, progress, "pairs")
        costs, threads = [], step_threads(scorer)
        try:
            for w, (text, need) in enumerate(work):
                if shipped is not None and shipped.take(store, fp, text, need):
                    tracker.advance(len(need))
                    continue
                scores = []
                # A listwise list is scored whole: split in two, it would be two other lists.
                for part in [need] if listwise else calibration_parts(need, w, len(work)):
                    with timed(threads) as clock:
                        scores.extend(scorer.score(text, part))
                    costs.append((len(part), len(text) + sum(len(plan.corpus.text_of(d)) for d in part),
                                  stated_or(scorer, text, clock.timing, len(part) / len(need))))
                put = store.put_list if listwise else store.put
                put(scorer.id, fp, query_key(text), need, np.asarray(scores, dtype=float), run=run_id)
                if shipped is not None:
                    shipped = shipped.check(text, need, scores, report)
                tracker.advance(len(need))
        finally:
            if costs:
                store.record_costs(scorer.timing_key, costs, run=run_id)
            if shipped is not None:
                shipped.finish(report, stage.name)
        report.note_cuts(stage.name, scorer)
        report.notes.extend(getattr(scorer, "notes", ()))
        report.notes.extend(scorer.scoring_notes())
    report.seconds = time.perf_counter() - start
    return report


class ShippedImport:
    """Scores shipped with a dataset for one step (:mod:`cascade_core.store.shipped`), taken in
    only after this machine's model agreed with them on the first covered queries.

    The scoring loop scores those queries for real (so this machine's timings are the step's
    costs) and hands each result to :meth:`check`; once :data:`VERIFY_QUERIES` agree, :meth:`take`
    stores the file's scores for every other query it covers, under a run of their own whose
    provenance is the file's. One disagreement and the file is dropped: everything is scored.
    """

    def __init__(self, shipped: ShippedScores):
        self.shipped, self.agreed, self.worst, self.imported, self.run = shipped, 0, 0.0, 0, None

    @classmethod
    def find(cls, corpus, scorer_id: str, report: "ScoringReport") -> "ShippedImport | None":
        shipped, why = find_shipped_scores(corpus, scorer_id)
        if why:
            report.notes.append(why)
        return cls(shipped) if shipped is not None else None

    def take(self, store, corpus_fp: str, text: str, need: list[str]) -> bool:
        """Store the file's scores of ``need`` if they are trusted and cover it; True if stored."""
        key = query_key(text)
        if self.agreed < VERIFY_QUERIES or not self.shipped.covers(key, need):
            return False
        if self.run is None:
            self.run = store.start_run(self.shipped.scorer, corpus_fp,
                                       {**self.shipped.provenance, "shipped": self.shipped.path.name})
        store.put(self.shipped.scorer, corpus_fp, key, need, self.shipped.scores(key, need), run=self.run)
        self.imported += len(need)
        return True

    def check(self, text: str, need: list[str], scores, report: "ScoringReport") -> "ShippedImport | None":
        """Compare a query scored here with the file; None (drop the file) when they disagree."""
        key = query_key(text)
        if self.agreed >= VERIFY_QUERIES or not self.shipped.covers(key, need):
            return self
        diff = self.shipped.disagreement(key, need, scores)
        if diff > TOLERANCE:
            report.notes.append(f"the scores shipped in {self.shipped.path.name} differ from this machine's model "
                                f"by up to {diff:.3g}: scoring everything here instead")
            return None
        self.agreed, self.worst = self.agreed + 1, max(self.worst, diff)
        return self

    def finish(self, report: "ScoringReport", step: str) -> None:
        if self.imported:
            report.scored_pairs[step] -= self.imported   # taken from the file, not scored
            report.notes.append(f"{step}: {self.imported:,} scores taken from the file shipped with the dataset "
                                f"({self.shipped.path.name}) after {self.agreed} queries scored here agreed with "
                                f"it (largest difference {self.worst:.1g})")


def first_pass_todo(plan: CascadePlan, queries: QuerySet) -> list[str]:
    """The queries whose first-pass list is not stored to the pool depth yet."""
    depths = plan.workspace.store.retrieval_depths(plan.retriever.id, plan.corpus.fingerprint)
    return [q for q in queries.ids if depths.get(query_key(queries.text_of(q)), 0) < plan.spec.pool_size]


def stage_work(plan: CascadePlan, queries: QuerySet, s: int) -> list[tuple[str, list[str]]]:
    """What stage ``s`` must still score under ``plan.spec``: ``(query text, document ids)`` per
    query, from stored scores only (no model call). Raises MissingScoresError when an earlier
    step's scores are missing (then nobody knows yet which candidates reach it)."""
    store, fp, spec, scorer = plan.workspace.store, plan.corpus.fingerprint, plan.spec, plan.scorers[s]
    prefix = plan.with_spec(spec.prefix(s))
    run = simulate(prefix.spec, load_matrix(prefix, queries))
    cols, valid = run.steps[-1].kept()
    docs = np.take_along_axis(run.matrix.docs, cols, axis=1)
    keys = {query_key(queries.text_of(q)) for q in run.matrix.query_ids}
    work: list[tuple[str, list[str]]] = []
    if not is_listwise(scorer):
        stored = store.get_many(scorer.id, fp, keys)
        for qi, qid in enumerate(run.matrix.query_ids):
            text = queries.text_of(qid)
            have = stored.get(query_key(text), {})
            need = [plan.corpus.documents[p].id for p in docs[qi][valid[qi]] if plan.corpus.documents[p].id not in have]
            if need:
                work.append((text, need))
    else:   # listwise: the whole list the stage receives, unless that very list was ranked
        stored = store.get_lists(scorer.id, fp, keys)
        for qi, qid in enumerate(run.matrix.query_ids):
            text = queries.text_of(qid)
            seen = [plan.corpus.documents[p].id for p in docs[qi][valid[qi]]]
            if seen and list_key(seen) not in {k for k, _, _ in stored.get(query_key(text), [])}:
                work.append((text, seen))
    return work


def is_listwise(scorer) -> bool:
    """Whether a step's scores depend on the candidate list (stored per list, see
    :mod:`cascade_core.cascade.listwise`); a kind whose mode decides sets it per instance."""
    return getattr(scorer, "pointwise", True) is False


def load_matrix(plan: CascadePlan, queries: QuerySet) -> ScoreMatrix:
    """Read a spec's stored scores for ``queries`` into a :class:`ScoreMatrix`.

    The first-pass lists are read at their stored depth (at least the pool size when
    :func:`ensure_scores` has run); stage scores missing from the store are NaN.
    """
    store, fp, corpus = plan.workspace.store, plan.corpus.fingerprint, plan.corpus
    qids = queries.ids
    keys = [query_key(queries.text_of(q)) for q in qids]
    first = store.get_many(plan.retriever.id, fp, keys)
    stored_depths = store.retrieval_depths(plan.retriever.id, fp)
    first_lists = []   # per query: the first pass's corpus positions and scores, best first
    for key in keys:
        found = first.get(key, {})
        pos = np.fromiter((corpus.index_of(d) for d in found), dtype=np.int64, count=len(found))
        sc = np.fromiter(found.values(), dtype=float, count=len(found))
        order = np.lexsort((pos, -sc))  # best first; ties by corpus order, as retrieval does
        first_lists.append((pos[order], sc[order]))
    depth = max([len(p) for p, _ in first_lists] + [1])
    docs = np.full((len(qids), depth), -1, dtype=np.int64)
    firsts = np.full((len(qids), depth), -np.inf)
    for i, (p, s) in enumerate(first_lists):
        docs[i, : len(p)] = p
        firsts[i, : len(s)] = s
    stage_scores, listwise = [], []
    for scorer in plan.scorers:
        if is_listwise(scorer):
            stored = _stored_lists(store.get_lists(scorer.id, fp, keys), keys, corpus)
            listwise.append(stored)
            stage_scores.append(_deepest_scores(stored, docs))
            continue
        listwise.append(None)
        got = store.get_many(scorer.id, fp, keys)
        mat = np.full(docs.shape, np.nan)
        for i, key in enumerate(keys):
            scores = got.get(key)
            if not scores:
                continue
            row = docs[i]
            for j in range(len(first_lists[i][0])):
                v = scores.get(corpus.documents[row[j]].id)
                if v is not None:
                    mat[i, j] = v
        stage_scores.append(mat)
    return ScoreMatrix(query_ids=qids, doc_ids=corpus.ids, docs=docs, first=firsts,
                       stage_scores=stage_scores, scorer_ids=plan.scorer_ids,
                       query_texts=[queries.text_of(q) for q in qids],
                       retrieved_depth=min((stored_depths.get(k, 0) for k in keys), default=0),
                       listwise=listwise if any(x is not None for x in listwise) else [])


def _stored_lists(got: dict, keys: list[str], corpus: Corpus) -> StoredLists:
    """A listwise scorer's stored lists (``ScoreStore.get_lists``) as corpus positions, per query."""
    per_query = []
    for key in keys:
        lists = []
        for _, ids, scores in got.get(key, []):   # (the store is per corpus fingerprint: every id is here)
            lists.append((np.array([corpus.index_of(d) for d in ids], dtype=np.int64),
                          np.array([scores.get(d, np.nan) for d in ids], dtype=float)))
        per_query.append(lists)
    return StoredLists(per_query)


def _deepest_scores(lists: StoredLists, docs: np.ndarray) -> np.ndarray:
    """``[Q, N]`` scores of each query's longest stored list, placed on its first-pass columns:
    what readers of ``stage_scores`` see (the simulation itself picks the list per cut-off)."""
    mat = np.full(docs.shape, np.nan)
    for q in range(len(lists)):
        deepest = lists.deepest(q)
        if deepest is None:
            continue
        score_of = dict(zip(deepest[0].tolist(), deepest[1].tolist()))
        for j, p in enumerate(docs[q].tolist()):
            if p in score_of:
                mat[q, j] = score_of[p]
    return mat
