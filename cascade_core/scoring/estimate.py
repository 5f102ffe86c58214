"""Before any long scoring: what is missing, and how long scoring it will take (no model call).

:func:`estimate_scoring` is :func:`~cascade_core.scoring.ensure.ensure_scores` as a dry run: per step,
the queries or (query, document) pairs not stored yet (the same :func:`~cascade_core.scoring.ensure.stage_work`
that scoring uses), priced by the step's cost model *as measured on this machine* (scoring runs
here, whatever the spec's cost profiles say about production), or by a stated default rate when
the step was never timed. Where an earlier step's scores are missing too, nobody knows yet which
candidates reach a stage: its count is then an upper bound ("up to").

The dashboard shows it before scoring and asks first above :data:`CONFIRM_ABOVE_S`; the CLI
prints it.

>>> est = ScoringEstimate([StepEstimate("first pass", "bm25", 300, 300, 6.0, "measured here", first_pass=True),
...                        StepEstimate("cross", "ce", 300, 30000, 900.0, "default 30 ms/pair", exact=False)])
>>> print(est.describe())
first pass: 300 queries (~6 s, measured here); cross: up to 30,000 pairs (~15 min, default 30 ms/pair): about 15 min in all
>>> est.needs_confirmation
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import MissingScoresError
from ..formats import duration
from ..latency.model import CostModel, pairs_per_query
from ..latency.timing import cores, load_average
from ..store.provenance import cost_source
from ..store.scores import query_key
from ..store.shipped import VERIFY_QUERIES, find_shipped_scores
from .ensure import first_pass_todo, is_listwise, stage_work

CONFIRM_ABOVE_S = 120.0     # a job estimated longer than this asks before it starts
# Rates assumed for a step never timed on this machine: (ms per call, ms per pair), by the kind's
# declared cost shape. Cautious (a MiniLM cross-encoder costs ~10-50 ms per pair on 2 CPU cores):
# overestimating a job asks once too often; underestimating starts a 40-minute job unannounced.
DEFAULT_RATES = {"per-pair": (5.0, 30.0), "per-query": (20.0, 0.2), "stated": (0.1, 0.0), "remote": (100.0, 2.0)}
DEFAULT_FIRST_PASS_MS = 50.0


@dataclass(frozen=True)
class StepEstimate:
    step: str
    scorer_id: str
    queries: int           # queries with something to score
    units: int             # queries (first pass) or pairs (a stage) to score
    seconds: float
    basis: str             # where the rate comes from: "measured here" or the default used
    exact: bool = True     # False: an upper bound (an earlier step is not scored yet)
    first_pass: bool = False

    def describe(self) -> str:
        what = f"{self.units:,} {'queries' if self.first_pass else 'pairs'}"
        return f"{self.step}: {'' if self.exact else 'up to '}{what} (~{duration(self.seconds)}, {self.basis})"


@dataclass(frozen=True)
class ScoringEstimate:
    """Every step's estimate, at a quiet machine's speed (the timings' quiet-equivalent); ``busy``:
    the load now when it exceeds the cores (the job will then take longer), else None.

    >>> print(ScoringEstimate([StepEstimate("ce", "ce", 2, 20, 3.0, "measured here")],
    ...                       busy="load average 4.0 on 2 cores").describe())
    ce: 20 pairs (~3 s, measured here): about 3 s in all on a quiet machine; longer now (load average 4.0 on 2 cores)
    """

    steps: list[StepEstimate]
    busy: str | None = None

    @property
    def seconds(self) -> float:
        return float(sum(s.seconds for s in self.steps))

    @property
    def empty(self) -> bool:
        return not any(s.units for s in self.steps)

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_ABOVE_S

    def describe(self) -> str:
        if self.empty:
            return "nothing to score: every score needed is stored"
        return ("; ".join(s.describe() for s in self.steps if s.units) + f": about {duration(self.seconds)} in all"
                + (f" on a quiet machine; longer now ({self.busy})" if self.busy else ""))


def _model(store, step, per_query: bool) -> CostModel:
    """A step's cost model from its timed calls on the device it runs on."""
    model = CostModel.from_records(step.id, store.cost_rows(step.timing_key), per_query=per_query)
    return replace(model, source=cost_source(store, step.timing_key)) if model.n_calls else model


def shipped_left(shipped, work: list[tuple[str, int, list | None]]) -> list[int]:
    """The pair counts left to score once scores shipped with the dataset are taken: all of
    them without a file; with one, the first :data:`VERIFY_QUERIES` covered queries (scored to
    check the file) and those it does not cover. ``work``: ``(query key, pairs, doc ids or None)``;
    None (which candidates reach the stage is not known yet) counts a query the file has as covered."""
    if shipped is None:
        return [n for _, n, _ in work]
    left, checked = [], 0
    for key, n, docs in work:
        covered = shipped.covers(key, docs) if docs is not None else key in shipped.by_query
        if covered and checked >= VERIFY_QUERIES:
            continue
        checked += covered
        left.append(n)
    return left


def estimate_scoring(plan, queries) -> ScoringEstimate:
    """What :func:`~cascade_core.scoring.ensure.ensure_scores` would score for ``plan.spec`` on
    ``queries``, and about how long it would take: a dry run, no model call."""
    store, spec = plan.workspace.store, plan.spec
    steps = []
    todo = first_pass_todo(plan, queries)
    fp_model = _model(store, plan.retriever, per_query=True)
    if fp_model.known:
        fp_ms, basis = fp_model.predict_ms(spec.pool_size), fp_model.source
    else:
        fp_ms, basis = DEFAULT_FIRST_PASS_MS, f"default {DEFAULT_FIRST_PASS_MS:g} ms/query"
    steps.append(StepEstimate("first pass", plan.retriever.id, len(todo), len(todo), len(todo) * fp_ms / 1000,
                              basis, first_pass=True))
    exact = not todo
    # Upper bounds when an earlier step is missing: every query's list as long as the pool.
    bound = pairs_per_query(spec, [spec.pool_size] * len(queries.ids))
    for s, (stage, scorer) in enumerate(zip(spec.stages, plan.scorers)):
        shipped = None if is_listwise(scorer) else find_shipped_scores(plan.corpus, scorer.id)[0]
        if exact:
            try:
                work = stage_work(plan, queries, s)
            except MissingScoresError:
                exact = False
        if exact:
            todo = [(query_key(t), len(need), need) for t, need in work]
        else:
            keys = [query_key(queries.text_of(q)) for q in queries.ids]
            todo = [(k, int(n), None) for k, n in zip(keys, bound[s + 1]) if n]
        sizes = shipped_left(shipped, todo)
        from_file = sum(n for _, n, _ in todo) - sum(sizes)   # pairs the shipped file will give
        model = _model(store, scorer, per_query=False)
        if model.known:
            ms, basis = model.predict_ms(np.asarray(sizes, dtype=float)), model.source
        else:
            fixed, per_pair = DEFAULT_RATES.get(getattr(scorer, "cost_shape", "per-pair"), DEFAULT_RATES["per-pair"])
            ms = fixed + per_pair * np.asarray(sizes, dtype=float)
            basis = f"not timed yet: default {per_pair:g} ms/pair + {fixed:g} ms/query"
        if from_file:
            basis += (f"; {from_file:,} more from scores shipped with the dataset, once the first queries agree "
                      "with them")
        steps.append(StepEstimate(stage.name, scorer.id, len(sizes), int(sum(sizes)),
                                  float(np.sum(ms)) / 1000 if sizes else 0.0, basis, exact))
    load, n_cores = load_average(), cores()
    return ScoringEstimate(steps, f"load average {load:.1f} on {n_cores} cores" if load > n_cores else None)
