"""The doctor's ``quality-gap`` check: a cheap step too poor for the heavier stage after it to recover.

**Quality gap too wide** (``quality-gap``): a cheap step too poor for the heavier stage after it
to recover. For each step followed by a heavier stage (the first pass always counts as cheaper;
between stages, the one with the higher predicted cost for the same candidates; unknown costs:
the later stage), flagged when both hold: the cheap step drops at least ``gap_min_loss`` (10%) of
the judged-relevant documents it receives, *and* on the candidates the cheap step keeps, the heavy
stage's nDCG@10 beats the cheap step's by at least ``gap_min_ndcg`` (5 points). The heavy stage is
clearly the better ranker, and a tenth of what is relevant never reaches it. Fix: cut the cheap
step deeper (the plateau of its recall curve) or make it stronger (a hybrid first pass, or a
bi-encoder stage in between).
"""

from __future__ import annotations

import numpy as np

from ..analysis.compare import list_lengths, predicted_latency
from ..analysis.evaluation import Relevance, evaluate_run
from ..analysis.flow import relevant_kept
from ..cascade.simulate import CascadeRun
from ..latency.model import CostModel
from ..tuning import plateau, recall_curve
from .findings import Check, Finding, Thresholds
from .registry import register_check

KIND, TITLE = "quality-gap", "Quality gap between stages"


def check_quality_gaps(run: CascadeRun, relevance: Relevance, cost_models: list[CostModel],
                       thresholds: Thresholds = Thresholds()) -> list[Check]:
    """One check per (cheap step, heavier stage after it) pair; one "not applicable" without stages."""
    kind, title = KIND, TITLE
    spec = run.spec
    if not spec.stages:
        return [Check(kind, title, "not applicable", "no rerank stage: nothing to recover what the first pass drops")]
    ev_all = evaluate_run(run, None, ("ndcg@10",), relevance)
    kept = relevant_kept(run, relevance).sum(axis=1)
    received = np.concatenate([[relevance.n_relevant.sum()], kept[:-1]])
    checks = []
    for i in range(len(spec.stages)):
        j = i + 1
        cheap, heavy = run.steps[i].name, run.steps[j].name
        pair_title = f"Quality gap: {cheap} -> {heavy}"
        if i > 0 and not _heavier(cost_models, j, i, float(run.steps[i].n_in.mean())):
            checks.append(Check(kind, pair_title, "not applicable",
                                f"{heavy} is not predicted to cost more than {cheap}: not a cheap -> heavy pair"))
            continue
        loss = 1 - kept[i] / received[i] if received[i] else 0.0
        nd_cheap, nd_heavy = ev_all.steps[i].means["ndcg@10"], ev_all.steps[j].means["ndcg@10"]
        gap = nd_heavy - nd_cheap
        ev = {"cheap step": cheap, "heavy stage": heavy, "relevant received": int(received[i]),
              "relevant dropped": int(received[i] - kept[i]), "share dropped": float(loss),
              f"{cheap} nDCG@10": nd_cheap, f"{heavy} nDCG@10": nd_heavy, "gap (nDCG@10 points)": 100 * gap,
              f"ceiling after {cheap} (oracle nDCG@10)": ev_all.steps[i].means["oracle_ndcg@10"]}
        if gap < 0:
            # The failure mode is a heavy stage that ranks better but cannot recover what the cheap
            # one dropped; a stage that ranks worse has no gap to close. Not "ok" either: say so.
            checks.append(Check(kind, pair_title, "not applicable",
                                f"{heavy} ranks its candidates {100 * gap:+.1f} nDCG@10 points against {cheap}: "
                                f"no better than the step before it, so there is no gap for it to close; whether "
                                f"it ranks worse than its input is the harmful-stage check's question", evidence=ev,
                                stage=heavy))
            continue
        if loss < thresholds.gap_min_loss or gap < thresholds.gap_min_ndcg:
            why = (f"{cheap} drops {loss:.1%} of the relevant documents it receives"
                   + ("" if loss < thresholds.gap_min_loss else " (a lot)")
                   + f"; {heavy} ranks its candidates {100 * gap:+.1f} nDCG@10 points against {cheap}")
            checks.append(Check(kind, pair_title, "ok", why, evidence=ev))
            continue
        curve = recall_curve(run, relevance, i)
        k = plateau(curve["k"].to_numpy(), curve["recall"].to_numpy())
        keeps = spec.keeps
        keeps[i] = max(k, keeps[i])
        deeper = spec.with_keeps(pool_size=keeps[0], keeps=keeps[1:])
        lengths = list_lengths(run.matrix)
        now_ms = predicted_latency(spec, cost_models, lengths).total_ms
        fix_ms = predicted_latency(deeper, cost_models, lengths).total_ms
        ev.update({"plateau k": k, "predicted ms now": now_ms, "predicted ms cut deeper": fix_ms})
        where = "the pool" if i == 0 else f"{cheap}'s keep"
        stronger = ("a stronger first pass (hybrid BM25 + dense), or a bi-encoder stage between them"
                    if i == 0 else f"a stronger model than {cheap}")
        finding = Finding(
            kind, "warning", f"Quality gap too wide: {cheap} loses {loss:.0%} of the relevant documents before {heavy}",
            f"{heavy} ranks the same candidates {100 * gap:.1f} nDCG@10 points better than {cheap}, yet {cheap} drops "
            f"{int(received[i] - kept[i])} of the {int(received[i])} relevant documents it receives: the better model "
            "never sees them, and no ordering it makes can bring them back.", ev,
            f"Raise {where} to {keeps[i]} (where {cheap}'s recall stops rising; predicted {now_ms:.1f} -> "
            f"{fix_ms:.1f} ms per query), or use {stronger}.")
        checks.append(Check(kind, pair_title, "flagged", finding.title, finding, ev))
    return checks


def _heavier(cost_models: list[CostModel], j: int, i: int, n: float) -> bool:
    """Step ``j`` costs more than step ``i`` for the same ``n`` candidates (unknown: assume so)."""
    if len(cost_models) <= j or not (cost_models[i].known and cost_models[j].known):
        return True
    return cost_models[j].predict_ms(n) > cost_models[i].predict_ms(n)


@register_check(KIND, TITLE, order=20)
def _registered(ctx):
    return check_quality_gaps(ctx.run, ctx.relevance, ctx.cost_models, ctx.thresholds)
