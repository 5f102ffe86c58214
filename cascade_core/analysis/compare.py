"""Does each stage pay for itself? The cascade against a single pass, each stage's lift, and
per-query wins and losses with paired significance tests.

Three questions, each answered from stored scores (no model call):

* **single pass**: the cascade against its *single-pass baseline*, the heaviest stage run over
  the whole first-pass pool (:func:`baseline_spec`): quality and predicted latency side by side;
* **lift**: each stage's gain in recall@10 and nDCG@10 over the same spec without it
  (:func:`without_stage`), in points (100 x the difference); a stage that lifts no metric by at
  least 2 points is flagged: it does not pay for itself;
* **wins and losses**: per query, which of two specs does better, with the Wilcoxon signed-rank
  test and the paired t-test from ``scipy.stats`` (:func:`paired_test`).

The baseline and the specs without a stage use other scorers than the cascade, and
:meth:`Experiment.run` refuses a spec with other scorers: each needs its own
:class:`~cascade_core.analysis.experiment.Experiment`. The functions here take a *factory*
``spec -> Experiment`` (:func:`experiment_factory` makes one that caches an experiment per set of
scorers; the dashboard passes ``cascade_ui.state.experiment``). The score store is shared, so
nothing already scored is scored again. Where a compared spec needs scores never computed (the
heavy stage over the whole pool, say), its outcome says so instead of guessing;
:func:`score_missing` scores exactly what is missing.

>>> from cascade_core.cascade import CascadeSpec
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 200, "stages": [
...     {"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 50},
...     {"scorer": {"kind": "cross-encoder", "model": "c"}, "keep": 20}], "final_k": 10})
>>> baseline_spec(spec).describe()     # costs unknown: the last stage counts as the heaviest
'bm25 -> 200 -> cross-encoder(c) -> 20 -> final 10'
>>> without_stage(spec, 0).describe()
'bm25 -> 200 -> cross-encoder(c) -> 20 -> final 10'
>>> without_stage(spec, 1).describe()
'bm25 -> 200 -> bi-encoder(m) -> 50 -> final 10'
>>> t = paired_test([0.5, 0.7, 0.9, 0.4], [0.5, 0.6, 0.7, 0.1])
>>> (t.wins, t.losses, t.ties), round(t.mean_diff, 3)
((3, 0, 1), 0.15)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..cascade.simulate import ScoreMatrix
from ..cascade.spec import CascadeSpec
from ..errors import CascadeError, MissingScoresError
from ..fusion import Replace
from ..latency.model import CostModel, LatencyReport, apply_profiles, predict_spec_latency
from ..scoring.estimate import ScoringEstimate
from .experiment import Experiment

LIFT_METRICS = ("ndcg@10", "mrr@10", "recall@10")
MIN_LIFT_POINTS = 2.0           # a stage must lift some metric by 2 points to pay for itself
RANKING_DROP_POINTS = 0.5       # ... and never lower the ranking (nDCG@10, MRR@10) by half a point or more
RANKING_METRICS = ("ndcg@10", "mrr@10")
COMPARE_METRICS = ("ndcg@10", "recall@10", "mrr@10")


class RunsSpecs(Protocol):
    """What the comparisons need of an experiment (an :class:`~cascade_core.analysis.experiment.Experiment`)."""

    def run(self, spec: CascadeSpec | None = None, budget_ms: float | None = None): ...

    def ensure_scores(self, spec: CascadeSpec | None = None, progress=None): ...


ExperimentFactory = Callable[[CascadeSpec], RunsSpecs]


def experiment_factory(dataset, workspace, queries=None) -> ExperimentFactory:
    """``spec -> Experiment``, one experiment (and one loaded score matrix) per set of scorers.

    >>> # make = experiment_factory(dataset, workspace); make(baseline).run(baseline)
    """
    cache: dict = {}

    def make(spec: CascadeSpec):
        key = spec.scorer_key()
        if key not in cache:
            cache[key] = Experiment(dataset, spec, workspace, queries)
        return cache[key]

    return make


# -- derived specs ----------------------------------------------------------------------------

def heaviest_stage(spec: CascadeSpec, cost_models: Sequence[CostModel] | None = None) -> int:
    """Index (into ``spec.stages``) of the stage that would cost most over the whole pool.

    "Heaviest" is the predicted cost of scoring the pool, ``fixed + per_pair x pool``, rather than
    the per-pair cost alone: a bi-encoder that reuses stored document vectors has a per-pair cost
    near 0 and all its cost in encoding the query, yet it is heavier than a BM25 rescoring stage.
    Ties go to the later stage; when any stage's cost is unknown the last stage counts as the
    heaviest (cascades are built cheap to expensive). Costs are the spec's cost profiles (a
    cross-encoder priced on a GPU may no longer be the heaviest).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "cross-encoder", "model": "c"}, "keep": 20},
    ...                {"scorer": {"kind": "bm25"}, "keep": 10}]})
    >>> models = [CostModel("fp", 2, 0, 5), CostModel("ce", 1, 5, 5), CostModel("bm", 0, 0.01, 5)]
    >>> heaviest_stage(spec, models)
    0
    """
    if not spec.stages:
        raise CascadeError("this cascade has no rerank stage: there is no heaviest stage to compare with")
    models = apply_profiles(spec, list(cost_models or []))[1:]
    if len(models) < len(spec.stages) or not all(m.known for m in models[: len(spec.stages)]):
        return len(spec.stages) - 1
    costs = [m.predict_ms(spec.pool_size) for m in models[: len(spec.stages)]]
    return max(range(len(costs)), key=lambda i: (costs[i], i))


def baseline_spec(spec: CascadeSpec, cost_models: Sequence[CostModel] | None = None) -> CascadeSpec:
    """The single-pass baseline: the same first pass and pool, then only the heaviest stage.

    That stage scores the whole pool on its own (``combine: replace``: its own score, not fused
    with a stage that is no longer there) and keeps ``max(final_k, its keep)`` capped at the
    pool, so the final list is as long as the cascade's; ``final_k`` is the cascade's.
    """
    h = heaviest_stage(spec, cost_models)
    stage = spec.stages[h]
    keep = min(spec.pool_size, max(spec.final_k, stage.keep))
    return replace(spec, stages=(replace(stage, keep=keep, fusion=Replace()),),
                   final_k=min(spec.final_k, keep), name=f"single pass: {stage.name}")


def without_stage(spec: CascadeSpec, index: int) -> CascadeSpec:
    """``spec`` with stage ``index`` (0-based) removed; always a valid spec.

    Removing one cut-off from a non-increasing list leaves it non-increasing, and the last keep
    can only grow, so the other cut-offs and ``final_k`` stay as they are (``final_k`` is clipped
    to the new last keep all the same). A later stage that fuses (``rrf``, ``norm-sum``) now fuses
    with what the stage before the removed one passed on: that is what the spec without it does.
    """
    if not 0 <= index < len(spec.stages):
        raise CascadeError(f"stage {index + 1} does not exist: this cascade has {len(spec.stages)} stages")
    stages = spec.stages[:index] + spec.stages[index + 1:]
    last = stages[-1].keep if stages else spec.pool_size
    return replace(spec, stages=stages, final_k=min(spec.final_k, last),
                   name=f"without {spec.stages[index].name}")


def same_ranking(a: CascadeSpec, b: CascadeSpec) -> bool:
    """Whether two specs rank identically (everything but their names and cost profiles is equal)."""
    strip = lambda s: {k: v for k, v in s.to_dict().items() if k not in ("name", "costs")}  # noqa: E731
    return strip(a) == strip(b)


def list_lengths(matrix: ScoreMatrix) -> np.ndarray:
    """Each query's first-pass list length in the stored matrix."""
    return matrix.lengths


def predicted_latency(spec: CascadeSpec, cost_models: Sequence[CostModel], lengths=None,
                      budget_ms: float | None = None) -> LatencyReport:
    """Predicted cost per query of ``spec`` from cost models alone: no scores needed.

    The pairs per step are counted by :func:`~cascade_core.latency.model.pairs_per_step` (as every
    prediction is), given each query's first-pass list length (``lengths``; default: every list as
    long as the pool). So a spec whose scores are not stored yet still gets its latency.

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}]})
    >>> rep = predicted_latency(spec, [CostModel("fp", 2, 0, 5), CostModel("s", 0, 0.5, 5)], lengths=[100, 40])
    >>> [s.n_pairs for s in rep.stages], rep.total_ms
    ([70.0, 70.0], 37.0)
    """
    return predict_spec_latency(spec, [spec.pool_size] if lengths is None else lengths, cost_models, budget_ms)


def models_for(derived: CascadeSpec, spec: CascadeSpec, cost_models: Sequence[CostModel]) -> list[CostModel]:
    """The cascade's cost models picked for a derived spec's steps (matched by step name)."""
    by_name = dict(zip(spec.stage_names, cost_models))
    return [by_name[name] for name in derived.stage_names]


# -- running other specs ----------------------------------------------------------------------

@dataclass
class SpecOutcome:
    """One compared spec: its simulated result, or why it has none (scores missing)."""

    spec: CascadeSpec
    result: object | None            # ExperimentResult; None while scores are missing
    latency: LatencyReport           # predicted, available either way
    missing: str | None = None       # the MissingScoresError message

    @property
    def means(self) -> dict[str, float]:
        if self.result is None or self.result.evaluation is None:
            return {}
        return self.result.evaluation.final.means


def outcome(make_experiment: ExperimentFactory, spec: CascadeSpec, latency: LatencyReport) -> SpecOutcome:
    """Simulate ``spec`` in its own experiment; a missing score is reported, not raised."""
    try:
        return SpecOutcome(spec, make_experiment(spec).run(spec), latency)
    except MissingScoresError as exc:
        return SpecOutcome(spec, None, latency, str(exc))


def score_missing(make_experiment: ExperimentFactory, specs: Sequence[CascadeSpec], progress=None) -> list:
    """Score (once, stored) what each spec needs and lacks; returns the scoring reports."""
    return [make_experiment(s).ensure_scores(s, progress=progress) for s in specs]


def estimate_missing(make_experiment: ExperimentFactory, specs: Sequence[CascadeSpec]):
    """What :func:`score_missing` would score and about how long it would take (a dry run, no
    model call: :func:`cascade_core.scoring.estimate.estimate_scoring` per spec; a scorer two specs share
    is counted for each, so it errs long)."""
    return ScoringEstimate([step for s in specs for step in make_experiment(s).estimate(s).steps])


# -- the single-pass baseline -----------------------------------------------------------------

@dataclass
class BaselineComparison:
    """The cascade and its single-pass baseline, side by side."""

    cascade: SpecOutcome
    baseline: SpecOutcome
    heaviest: str                    # the heaviest stage's name
    same_as_cascade: bool            # a one-stage cascade is its own baseline

    @property
    def latency_ratio(self) -> float:
        """Cascade / baseline predicted ms (below 1: the cascade is faster)."""
        b = self.baseline.latency.total_ms
        return self.cascade.latency.total_ms / b if b > 0 else float("nan")

    def table(self, metrics: Sequence[str] = COMPARE_METRICS) -> pd.DataFrame:
        """Rows: cascade, single-pass baseline, their ratio. Columns: quality, predicted ms.

        Quality is NaN for the baseline while its scores are missing; the latency is predicted
        from the cost models either way.
        """
        rows = {}
        for label, o in (("cascade", self.cascade), ("single pass", self.baseline)):
            means = o.means
            rows[label] = {**{m: means.get(m, float("nan")) for m in metrics},
                           "predicted ms": o.latency.total_ms}
        ratio = {c: _ratio(rows["cascade"][c], rows["single pass"][c]) for c in rows["cascade"]}
        rows["cascade / single pass"] = ratio
        return pd.DataFrame(rows).T.rename_axis("spec")


def single_pass(cascade, cost_models: Sequence[CostModel], make_experiment: ExperimentFactory) -> BaselineComparison:
    """Compare a cascade's result (an ``ExperimentResult``) with its single-pass baseline."""
    spec, lengths = cascade.run.spec, list_lengths(cascade.run.matrix)
    base = baseline_spec(spec, cost_models)
    base_latency = predicted_latency(base, models_for(base, spec, cost_models), lengths)
    own = SpecOutcome(spec, cascade, predicted_latency(spec, cost_models, lengths))
    return BaselineComparison(own, outcome(make_experiment, base, base_latency), base.stages[0].name,
                              same_ranking(spec, base))


# -- lift -------------------------------------------------------------------------------------

@dataclass
class StageLift:
    stage: str
    without: SpecOutcome
    lift: dict[str, float]           # metric -> points (100 x difference); NaN while missing
    min_points: float = MIN_LIFT_POINTS
    tests: dict[str, "PairedComparison"] = field(default_factory=dict)   # metric -> with vs without

    @property
    def pays(self) -> bool | None:
        """Some metric lifted by at least ``min_points``, and no ranking metric (nDCG@10, MRR@10)
        lowered by ``RANKING_DROP_POINTS`` or more (None while the scores are missing).

        One metric is enough: a stage that lifts nDCG@10 by 10 points pays for itself even when
        recall@10 was already saturated and cannot move. But a stage that brings relevant documents
        into the top 10 while ranking them worse does not: it is the doctor's harmful stage.
        """
        vals = [v for v in self.lift.values() if not math.isnan(v)]
        if not vals:
            return None
        return max(vals) >= self.min_points and not self.lowers_ranking

    @property
    def lowers_ranking(self) -> bool:
        return any(self.lift.get(m, 0.0) <= -RANKING_DROP_POINTS for m in RANKING_METRICS)

    @property
    def verdict(self) -> str:
        """The judgement in words, for tables."""
        if self.pays is None:
            return "not known: scores missing"
        if self.pays:
            return "pays for itself"
        if self.lowers_ranking:
            return "does not pay: it lowers the ranking"
        return f"does not pay: lifts no metric by {self.min_points:g} points"


@dataclass
class LiftReport:
    rows: list[StageLift]
    metrics: tuple[str, ...]
    min_points: float

    @property
    def missing(self) -> list[CascadeSpec]:
        """Specs without a stage whose scores are not stored yet."""
        return [r.without.spec for r in self.rows if r.without.result is None]

    @property
    def flagged(self) -> list[str]:
        return [r.stage for r in self.rows if r.pays is False]

    def table(self) -> pd.DataFrame:
        """One row per stage: lift per metric (points), under-threshold flags, the verdict."""
        records = []
        for r in self.rows:
            rec = {"stage": r.stage, "verdict": r.verdict}
            for m in self.metrics:
                rec[f"{m} lift (points)"] = r.lift[m]
            for m in self.metrics:
                rec[f"{m} Wilcoxon p"] = r.tests[m].wilcoxon_p if m in r.tests else float("nan")
            rec["pays for itself"] = r.pays
            rec["compared with"] = r.without.spec.describe()
            records.append(rec)
        return pd.DataFrame(records).set_index("stage")


def stage_lifts(cascade, make_experiment: ExperimentFactory, metrics: Sequence[str] = LIFT_METRICS,
                min_points: float = MIN_LIFT_POINTS, cost_models: Sequence[CostModel] | None = None) -> LiftReport:
    """Each stage's lift: the cascade's final metrics minus those of the spec without that stage,
    in points, with the Wilcoxon p-value of each (per query, with vs without the stage)."""
    spec, lengths = cascade.run.spec, list_lengths(cascade.run.matrix)
    if cascade.evaluation is None:
        raise CascadeError("lift needs relevance judgments: this dataset has none")
    have = cascade.evaluation.final.means
    rows = []
    for i, stage in enumerate(spec.stages):
        other = without_stage(spec, i)
        latency = (predicted_latency(other, models_for(other, spec, cost_models), lengths)
                   if cost_models is not None else LatencyReport([], None))
        out = outcome(make_experiment, other, latency)
        base = out.means
        lift = {m: 100.0 * (have[m] - base[m]) if m in base else float("nan") for m in metrics}
        tests = {m: wins_losses(cascade, out.result, m) for m in metrics} if out.result is not None else {}
        rows.append(StageLift(stage.name, out, lift, min_points, tests))
    return LiftReport(rows, tuple(metrics), min_points)


# -- per-query wins and losses ------------------------------------------------------------------

@dataclass
class PairedComparison:
    """Per-query comparison of A against B on one metric, with two paired tests."""

    metric: str
    n: int                           # queries compared (both defined)
    wins: int                        # A better
    losses: int                      # A worse
    ties: int
    mean_a: float
    mean_b: float
    mean_diff: float                 # mean of A - B
    wilcoxon_p: float
    ttest_p: float
    notes: list[str] = field(default_factory=list)
    diffs: pd.Series = field(default_factory=lambda: pd.Series(dtype=float), repr=False)

    def summary(self) -> dict:
        return {"queries": self.n, "wins": self.wins, "losses": self.losses, "ties": self.ties,
                "mean A": self.mean_a, "mean B": self.mean_b, "mean difference": self.mean_diff,
                "Wilcoxon p": self.wilcoxon_p, "paired t-test p": self.ttest_p}


def paired_test(a, b, metric: str = "", tie_tol: float = 1e-9) -> PairedComparison:
    """Wins, losses, ties of ``a`` against ``b`` (paired by position or by a Series' index), the
    mean difference, and the p-values of ``scipy.stats.wilcoxon`` and ``scipy.stats.ttest_rel``.

    Pairs where either value is NaN (a query without judged-relevant documents) are left out.
    Differences within ``tie_tol`` are ties; Wilcoxon's default ``zero_method`` ("wilcox") drops
    them too. When every query ties there is no difference to test: both p-values are 1.0 and a
    note says so (older SciPy raises on all-zero differences, newer warns; neither is useful).
    """
    sa, sb = _series(a), _series(b)
    sa, sb = sa.align(sb, join="inner")
    keep = sa.notna() & sb.notna()
    sa, sb = sa[keep].astype(float), sb[keep].astype(float)
    d = sa - sb
    d[d.abs() <= tie_tol] = 0.0
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    notes: list[str] = []
    n = len(d)
    if n == 0:
        return PairedComparison(metric, 0, 0, 0, 0, float("nan"), float("nan"), float("nan"), float("nan"),
                                float("nan"), ["no query has a value on both sides"], d)
    if wins + losses == 0:
        notes.append("every query ties: there is no difference to test, so p = 1.0 "
                     "(the Wilcoxon test is undefined when all differences are zero)")
        w_p = t_p = 1.0
    else:
        w_p, t_p, why = _p_values(np.ascontiguousarray(d.to_numpy(dtype=float)).tobytes(),
                                  np.ascontiguousarray(sa.to_numpy(dtype=float)).tobytes(),
                                  np.ascontiguousarray(sb.to_numpy(dtype=float)).tobytes())
        if why is not None:
            notes.append(f"Wilcoxon test not possible: {why}")
        if math.isnan(t_p):
            notes.append("paired t-test undefined (too few queries, or no spread in the differences)")
        if wins + losses < 6:
            notes.append(f"only {wins + losses} queries differ: too few for either test to detect much")
    return PairedComparison(metric, n, wins, losses, n - wins - losses, float(sa.mean()), float(sb.mean()),
                            float(d.mean()), w_p, t_p, notes, d)


@lru_cache(maxsize=256)
def _p_values(d: bytes, a: bytes, b: bytes) -> tuple[float, float, str | None]:
    """The Wilcoxon and paired t-test p-values of :func:`paired_test` (and why Wilcoxon could not
    run, if so), from the differences and the two sides as float64 bytes: SciPy's tests cost
    milliseconds a call, and a page redrawn after a slider move often asks for the same ones (a
    cut-off below which nothing in the top 10 changes); the same bytes give the same answer."""
    with warnings.catch_warnings():
        # Tiny samples and near-constant differences make SciPy warn; the p-value says enough.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        why = None
        try:
            w_p = float(stats.wilcoxon(np.frombuffer(d), zero_method="wilcox").pvalue)
        except ValueError as exc:
            w_p, why = float("nan"), str(exc)
        t_p = float(stats.ttest_rel(np.frombuffer(a), np.frombuffer(b)).pvalue)
    return w_p, t_p, why


def wins_losses(a, b, metric: str = "ndcg@10") -> PairedComparison:
    """Per-query ``metric`` of two results (``ExperimentResult``) on their final lists: A vs B."""
    if a.evaluation is None or b.evaluation is None:
        raise CascadeError("wins and losses need relevance judgments: this dataset has none")
    return paired_test(a.evaluation.per_query("final")[metric], b.evaluation.per_query("final")[metric], metric)


def _series(x) -> pd.Series:
    return x if isinstance(x, pd.Series) else pd.Series(np.asarray(x, dtype=float))


def _ratio(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else float("nan")
