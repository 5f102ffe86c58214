"""An experiment: one dataset, one cascade, one workspace. The entry point for the CLI and the UI.

>>> # exp = Experiment(load_dataset("sample_data/scifact-mini"), spec, Workspace())
>>> # exp.ensure_scores(progress)            # slow once, then never again
>>> # result = exp.run(spec.with_keeps(keeps=[30, 10]))   # fast: pure simulation
>>> # result.evaluation.table(); result.latency.total_ms
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from ..cascade.live import LiveMeasurement, LiveResult, live_run, measure_live
from ..cascade.simulate import CascadeRun, ScoreMatrix, kept_counts, simulate
from ..cascade.spec import CascadeSpec
from ..data import Dataset, Qrels, QuerySet
from ..errors import CascadeError, MissingScoresError
from ..judgments.store import USE_LLM, JudgmentStore, MergedQrels, judged_qrels, with_added_queries
from ..latency.model import CostModel, LatencyReport, predict_spec_latency
from ..models.device import device_name
from ..progress import ProgressCallback
from ..scoring.calibrate import calibrate
from ..scoring.ensure import CascadePlan, ScoringReport, ensure_scores, load_matrix
from ..scoring.estimate import estimate_scoring
from ..scoring.workspace import Workspace
from ..store.provenance import cost_source, provenance_report
from ..store.scores import query_key
from .evaluation import DEFAULT_METRICS, Relevance, RunEvaluation, evaluate_run


@dataclass
class ExperimentResult:
    run: CascadeRun
    evaluation: RunEvaluation | None
    latency: LatencyReport


class Experiment:
    """Binds a dataset and a spec to a workspace; caches the loaded score matrix.

    The matrix is loaded for the spec's scorers at the depth stored; any spec with the same
    first pass and scorers and cut-offs within what was scored simulates from it.

    One experiment may serve several dashboard sessions at once (it is cached per server
    process), so it is thread-safe: scoring is serialised (two sessions never score the same
    pairs twice), and a reader always gets a matrix and the relevance computed *for that
    matrix* (:meth:`snapshot`), even while another session's scoring swaps in a fresh one.
    """

    def __init__(self, dataset: Dataset, spec: CascadeSpec, workspace: Workspace,
                 queries: QuerySet | None = None, metrics=DEFAULT_METRICS):
        self.dataset = dataset
        self.workspace = workspace
        # Judgments made in the dashboard (cascade_core.judgments), kept in the data folder per
        # corpus: they join the dataset's qrels in every number this experiment gives.
        self.judgments = JudgmentStore.for_corpus(workspace.home, dataset.corpus.fingerprint)
        self._fixed_queries = queries
        self._merged: tuple | None = None      # (judgments version, MergedQrels)
        self._queries: tuple | None = None     # (judgments version, the queries evaluated)
        if len(self.queries) == 0:
            raise CascadeError(f"dataset {dataset.name!r} has no queries to evaluate"
                               + ("" if len(dataset.queries) else ": add queries to judge on the Judge page "
                                  "(typed or from a file), or load a queries file with the corpus"))
        self.metrics = tuple(metrics)
        self.plan = CascadePlan(spec, dataset.corpus, workspace, dataset.queries)
        self._matrix: ScoreMatrix | None = None
        self._relevance: Relevance | None = None
        self._relevance_of: tuple | None = None   # (query ids, judgments version) it was computed for
        self._cost_models: list[CostModel] | None = None
        self._scoring_lock = threading.Lock()
        self._state_lock = threading.RLock()

    @property
    def spec(self) -> CascadeSpec:
        return self.plan.spec

    @property
    def merged_qrels(self) -> MergedQrels:
        """The dataset's qrels merged with the judgments made here, and their conflicts (the
        store's setting says who wins one; the dataset by default). The log's ``use`` setting says
        whose judgments: people's (default), the LLM labels alone, or both (a human grade wins):
        :func:`~cascade_core.judgments.store.judged_qrels`. Re-read when the log grows."""
        version = self.judgments.version()
        merged = self._merged
        if merged is None or merged[0] != version:
            merged = self._merged = (version, judged_qrels(self.dataset.qrels, self.judgments))
        return merged[1]

    @property
    def qrels(self) -> Qrels:
        """The relevance every number uses: the dataset's qrels with the judgments made here."""
        return self.merged_qrels.qrels

    @property
    def all_queries(self) -> QuerySet:
        """The dataset's queries and those added for judging (typed or read from a file)."""
        return with_added_queries(self.dataset.queries, self.judgments)

    @property
    def queries(self) -> QuerySet:
        """The queries evaluated: those given, else every query with a relevant judgment (the
        dataset's or one made here), else (nothing judged relevant yet) all of them, unevaluated.

        The set grows as queries are judged: the next :meth:`snapshot` loads their scores (and a run
        whose scores are missing asks for scoring, as for any new query)."""
        if self._fixed_queries is not None:
            return self._fixed_queries
        version = self.judgments.version()
        cached = self._queries
        if cached is not None and cached[0] == version:   # pages ask for it once per row: keep it
            return cached[1]
        qrels, every = self.qrels, self.all_queries
        chosen = every
        if len(qrels):
            judged = every.subset(q for q in qrels.query_ids if qrels.relevant(q))
            if len(judged) or (len(self.dataset.qrels) and self.merged_qrels.use != USE_LLM):
                chosen = judged
        self._queries = (version, chosen)
        return chosen

    def _evaluated(self) -> bool:
        """Whether there is relevance to evaluate against: the dataset's qrels (as before judgments
        existed), or a judgment made here that calls some document relevant."""
        merged = self.merged_qrels
        qrels = merged.qrels
        return (len(self.dataset.qrels) > 0 and merged.use != USE_LLM) or any(qrels.relevant(q) for q in qrels.query_ids)

    def ensure_scores(self, spec: CascadeSpec | None = None,
                      progress: ProgressCallback | None = None) -> ScoringReport:
        """Score what ``spec`` (default: this experiment's) needs and is not stored yet."""
        plan = self.plan if spec is None else self.plan.with_spec(spec)
        try:
            with self._scoring_lock:
                report = ensure_scores(plan, self.queries, progress)
            note = plan.retriever.coverage_note(self.qrels)   # an existing collection lacking judged documents
            if note:
                report.notes.append(note)
            return report
        finally:   # a cancelled run stored scores and timings too
            with self._state_lock:
                if plan.scorer_ids == self.plan.scorer_ids:
                    # Reload even when this call scored nothing: another experiment sharing a scorer
                    # may have stored what this one's loaded matrix lacks.
                    self._matrix = None
                self._cost_models = None  # new timings

    def snapshot(self) -> tuple[ScoreMatrix, Relevance | None]:
        """The loaded matrix and its relevance, consistent with each other."""
        with self._state_lock:
            queries = self.queries
            if self._matrix is None or self._matrix.query_ids != queries.ids:   # a query judged since
                self._matrix = load_matrix(self.plan, queries)
                self._relevance = None
            of = (tuple(self._matrix.query_ids), self.judgments.version())
            if self._relevance_of != of:   # a judgment made since: the grades change
                self._relevance = None
            if self._relevance is None and self._evaluated():
                self._relevance = Relevance.of(self._matrix, self.qrels)
                self._relevance_of = of
            return self._matrix, self._relevance

    @property
    def matrix(self) -> ScoreMatrix:
        return self.snapshot()[0]

    @property
    def relevance(self) -> Relevance | None:
        return self.snapshot()[1]

    def cost_models(self) -> list[CostModel]:
        """Each step's cost model as measured here (cached until new timings), fitted on its
        scorer's latest recorded calls' quiet-equivalent times (:meth:`CostModel.from_records`),
        with how busy the CPU was when they were timed. A spec's cost profiles are applied when a
        spec is priced (:func:`predict_spec_latency`)."""
        with self._state_lock:
            if self._cost_models is None:
                store = self.workspace.store
                # Each step's calls timed on the device it runs on now, labelled with it (a GPU's).
                # "measured here" unless Ray workers timed some of the calls: then said (cost_source).
                self._cost_models = [
                    replace(CostModel.from_records(sid, store.cost_rows(key), per_query=(i == 0)),
                            device=device_name(dev), source=cost_source(store, key))
                    for i, (sid, key, dev) in enumerate(zip(self.plan.scorer_ids, self.plan.timing_keys,
                                                            self.plan.devices()))]
            return list(self._cost_models)

    def estimate(self, spec: CascadeSpec | None = None):
        """What :meth:`ensure_scores` would score for ``spec`` and about how long it would take
        (:func:`cascade_core.scoring.estimate.estimate_scoring`): no model call."""
        plan = self.plan if spec is None else self.plan.with_spec(spec)
        return estimate_scoring(plan, self.queries)

    def calibrate(self, n_queries: int = 20, spec: CascadeSpec | None = None,
                  progress: ProgressCallback | None = None):
        """Re-time every step on ``n_queries`` queries' stored candidates and record fresh costs
        (:func:`cascade_core.scoring.calibrate.calibrate`); later predictions use them."""
        plan = self.plan if spec is None else self.plan.with_spec(spec)
        with self._scoring_lock:
            report = calibrate(plan, self.queries, n_queries, progress)
        with self._state_lock:
            self._cost_models = None
        return report

    def run(self, spec: CascadeSpec | None = None, budget_ms: float | None = None) -> ExperimentResult:
        """Simulate (no model call), evaluate, and predict latency for ``spec``."""
        spec = spec or self.spec
        if spec.scorer_key() != self.spec.scorer_key():
            raise CascadeError("this spec uses other scorers: make a new Experiment for it")
        matrix, relevance = self.snapshot()
        run = simulate(spec, matrix)
        evaluation = (evaluate_run(run, self.qrels, self.metrics, relevance)
                      if relevance is not None else None)
        # an adaptive cut-off is priced at each query's own kept count
        latency = predict_spec_latency(spec, matrix.lengths, self.cost_models(), budget_ms, kept_counts(run))
        return ExperimentResult(run, evaluation, latency)

    def provenance_report(self) -> dict:
        """What made each step's stored scores and timings (model fingerprints, library versions,
        machines, counts) and this environment, as plain data for JSON and HTML reports."""
        return provenance_report(self.workspace.store, self.dataset.corpus.fingerprint, self.plan,
                                 self.query_keys())

    def query_keys(self) -> list[str]:
        """The score store's key of each of this experiment's queries (its text, hashed)."""
        return [query_key(self.queries.text_of(q)) for q in self.queries.ids]

    def query_run(self, query: str, spec: CascadeSpec | None = None,
                  progress: ProgressCallback | None = None, score: bool = True) -> CascadeRun:
        """One query (any text, in the experiment's queries or not) simulated under ``spec`` from
        the score store; what it lacks is scored first and stored (the Judge page's pools), unless
        ``score`` is False (a read-only dashboard): then MissingScoresError."""
        spec = spec or self.spec
        plan = self.plan.with_spec(spec)   # the cut-offs decide what is scored
        one = QuerySet({"query": query})
        try:
            return simulate(spec, load_matrix(plan, one))
        except MissingScoresError:
            if not score:
                raise
            with self._scoring_lock:
                ensure_scores(plan, one, progress)
            with self._state_lock:
                self._cost_models = None   # new timings
            return simulate(spec, load_matrix(plan, one))

    def live(self, query: str, spec: CascadeSpec | None = None) -> LiveResult:
        plan = self.plan if spec is None else self.plan.with_spec(spec)
        return live_run(plan, query)

    def measure_live(self, n_queries: int = 20, spec: CascadeSpec | None = None) -> LiveMeasurement:
        """The first ``n_queries`` queries run live after one labelled warm-up run
        (:func:`cascade_core.cascade.live.measure_live`): per step and total, p50/p95/p99 ms
        quiet-equivalent (what predictions are compared with) and wall clock, and the load."""
        plan = self.plan if spec is None else self.plan.with_spec(spec)
        return measure_live(plan, [self.queries.text_of(q) for q in self.queries.ids[:n_queries]])
