"""Live runs: one ad-hoc query through the real models, end to end, every step timed.

Nothing is read from or written to the score store: this is what production would do. The
ordering logic is :func:`~cascade_core.cascade.simulate.simulate` itself (on a one-query score
matrix filled as the stages run), so a live run and a simulation cannot disagree on semantics;
for pointwise scorers they return the same lists, which validates the simulator, and the
measured times validate the cost model.

Each step is timed as scoring times it (:mod:`cascade_core.latency.timing`): wall clock, and the
quiet-equivalent (wall less the wait for a core), which is what the cost model predicts; so a
live run on a busy machine is compared with the prediction on the same basis, and its wall clock
stays beside it. :func:`measure_live` runs N queries after labelled warm-up runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import CascadeError
from ..latency.model import percentiles
from ..latency.timing import busy_note, cores, load_average, run_load_line, step_threads, timed
from .simulate import ScoreMatrix, simulate


@dataclass
class LiveStep:
    name: str
    doc_ids: list[str]       # survivors, best first
    scores: np.ndarray       # the score each survivor was ranked by
    n_scored: int            # candidates this step scored
    ms: float                # measured wall time of the step
    quiet_ms: float | None = None    # wall less the wait for a core (None: the wall time, not reported)

    def __post_init__(self):
        if self.quiet_ms is None or self.quiet_ms != self.quiet_ms:
            self.quiet_ms = self.ms


@dataclass
class LiveResult:
    query: str
    steps: list[LiveStep]
    final_k: int

    warmup_ms: float | None = None   # a warm-up run before this one (not counted), wall clock; None: none

    @property
    def total_ms(self) -> float:
        """Wall clock, all steps."""
        return sum(s.ms for s in self.steps)

    @property
    def quiet_ms(self) -> float:
        """Quiet-equivalent, all steps: what the cost model predicts."""
        return sum(s.quiet_ms for s in self.steps)

    @property
    def final_doc_ids(self) -> list[str]:
        """The last step's survivors cut at the spec's ``final_k``."""
        return self.steps[-1].doc_ids[: self.final_k]


_warm: set = set()   # the steps (scorer ids) run live in this process already


def live_run(plan, query: str, warm_up: bool | None = None) -> LiveResult:
    """Run ``plan.spec`` for ``query`` with the real first pass and scorers, timing each step.

    ``warm_up``: run the query once untimed first (its wall clock kept as ``warmup_ms``): a
    model's first calls in a process set up thread pools and buffers, which is not what a query
    costs. None: only when this process has not run these steps live yet.
    """
    if not query or not query.strip():
        raise CascadeError("the query is empty: type something to search for")
    key = tuple(plan.scorer_ids)
    if warm_up or (warm_up is None and key not in _warm):
        first = live_run(plan, query, warm_up=False)
        _warm.add(key)
        return _with_warmup(live_run(plan, query, warm_up=False), first.total_ms)
    spec, corpus = plan.spec, plan.corpus
    plan.retriever.prepare()
    with timed(step_threads(plan.retriever)) as clock:
        ids, first = plan.retriever.retrieve(query, spec.pool_size)
    timings = [clock.timing]
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
        with timed(step_threads(scorer)) as clock:
            scores = scorer.score(query, cand)
        timings.append(clock.timing)
        matrix.stage_scores[s][0, cols] = scores
        scored.append(len(cand))
    run = simulate(spec, matrix)
    steps = []
    for step, timing, n_scored in zip(run.steps, timings, scored):
        cols, valid = step.kept()
        keep_cols = cols[0][valid[0]]
        steps.append(LiveStep(step.name, [corpus.documents[p].id for p in docs[0, keep_cols]],
                              step.scores[0, : len(keep_cols)], n_scored, timing.wall_s * 1000.0,
                              timing.quiet_s * 1000.0))
    return LiveResult(query, steps, spec.final_k)


def _with_warmup(result: LiveResult, warmup_ms: float) -> LiveResult:
    result.warmup_ms = warmup_ms
    return result


@dataclass
class LiveMeasurement:
    """N queries run live (:func:`measure_live`): per step and in ``"total"``, p50/p95/p99 in ms,
    quiet-equivalent (the basis of every prediction) and wall clock; the warm-up runs apart; how
    busy the machine was (the share of the time the work waited for a core; the load average at
    the start and the end).

    >>> m = LiveMeasurement(20, {"total": {"p50": 10.0, "p95": 14.0, "p99": 15.0}},
    ...                     {"total": {"p50": 19.0, "p95": 30.0, "p99": 33.0}}, [250.0], 0.46, (3.8, 4.1), 2)
    >>> print(m.describe())
    20 queries run live after 1 warm-up run (250.0 ms, not counted). Quiet-equivalent p50/p95/p99: 10.0 / 14.0 / 15.0 ms; wall clock: 19.0 / 30.0 / 33.0 ms. The machine was busy: the work waited for a core 46% of the time (load average 3.8 -> 4.1 on 2 cores).
    """

    queries: int
    quiet: dict[str, dict[str, float]]
    wall: dict[str, dict[str, float]]
    warmup_ms: list[float] = field(default_factory=list)
    waited: float = float("nan")
    load: tuple[float, float] = (float("nan"), float("nan"))
    cores: int = 1

    @property
    def total(self) -> dict[str, float]:
        """End to end, quiet-equivalent: what a prediction is compared with."""
        return self.quiet["total"]

    @property
    def busy(self) -> bool:
        return busy_note(self.waited, max(self.load), self.cores) is not None

    def load_line(self) -> str:
        """How busy the machine was during the run, in one sentence."""
        if not math.isfinite(self.waited):
            return (f"This system does not report waits for a core: quiet-equivalent is the wall clock (load average "
                    f"{self.load[0]:.1f} -> {self.load[1]:.1f} on {self.cores} cores).")
        return run_load_line(self.waited, self.load, self.cores)

    def describe(self, load: bool = True) -> str:
        """The run in a few sentences; ``load=False``: without :meth:`load_line` (a page that
        shows it apart)."""
        q, w = self.quiet["total"], self.wall["total"]
        warm = (f" after {len(self.warmup_ms)} warm-up run{'s' if len(self.warmup_ms) != 1 else ''} "
                f"({', '.join(f'{x:.1f} ms' for x in self.warmup_ms)}, not counted)") if self.warmup_ms else ""
        return (f"{self.queries} queries run live{warm}. Quiet-equivalent p50/p95/p99: {q['p50']:.1f} / {q['p95']:.1f} / "
                f"{q['p99']:.1f} ms; wall clock: {w['p50']:.1f} / {w['p95']:.1f} / {w['p99']:.1f} ms."
                + (f" {self.load_line()}" if load else ""))

    def to_dict(self) -> dict:
        return {"queries": self.queries, "quiet_equivalent": self.quiet, "wall_clock": self.wall,
                "warmup_ms": self.warmup_ms, "waited_for_a_core": self.waited, "load_average": list(self.load),
                "cores": self.cores, "machine": self.load_line()}


def measure_live(plan, texts: list[str], warm_ups: int = 1) -> LiveMeasurement:
    """Run ``texts`` live through ``plan`` after ``warm_ups`` untimed runs of the first (kept
    apart, labelled): per step and total, quiet-equivalent and wall-clock percentiles."""
    if not texts:
        raise CascadeError("no queries to run live")
    load_start = load_average()
    warmups = [live_run(plan, texts[0], warm_up=False).total_ms for _ in range(warm_ups)]
    _warm.add(tuple(plan.scorer_ids))
    waits = []
    results = []
    for text in texts:
        with timed() as clock:   # the whole query: its wait for a core is the run's
            results.append(live_run(plan, text, warm_up=False))
        waits.append(clock.timing)
    names = [s.name for s in results[0].steps]
    quiet = {n: percentiles([r.steps[i].quiet_ms for r in results]) for i, n in enumerate(names)}
    wall = {n: percentiles([r.steps[i].ms for r in results]) for i, n in enumerate(names)}
    quiet["total"] = percentiles([r.quiet_ms for r in results])
    wall["total"] = percentiles([r.total_ms for r in results])
    known = [t for t in waits if math.isfinite(t.wait_s)]
    wall_s = sum(t.wall_s for t in known)
    waited = sum(t.wait_s for t in known) / wall_s if known and len(known) == len(waits) and wall_s > 0 else float("nan")
    return LiveMeasurement(len(texts), quiet, wall, warmups, waited, (load_start, load_average()), cores())
