"""The doctor's ``pool-too-small`` check: relevant documents lost before the rerank stages see them.

**Pool too small** (``pool-too-small``): relevant documents lost before the rerank stages see
them. Flagged when the first pass's recall at its stored depth ``N`` exceeds its recall at the
pool size by at least ``pool_min_gain`` (2 points): recall is still rising at the cut-off, so a
deeper pool would hand the stages relevant documents it now throws away (and so the first pass
loses at least that share). Needs the first pass stored deeper than the pool. Fix: the pool at
the plateau of the first pass's recall curve (the smallest k within half a point of its maximum,
as the Evaluate page marks it), with its predicted latency; where the later stages have scores
for the extra candidates, the fix is simulated, and when it would not raise the final nDCG@10 or
recall by at least ``pool_min_payoff`` (half a point: the stages do not rank the recovered
documents into their lists) the finding says so and is only ``info``.
"""

from __future__ import annotations

import numpy as np

from ..analysis.compare import list_lengths, predicted_latency
from ..analysis.evaluation import Relevance, evaluate_run
from ..analysis.flow import relevant_kept
from ..cascade.simulate import CascadeRun, simulate
from ..errors import MissingScoresError
from ..latency.model import CostModel
from ..tuning import default_grid, plateau, recall_curve
from .findings import Check, Finding, Thresholds
from .registry import register_check

KIND, TITLE = "pool-too-small", "Stage-one pool size"


def check_pool(run: CascadeRun, relevance: Relevance, cost_models: list[CostModel],
               thresholds: Thresholds = Thresholds()) -> Check:
    kind, title = KIND, TITLE
    spec, matrix = run.spec, run.matrix
    lengths = list_lengths(matrix)
    depth = min(matrix.retrieved_depth or matrix.depth, matrix.depth)
    if (lengths < spec.pool_size).all() or (depth > spec.pool_size and (lengths <= spec.pool_size).all()):
        # every list ended within the pool although more was asked for: nothing lies beyond it
        return Check(kind, title, "ok", f"the pool of {spec.pool_size} holds every document the first pass returned")
    if depth <= spec.pool_size:
        return Check(kind, title, "not checked",
                     f"the first pass is stored only {depth} deep, no deeper than the pool ({spec.pool_size}): "
                     "retrieve deeper (a larger pool on the slider) to see whether recall still rises")
    ks = np.union1d(default_grid(depth), [spec.pool_size])
    curve = recall_curve(run, relevance, 0, ks)
    r = dict(zip(curve["k"].tolist(), curve["recall"].tolist()))
    at_pool, at_depth = r[spec.pool_size], r[int(curve["k"].max())]
    n_rel = int(relevance.n_relevant.sum())
    kept = int(relevant_kept(run, relevance)[0].sum())
    below = _relevant_between(run, relevance, spec.pool_size, depth)
    ev = {"pool": spec.pool_size, "recall at the pool": at_pool, "stored depth": depth,
          "recall at the stored depth": at_depth, "gain (points)": 100 * (at_depth - at_pool),
          "judged relevant": n_rel, "relevant lost at the pool": n_rel - kept,
          "relevant just below the pool (within the stored depth)": below}
    if at_depth - at_pool < thresholds.pool_min_gain:
        return Check(kind, title, "ok", f"recall barely rises past the pool ({at_pool:.1%} at {spec.pool_size}, "
                     f"{at_depth:.1%} at {depth}): a deeper pool would add under "
                     f"{100 * thresholds.pool_min_gain:.0f} points", evidence=ev)
    k = plateau(curve["k"].to_numpy(), curve["recall"].to_numpy())
    now_ms = predicted_latency(spec, cost_models, lengths).total_ms
    fixed = spec.with_keeps(pool_size=k)
    fix_ms = predicted_latency(fixed, cost_models, lengths).total_ms
    ev.update({"plateau k": k, "recall at the plateau": r[k], "predicted ms now": now_ms,
               "predicted ms at the plateau": fix_ms})
    severity, verdict = "warning", ""
    effect = _simulated_effect(run, relevance, fixed)
    if effect is None:
        verdict = (f" Not verified: the later stages have no stored scores for the extra candidates; "
                   f"set the pool to {k} to score them and see.")
    else:
        ev.update(effect)
        d_ndcg, d_rec = effect["final nDCG@10 change (points)"], effect["final recall change (points)"]
        verdict = (f" Simulated with the stored scores, the final list's nDCG@10 changes by {d_ndcg:+.1f} points "
                   f"and its recall by {d_rec:+.1f}.")
        if d_ndcg < thresholds.pool_min_payoff and d_rec < thresholds.pool_min_payoff:
            # Under half a point of gain is not worth the latency of a deeper pool: a note.
            severity = "info"
            if d_ndcg <= -thresholds.pool_min_payoff:
                verdict += (" A deeper pool makes the final list worse: the later stages rank some of the extra "
                            "candidates above relevant documents (see the depth-against-quality check), so a bigger "
                            "pool alone does not pay here: a stronger rerank stage would.")
            else:
                verdict += (f" The later stages rank too few of the recovered documents into their lists (a gain "
                            f"under {thresholds.pool_min_payoff:g} points), so a bigger pool alone does not pay "
                            "here: a stronger rerank stage would.")
    # A note's headline must not read as "raise the pool" when the simulation says it would not pay.
    headline = ("Pool too small" if severity == "warning"
                else "Relevant documents lie below the pool, but a deeper pool would not pay")
    fix = (f"Raise the pool to {k}, where the first pass's recall stops rising ({r[k]:.1%}); predicted latency "
           f"{now_ms:.1f} -> {fix_ms:.1f} ms per query.{verdict}" if severity == "warning" else
           f"Keep the pool: raising it to {k} (recall {r[k]:.1%}, predicted latency {now_ms:.1f} -> "
           f"{fix_ms:.1f} ms per query) would not help.{verdict}")
    finding = Finding(
        kind, severity, f"{headline}: the first pass keeps {at_pool:.1%} of the relevant documents at "
        f"{spec.pool_size}, {at_depth:.1%} at {depth}",
        f"{n_rel - kept} of {n_rel} judged-relevant documents ({(n_rel - kept) / max(n_rel, 1):.1%}) are lost "
        "before any rerank stage sees them, and the first pass's recall is still rising at the pool "
        f"(+{100 * (at_depth - at_pool):.1f} points by {depth}).", ev, fix)
    return Check(kind, title, "flagged", finding.title, finding, ev)


def _relevant_between(run: CascadeRun, relevance: Relevance, start: int, stop: int) -> int:
    """Judged-relevant documents at first-pass ranks ``start+1 .. stop``, summed over queries."""
    grades = relevance.grades[:, start:stop]
    return int(((grades > 0) & (run.matrix.docs[:, start:stop] >= 0)).sum())


def _simulated_effect(run: CascadeRun, relevance: Relevance, other) -> dict | None:
    """Final-list changes if ``other`` (new cut-offs) ran on the same stored scores; None if unscored."""
    try:
        new = simulate(other, run.matrix)
    except MissingScoresError:
        return None
    a = evaluate_run(run, None, ("ndcg@10",), relevance).final.means
    b = evaluate_run(new, None, ("ndcg@10",), relevance).final.means
    return {"final nDCG@10 now": a["ndcg@10"], "final nDCG@10 with the fix": b["ndcg@10"],
            "final nDCG@10 change (points)": 100 * (b["ndcg@10"] - a["ndcg@10"]),
            "final recall change (points)": 100 * (b["recall"] - a["recall"])}


@register_check(KIND, TITLE, order=10)
def _registered(ctx):
    return check_pool(ctx.run, ctx.relevance, ctx.cost_models, ctx.thresholds)
