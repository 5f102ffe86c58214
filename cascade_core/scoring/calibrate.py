"""Re-measure: time every step again on a sample of stored candidates, and record fresh costs.

Scoring records timings once, whenever it ran: on a busy machine, or before a library upgrade,
they overprice (or underprice) every prediction since. :func:`calibrate` runs each step's real
model again on ``n_queries`` queries (spread over the set) over the candidates that reach it under
the spec, stores *no* score, and records the timed calls with the CPU probe timed meanwhile
(:mod:`cascade_core.latency.cpu_probe`). Cost models read the latest recording first
(:meth:`CostModel.from_records <cascade_core.latency.model.CostModel.from_records>`), so every later
prediction uses these. ``cascade calibrate`` and the Flow page's Re-measure button call it.

>>> # report = calibrate(plan, queries, n_queries=20); print(report.describe())
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..cascade.simulate import simulate
from ..errors import CascadeError, MissingScoresError
from ..latency.cpu_probe import ProbeSampler, probe_ms
from ..progress import ProgressCallback, ProgressTracker
from ..store.provenance import step_provenance
from .ensure import calibration_parts, first_pass_todo, is_listwise, load_matrix

DEFAULT_QUERIES = 20


@dataclass
class CalibrationReport:
    """What :func:`calibrate` timed: per step, calls and the median ms per call; the CPU probe."""

    calls: dict[str, int] = field(default_factory=dict)
    median_ms: dict[str, float] = field(default_factory=dict)
    probe_ms: float = float("nan")
    queries: int = 0

    def describe(self) -> str:
        steps = "; ".join(f"{name}: {n} calls, median {self.median_ms[name]:.1f} ms" for name, n in self.calls.items())
        return (f"Re-measured on {self.queries} queries ({steps}); CPU probe {self.probe_ms:.2f} ms. "
                "Predictions now use these timings.")


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
    probe = ProbeSampler()
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
                    t0 = time.perf_counter()
                    n = _call(step, text, part, spec.pool_size)
                    costs[k].append((n, len(text) + sum(len(corpus.text_of(d)) for d in part or []),
                                     time.perf_counter() - t0))
            probe.tick()
            tracker.advance(1)
    finally:
        for (name, step, _), run_id, timed in zip(steps, run_ids, costs):
            if timed:
                store.record_costs(step.timing_key, timed, run=run_id, probe_ms=probe.median())
    for (name, _, _), timed in zip(steps, costs):
        if timed:
            report.calls[name] = len(timed)
            report.median_ms[name] = float(np.median([c[2] for c in timed]) * 1000.0)
    report.probe_ms = probe.median() if probe.samples else probe_ms()
    return report


def _call(step, text: str, part, pool_size: int) -> int:
    """One timed unit of work: a first-pass retrieval (``part`` None) or a stage's scoring call;
    returns the pairs it handled, as scoring records them."""
    if part is None:
        ids, _ = step.retrieve(text, pool_size)
        return len(ids)
    step.score(text, part)
    return len(part)
