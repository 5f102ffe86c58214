"""Re-measure: time every step again on a sample of stored candidates, and record fresh costs.

Scoring records timings once, whenever it ran: on a busy machine, or before a library upgrade,
they overprice (or underprice) every prediction since. :func:`calibrate` runs each step's real
model again on ``n_queries`` queries (spread over the set) over the candidates that reach it under
the spec, stores *no* score, and records the timed calls with their CPU time and their wait for a
core (:mod:`cascade_core.latency.timing`). Cost models read the latest recording first
(:meth:`CostModel.from_records <cascade_core.latency.model.CostModel.from_records>`), so every later
prediction uses these. ``cascade calibrate`` and the Flow page's Re-measure button call it.

>>> # report = calibrate(plan, queries, n_queries=20); print(report.describe())
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cascade.simulate import simulate
from ..errors import CascadeError, MissingScoresError
from ..latency.timing import busy_note, calibration_parts, cores, load_average, run_load_line, step_threads, timed
from ..progress import ProgressCallback, ProgressTracker
from ..store.provenance import step_provenance
from .ensure import first_pass_todo, is_listwise, load_matrix

DEFAULT_QUERIES = 20


@dataclass
class CalibrationReport:
    """What :func:`calibrate` timed: per step, calls and the median ms per call (quiet-equivalent,
    and wall clock as timed); how busy the CPU was (the share of the time the work waited for a
    core, the load average at the start and the end).

    >>> r = CalibrationReport({"ce": 20}, {"ce": 10.0}, {"ce": 19.0}, 0.47, (3.9, 4.2), 20)
    >>> print(r.describe())
    Re-measured on 20 queries (ce: 20 calls, median 10.0 ms quiet-equivalent, 19.0 ms wall clock). The CPU was busy: the work waited for a core 47% of the time (load average 3.9 -> 4.2 on 2 cores); predictions use the time the work ran. Predictions now use these timings.
    """

    calls: dict[str, int] = field(default_factory=dict)
    median_ms: dict[str, float] = field(default_factory=dict)
    wall_median_ms: dict[str, float] = field(default_factory=dict)
    waited: float = float("nan")
    load: tuple[float, float] = (float("nan"), float("nan"))
    queries: int = 0
    cores: int = 2

    def describe(self) -> str:
        steps = "; ".join(f"{name}: {n} calls, median {self.median_ms[name]:.1f} ms quiet-equivalent, "
                          f"{self.wall_median_ms[name]:.1f} ms wall clock" for name, n in self.calls.items())
        return f"Re-measured on {self.queries} queries ({steps}). {self.cpu_line()} Predictions now use these timings."

    def cpu_line(self) -> str:
        """How busy the CPU was while timed, in one sentence."""
        line = run_load_line(self.waited, self.load, self.cores, subject="The CPU")
        busy = self.waited == self.waited and busy_note(self.waited, max(self.load), self.cores) is not None
        return line[:-1] + "; predictions use the time the work ran." if busy else line


def sample_ids(ids: list[str], n: int) -> list[str]:
    """``n`` ids spread evenly over ``ids`` (all of them when there are fewer).

    >>> sample_ids(list("abcdefghij"), 3)
    ['a', 'd', 'g']
    """
    if n >= len(ids):
        return list(ids)
    step = len(ids) / n
    return [ids[int(i * step)] for i in range(n)]


def calibrate(plan, queries, n_queries: int = DEFAULT_QUERIES, progress: ProgressCallback | None = None
              ) -> CalibrationReport:
    """Time each step of ``plan.spec`` on ``n_queries`` queries' stored candidates; record the
    calls as fresh costs (no score is stored). The first pass and every earlier stage must have
    been scored (the candidates a stage receives come from them).

    Steps are timed query by query, the first pass then each stage in turn, as a live query runs
    them (and production does): timed step after step in bulk, as scoring does, each call finds
    its model's threads and caches warm from the call before, and a live query measured ~35%
    slower than that on a quiet machine (the demo cascade: 10.8 ms predicted, 14.9 ms live).
    """
    sample = queries.subset(sample_ids(queries.ids, n_queries))
    if first_pass_todo(plan, sample):
        raise CascadeError("re-measuring needs the first pass stored for these queries: score the cascade "
                           "first (cascade eval, or open Flow)")
    store, fp, spec, corpus = plan.workspace.store, plan.corpus.fingerprint, plan.spec, plan.corpus
    report = CalibrationReport(queries=len(sample.ids))
    texts = [sample.text_of(q) for q in sample.ids]

    # Each step's work per query (None: a first-pass retrieval), from stored scores; models loaded.
    plan.retriever.prepare(progress)
    steps = [(spec.stage_names[0], plan.retriever, [None] * len(texts))]
    for s, (stage, scorer) in enumerate(zip(spec.stages, plan.scorers)):
        try:
            run = simulate(spec.prefix(s), load_matrix(plan.with_spec(spec.prefix(s)), sample))
        except MissingScoresError:
            raise CascadeError(f"re-measuring {stage.name!r} needs the steps before it scored: score the cascade "
                               "first (cascade eval, or open Flow)") from None
        cols, valid = run.steps[-1].kept()
        docs = np.take_along_axis(run.matrix.docs, cols, axis=1)
        cands = [[corpus.documents[p].id for p in docs[i][valid[i]]] for i in range(len(texts))]
        scorer.prepare(sorted({d for c in cands for d in c}), progress)
        steps.append((stage.name, scorer, cands))
    for _, step, work in steps:   # one untimed call each: one-off set-up is not a query's cost
        i = next((i for i, c in enumerate(work) if c is None or c), None)
        if i is not None:
            _call(step, texts[i], None if work[i] is None else work[i][:1], spec.pool_size)
    run_ids = [store.start_run(step.id, fp, step_provenance(step)) for _, step, _ in steps]
    costs = [[] for _ in steps]
    tracker = ProgressTracker("re-measuring each step", len(texts), progress, "queries")
    threads = [step_threads(step) for _, step, _ in steps]
    load_start = load_average()
    try:
        for i, text in enumerate(texts):
            for k, (_, step, work) in enumerate(steps):
                cands = work[i]
                if cands is not None and not cands:
                    continue
                # Half the queries in two calls of different sizes: the fit needs both (see calibration_parts).
                parts = [None] if cands is None else [cands] if is_listwise(step) else calibration_parts(
                    cands, i, len(texts), n_calibrate=max(1, len(texts) // 2))
                for part in parts:
                    with timed(threads[k]) as clock:
                        n = _call(step, text, part, spec.pool_size)
                    costs[k].append((n, len(text) + sum(len(corpus.text_of(d)) for d in part or []), clock.timing))
            tracker.advance(1)
    finally:
        for (name, step, _), run_id, calls in zip(steps, run_ids, costs):
            if calls:
                store.record_costs(step.timing_key, calls, run=run_id)
    for (name, _, _), calls in zip(steps, costs):
        if calls:
            report.calls[name] = len(calls)
            report.median_ms[name] = float(np.median([c[2].quiet_s for c in calls]) * 1000.0)
            report.wall_median_ms[name] = float(np.median([c[2].wall_s for c in calls]) * 1000.0)
    timings = [c[2] for calls in costs for c in calls]
    wall = sum(t.wall_s for t in timings)
    waits = [t.wait_s for t in timings]
    report.waited = sum(waits) / wall if timings and wall > 0 and all(w == w for w in waits) else float("nan")
    report.load, report.cores = (load_start, load_average()), cores()
    return report


def _call(step, text: str, part, pool_size: int) -> int:
    """One timed unit of work: a first-pass retrieval (``part`` None) or a stage's scoring call;
    returns the pairs it handled, as scoring records them."""
    if part is None:
        ids, _ = step.retrieve(text, pool_size)
        return len(ids)
    step.score(text, part)
    return len(part)
