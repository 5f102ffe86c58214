"""Does a stage rank worse than the list it was handed? The doctor's ``harmful-stage`` check.

A rerank stage exists to improve the order of what it receives. When its output's nDCG@10 or
MRR@10 is lower than its input's (the same candidates, before and after it) by at least
``HARM_MIN_POINTS``, it is flagged as a warning, whatever its p-value: a stage that does not
improve the ranking costs latency for nothing, and one that lowers it on average is the failure
a cascade demo must not hide. The evidence gives the per-query wins and losses and the paired
tests (significant or not, in words), and the fix is simulated on the same stored scores:

* combine the stage with the earlier score (every fusion at its tuning values) instead of
  replacing it: the usual cure for a stage that knows something the first pass does not, but
  not everything it knows (a general-purpose bi-encoder after BM25 on a technical corpus);
* drop the stage (simulated where the later stages' scores allow it).

The fix names the best of these by final nDCG@10. It is chosen on the same queries it is
measured on (in-sample): the Tune page's held-out check says how much of it holds.

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
>>> from cascade_core.analysis.evaluation import Relevance
>>> # 3 queries; the first pass ranks the relevant document (column 0) first; the stage buries it.
>>> m = ScoreMatrix(["q1", "q2", "q3"], list("abcd"), np.tile(np.arange(4), (3, 1)),
...                 np.tile([4.0, 3, 2, 1], (3, 1)), [np.tile([0.1, 0.9, 0.8, 0.7], (3, 1))])
>>> grades = np.zeros((3, 4)); grades[:, 0] = 1
>>> rel = Relevance(grades, np.ones((3, 1)), np.array([1, 1, 1]))
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 4,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 4}], "final_k": 4})
>>> [c] = check_harmful_stages(simulate(spec, m), rel)
>>> c.status, c.finding.severity, c.stage
('flagged', 'warning', 'bi-encoder')
>>> c.finding.evidence["best fix"]
'drop the stage'
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..analysis.compare import without_stage
from ..analysis.evaluation import Relevance, RunEvaluation, evaluate_run
from ..analysis.lift import SIGNIFICANCE, metric_label, stage_changes
from ..cascade.simulate import CascadeRun, simulate
from ..errors import MissingScoresError
from ..fusion import registered_fusions, tuning_candidates
from ..metrics import QUALITY_TIE
from .findings import Check, Finding
from .registry import register_check

HARM_METRICS = ("ndcg@10", "mrr@10")
HARM_MIN_POINTS = 0.5           # a drop this large (in points) on either metric flags the stage
KIND, TITLE = "harmful-stage", "Does each stage rank better than its input?"
DROP = "drop the stage"


def check_harmful_stages(run: CascadeRun, relevance: Relevance,
                         evaluation: RunEvaluation | None = None) -> list[Check]:
    """One check per rerank stage: does its output rank better than its input?"""
    spec = run.spec
    if not spec.stages:
        return [Check(KIND, TITLE, "not applicable",
                      "no rerank stage: nothing to compare")]
    ev = evaluation or evaluate_run(run, None, HARM_METRICS, relevance)
    checks = []
    for change in stage_changes(run, ev, HARM_METRICS):
        title = f"Does {change.stage} rank better than its input?"
        ev_dict = {}
        for m, c in change.changes.items():
            label = metric_label(m)
            ev_dict.update({f"{label} in": c.before, f"{label} out": c.after, f"{label} change (points)": c.points,
                            f"{label} wins / losses": f"{c.test.wins} / {c.test.losses}",
                            f"{label} Wilcoxon p": c.test.wilcoxon_p})
        drops = {m: c for m, c in change.changes.items() if c.points <= -HARM_MIN_POINTS}
        if not drops:
            how = "; ".join(f"{metric_label(m)} {c.points:+.1f} points" for m, c in change.changes.items())
            checks.append(Check(KIND, title, "ok", f"{change.stage} ranks the candidates it receives: {how}",
                                evidence=ev_dict, stage=change.stage))
            continue
        fixes = simulated_fixes(run, relevance, change.index)
        now = evaluate_run(run, None, HARM_METRICS, relevance).final.means
        ev_dict.update({"final nDCG@10 now": now["ndcg@10"], "final MRR@10 now": now["mrr@10"]})
        for label, means in fixes.items():
            ev_dict[f"final nDCG@10 if {label}"] = means["ndcg@10"] if means else float("nan")
        usable = {k: v for k, v in fixes.items() if v}
        # The best by final nDCG@10; a tie (the same at the precision shown) goes to dropping the
        # stage, the one fix that also saves its latency.
        top = max((v["ndcg@10"] for v in usable.values()), default=None)
        tied = [k for k, v in usable.items() if top is not None and v["ndcg@10"] >= top - QUALITY_TIE]
        best = (DROP if DROP in tied else tied[0]) if tied else None
        ev_dict["best fix"] = best or "none simulated (scores missing)"
        worst = min(drops.values(), key=lambda c: c.points)
        sig = ("significant" if worst.significant else
               f"not significant at {SIGNIFICANCE:.0%}: it may be noise, but the stage costs latency and does not "
               "improve the ranking either")
        what = ", ".join(f"{metric_label(m)} {c.before:.3f} -> {c.after:.3f} ({c.points:+.1f} points)"
                         for m, c in drops.items())
        explanation = (f"{change.stage} receives a list and hands on a worse one: {what}. Per query, "
                       f"{worst.test.wins} queries improve and {worst.test.losses} get worse on "
                       f"{metric_label(worst.metric)} (Wilcoxon p = {_p(worst.test.wilcoxon_p)}, {sig}).")
        if best is None:
            fix = (f"Combine {change.stage} with the earlier score (combine: "
                   f"{' or '.join(n for n, f in registered_fusions().items() if f.mixes)}) or drop it; the "
                   "stored scores cannot simulate either here.")
        else:
            b = usable[best]
            fix = (f"{best[0].upper()}{best[1:]}: final nDCG@10 {now['ndcg@10']:.3f} -> {b['ndcg@10']:.3f}, "
                   f"MRR@10 {now['mrr@10']:.3f} -> {b['mrr@10']:.3f} (simulated on these queries; the Tune page "
                   "searches combinations with a held-out check).")
            others = [f"{k}: {v['ndcg@10']:.3f}" for k, v in usable.items() if k != best]
            if others:
                fix += " Other options, final nDCG@10: " + "; ".join(others) + "."
        finding = Finding(KIND, "warning", f"{change.stage} ranks worse than its input: {what}", explanation,
                          ev_dict, fix, stage=change.stage)
        checks.append(Check(KIND, title, "flagged", finding.title, finding, ev_dict, stage=change.stage))
    return checks


def simulated_fixes(run: CascadeRun, relevance: Relevance, index: int) -> dict[str, dict | None]:
    """Final nDCG@10 / MRR@10 of the cascade with stage ``index`` combined otherwise, or dropped.

    Keys describe the fix (``combine it with the earlier score (norm-sum 0.5)``, ``drop the
    stage``); a value is None where the stored scores cannot simulate it.
    """
    spec, stage = run.spec, run.spec.stages[index]
    out: dict[str, dict | None] = {}
    for fusion in tuning_candidates():   # every fusion at its tuning values
        if not fusion.mixes:
            continue
        if fusion == stage.fusion:
            continue
        stages = list(spec.stages)
        stages[index] = stage.with_fusion(fusion)
        out[f"combine it with the earlier score ({fusion.label})"] = _final(replace(spec, stages=tuple(stages)),
                                                                             run.matrix, relevance)
    out[DROP] = _final(without_stage(spec, index), run.matrix.without_stage(index), relevance)
    return out


def _final(spec, matrix, relevance) -> dict | None:
    try:
        return evaluate_run(simulate(spec, matrix), None, HARM_METRICS, relevance).final.means
    except MissingScoresError:
        return None


def _p(p: float) -> str:
    return "?" if math.isnan(p) else f"{p:.2g}"


@register_check(KIND, TITLE, order=30)
def _registered(ctx):
    return check_harmful_stages(ctx.run, ctx.relevance)
