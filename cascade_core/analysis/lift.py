"""Does the cascade beat its own first pass, and does each stage beat what it was handed?

The two questions a cascade must answer before anything else, from one simulated run (no model
call, no other experiment):

* :func:`first_pass_lift` -- the final list against the first pass alone (its own top
  ``final_k``), per metric: both means, the change in points (100 x the difference), per-query
  wins and losses with the paired tests of :func:`~cascade_core.analysis.compare.paired_test`, and the
  latency the stages add on top of the first pass;
* :func:`stage_changes` -- each rerank stage's output against its input: the top of the list it
  received (in the order it received it) against the top of the list it keeps. A stage whose
  output ranks worse than its input hurts, whatever its model's reputation.

Every number is on the same queries and the same stored scores, so the paired tests apply.

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
>>> from cascade_core.analysis.evaluation import Relevance, evaluate_run
>>> # 2 queries, 4 documents; the stage moves the relevant document (column 2) up to first place.
>>> m = ScoreMatrix(["q1", "q2"], ["a", "b", "c", "d"], np.tile(np.arange(4), (2, 1)),
...                 np.tile([4.0, 3, 2, 1], (2, 1)), [np.tile([0.1, 0.2, 0.9, 0.3], (2, 1))])
>>> grades = np.zeros((2, 4)); grades[:, 2] = 1
>>> rel = Relevance(grades, np.ones((2, 1)), np.array([1, 1]))
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 4,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 4}], "final_k": 2})
>>> run = simulate(spec, m)
>>> lift = first_pass_lift(run, evaluate_run(run, None, ("ndcg@10", "mrr@10", "recall@10"), rel))
>>> # the first pass alone ships its own top 2 (final_k): the relevant document, 3rd, is not in it
>>> lift.changes["mrr@10"].first_pass, lift.changes["mrr@10"].final, lift.changes["mrr@10"].points
(0.0, 1.0, 100.0)
>>> [c.stage for c in stage_changes(run, evaluate_run(run, None, ("ndcg@10",), rel), ("ndcg@10",))]
['bi-encoder']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from ..cascade.simulate import CascadeRun
from ..formats import points  # noqa: F401 - re-exported: pages import it from here
from ..latency.model import LatencyReport
from .compare import PairedComparison, paired_test
from .evaluation import RunEvaluation

LIFT_METRICS = ("ndcg@10", "mrr@10", "recall@10")
SIGNIFICANCE = 0.05     # the p-value under which a change is called significant, in words


@dataclass
class MetricChange:
    """One metric, before and after: ``before`` is the reference (the first pass, a stage's input)."""

    metric: str
    before: float
    after: float
    test: PairedComparison          # after against before, per query

    @property
    def points(self) -> float:
        """The change in points: 100 x (after - before)."""
        return points(self.after, self.before)

    @property
    def worse(self) -> bool:
        return self.points < -1e-9

    @property
    def significant(self) -> bool:
        return not math.isnan(self.test.wilcoxon_p) and self.test.wilcoxon_p < SIGNIFICANCE

    # the first-pass view's names
    @property
    def first_pass(self) -> float:
        return self.before

    @property
    def final(self) -> float:
        return self.after

    def sentence(self) -> str:
        """The change as every page and report says it: ``nDCG@10 0.691 -> 0.737 (+4.6 points,
        significant: p = 1.2e-08; 66 queries better, 11 worse)``."""
        return f"{metric_label(self.metric)} {self.before:.3f} -> {self.after:.3f} ({self.short()})"

    def short(self) -> str:
        """``+4.6 points, significant: p = ...``: the change and how sure it is, without the means."""
        return f"{self.points:+.1f} points, {self.evidence()}"

    def describe(self, before: str = "the first pass") -> str:
        """``nDCG@10 0.691 -> 0.737 (+4.6 points against the first pass; 120 wins, 60 losses, p = 0.002)``."""
        t = self.test
        p = "p = ?" if math.isnan(t.wilcoxon_p) else f"p = {t.wilcoxon_p:.2g}"
        return (f"{metric_label(self.metric)} {self.before:.3f} -> {self.after:.3f} ({self.points:+.1f} points "
                f"against {before}; {t.wins} wins, {t.losses} losses, {p})")

    def evidence(self) -> str:
        """How sure the change is, in words: ``not significant at 5%: p = 0.62; 77 better, 66 worse``."""
        t = self.test
        p = "p = ?" if math.isnan(t.wilcoxon_p) else f"p = {t.wilcoxon_p:.2g}"
        verdict = "significant" if self.significant else f"not significant at {SIGNIFICANCE:.0%}"
        return f"{verdict}: {p}; {t.wins} {'query' if t.wins == 1 else 'queries'} better, {t.losses} worse"

    def to_dict(self) -> dict:
        t = self.test
        return {"before": self.before, "after": self.after, "change_points": self.points,
                "wins": t.wins, "losses": t.losses, "ties": t.ties,
                "wilcoxon_p": t.wilcoxon_p, "ttest_p": t.ttest_p, "worse": self.worse}


@dataclass
class FirstPassLift:
    """The final list against the first pass alone: per metric, and the latency the stages add."""

    changes: dict[str, MetricChange]
    first_pass_ms: float            # predicted; NaN without a cost record
    total_ms: float

    @property
    def added_ms(self) -> float:
        """What the rerank stages add on top of the first pass, per query (predicted)."""
        return self.total_ms - self.first_pass_ms

    @property
    def worse(self) -> list[str]:
        """The metrics on which the cascade ranks worse than its own first pass."""
        return [m for m, c in self.changes.items() if c.worse]

    def table(self) -> pd.DataFrame:
        """One row per metric: first pass, cascade, change (points), wins, losses, p-values."""
        rows = {metric_label(m): {"first pass": c.before, "cascade": c.after, "change (points)": c.points,
                                  "wins": c.test.wins, "losses": c.test.losses, "Wilcoxon p": c.test.wilcoxon_p}
                for m, c in self.changes.items()}
        return pd.DataFrame(rows).T.rename_axis("metric").astype(
            {"wins": int, "losses": int}) if rows else pd.DataFrame()

    def sentence(self, metrics=None) -> str:
        """Every metric's :meth:`MetricChange.sentence` (or only ``metrics``), joined."""
        return "; ".join(self.changes[m].sentence() for m in (metrics or self.changes))

    def worse_headline(self) -> str:
        """How the warning about a cascade worse than its first pass begins, as sure as the tests
        allow: "ranks worse" when a paired test says so, "scores lower ... (within noise)" when not.
        Always a warning (a change for the worse is never neutral), never a claim the data does not make."""
        if any(self.changes[m].significant for m in self.worse):
            return "This cascade ranks worse than its own first pass"
        return "This cascade scores lower than its own first pass on these queries (not significant: it may be noise)"

    def worse_sentence(self) -> str:
        """The metrics on which the cascade ranks worse than its first pass, each with its change."""
        return "; ".join(f"{metric_label(m)} ({self.changes[m].short()})" for m in self.worse)

    def first_pass_metrics(self) -> dict[str, float]:
        """``{"ndcg@10": ..., "mrr@10": ..., "recall@10": ...}`` of the first pass alone."""
        return {m: c.before for m, c in self.changes.items()}

    def to_dict(self) -> dict:
        return {"metrics": {m: c.to_dict() for m, c in self.changes.items()},
                "first_pass_ms": self.first_pass_ms, "total_ms": self.total_ms, "added_ms": self.added_ms,
                "worse_on": self.worse}

    def summary(self) -> str:
        """One line per metric, for terminals and reports."""
        lines = [c.describe() for c in self.changes.values()]
        if not math.isnan(self.added_ms):
            lines.append(f"The stages add {self.added_ms:.1f} ms per query (predicted) to the first pass's "
                         f"{self.first_pass_ms:.1f} ms.")
        return "\n".join(lines)


def first_pass_lift(run: CascadeRun, evaluation: RunEvaluation, latency: LatencyReport | None = None,
                    metrics: Sequence[str] = LIFT_METRICS) -> FirstPassLift:
    """The final list against the first pass alone, from one run's evaluation.

    The first pass's numbers are those of its own ranking cut at the same ``final_k``: exactly
    what a user would ship without any rerank stage (so a short final list is compared with an
    equally short one). ``latency`` (the run's prediction) gives the stages' added cost; without
    it that cost is NaN.
    """
    first, final = evaluation.first_pass_alone or evaluation.steps[0], evaluation.final
    changes = {m: _change(m, first.per_query, final.per_query) for m in metrics if m in final.per_query}
    nan = float("nan")
    first_ms = latency.stages[0].predicted_ms if latency is not None and latency.stages else nan
    total_ms = latency.total_ms if latency is not None else nan
    return FirstPassLift(changes, first_ms, total_ms)


@dataclass
class StageChange:
    """One rerank stage: the list it received (in that order) against the list it keeps."""

    stage: str
    index: int                      # 0-based into spec.stages
    changes: dict[str, MetricChange]

    @property
    def worse(self) -> list[str]:
        return [m for m, c in self.changes.items() if c.worse]


def stage_changes(run: CascadeRun, evaluation: RunEvaluation,
                  metrics: Sequence[str] = LIFT_METRICS) -> list[StageChange]:
    """Each rerank stage's own effect on the ranking: its output's metrics against its input's.

    Step ``i``'s evaluation is measured on the list it keeps, in its order, which is exactly what
    stage ``i + 1`` receives; so the two are the same candidates, ranked before and after.
    """
    out = []
    for i in range(len(run.spec.stages)):
        before, after = evaluation.steps[i], evaluation.steps[i + 1]
        out.append(StageChange(after.name, i, {m: _change(m, before.per_query, after.per_query)
                                               for m in metrics if m in after.per_query}))
    return out


def _change(metric: str, before: dict, after: dict) -> MetricChange:
    b, a = pd.Series(before[metric]), pd.Series(after[metric])
    return MetricChange(metric, float(b.mean()), float(a.mean()), paired_test(a, b, metric))


METRIC_LABELS = {"ndcg@10": "nDCG@10", "mrr@10": "MRR@10", "recall@10": "Recall@10", "recall@100": "Recall@100",
                 "map": "MAP", "precision@10": "P@10", "oracle_ndcg@10": "oracle nDCG@10",
                 "ndcg_condensed@10": "nDCG@10 condensed", "recall": "recall (kept)"}


def metric_label(metric: str) -> str:
    """How people write a metric name: ``nDCG@10`` for ``ndcg@10``."""
    return METRIC_LABELS.get(metric, metric)
