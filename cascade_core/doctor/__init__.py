"""The cascade doctor: detect the known failure modes of a cascade, with evidence and a fix.

Every check runs on one simulated run (no model call) and says ``flagged``, ``ok``, ``not
checked`` (the stored scores cannot tell; it says what would) or ``not applicable``. Only flagged
checks become :class:`Finding` s. The criteria, stated once:

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

**Harmful stage** (``harmful-stage``, :mod:`.harm`): a stage whose output ranks worse than the list
it received. **Depth against quality** (``depth-quality``, :mod:`.depth`): a stage handed so many
candidates that quality falls while recall rises ("phantom" hits). **Provenance** (``provenance``,
``latency-machine``, :mod:`.provenance`): stored scores from mixed or changed model revisions or
library versions, and latency measured on another machine. Each module states its criterion.

**Quality gap too wide** (``quality-gap``): a cheap step too poor for the heavier stage after it
to recover. For each step followed by a heavier stage (the first pass always counts as cheaper;
between stages, the one with the higher predicted cost for the same candidates; unknown costs:
the later stage), flagged when both hold: the cheap step drops at least ``gap_min_loss`` (10%) of
the judged-relevant documents it receives, *and* on the candidates the cheap step keeps, the heavy
stage's nDCG@10 beats the cheap step's by at least ``gap_min_ndcg`` (5 points). The heavy stage is
clearly the better ranker, and a tenth of what is relevant never reaches it. Fix: cut the cheap
step deeper (the plateau of its recall curve) or make it stronger (a hybrid first pass, or a
bi-encoder stage in between).

**Latency regression** (``latency-regression``): the cascade predicted to cost as much as, or
more than, its single-pass baseline (the heaviest stage over the whole pool, see
:func:`cascade_core.analysis.compare.baseline_spec`). Needs every step's cost measured; not applicable to
a first pass and one stage, which *is* its single-pass baseline. Fix: drop the stages before
the heavy one or cut harder before it.

**Inconsistent score scales** (``score-scales``): a weighted sum of scores on different scales
(BM25 0-40, cosine 0-1, cross-encoder logits -10..10) lets one scorer dominate whatever its
weight. Flagged only where a step mixes scores *without* normalising them. Each fusion
says whether it is scale-safe (:mod:`cascade_core.fusion`): ``replace`` mixes nothing, ``rrf``
uses ranks only, ``norm-sum`` and ``dbsf`` normalise each list before they add; so with the
built-in combinations this check passes and says why. :func:`score_distributions` shows each
step's scores split relevant / non-relevant, raw or as each normalisation sees them.

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
>>> from cascade_core.analysis.evaluation import Relevance
>>> from cascade_core.latency.model import CostModel
>>> # 2 queries, 6 documents; the first pass puts each query's relevant document at rank 5.
>>> m = ScoreMatrix(["q1", "q2"], [f"d{i}" for i in range(6)], np.tile(np.arange(6), (2, 1)),
...                 np.tile([6.0, 5, 4, 3, 2, 1], (2, 1)), [np.tile([1.0, 2, 3, 4, 9, 5], (2, 1))])
>>> grades = np.zeros((2, 6)); grades[:, 4] = 1
>>> rel = Relevance(grades, np.ones((2, 1)), np.array([1, 1]))
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 3,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 2}], "final_k": 1})
>>> costs = [CostModel("fp", 1.0, 0.0, 9), CostModel("bi", 0.0, 1.0, 9)]
>>> [f.kind for f in diagnose(simulate(spec, m), rel, costs)]
['pool-too-small']
>>> diagnose(simulate(spec, m), rel, costs)[0].evidence["plateau k"]
5

Imports ``analysis``, ``tuning``, ``fusion``, ``latency``, ``scorers`` and ``store`` (provenance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.compare import baseline_spec, heaviest_stage, list_lengths, models_for, predicted_latency
from ..analysis.evaluation import Relevance, evaluate_run
from ..analysis.flow import relevant_kept
from ..cascade.simulate import CascadeRun, simulate
from ..errors import MissingScoresError
from ..fusion import make_fusion, registered_fusions
from ..latency.model import CostModel
from ..scorers import retriever_class
from ..tuning import default_grid, plateau, recall_curve
from . import harm
from .depth import check_depth_quality
from .findings import Check, Finding, Thresholds, format_evidence

# The views of the score distributions: raw, and each fusion's view of one list (what it adds).
NORMALISATIONS = {"raw": "the scorer's own output (BM25, cosine similarity, cross-encoder logits)",
                  **{name: f.view_note for name, f in registered_fusions().items() if f.view_note}}


def diagnose(run: CascadeRun, relevance: Relevance | None, cost_models: list[CostModel],
             thresholds: Thresholds = Thresholds(), extra: list[Check] | None = None) -> list[Finding]:
    """The failure modes present in ``run`` (an empty list for a healthy cascade)."""
    return [c.finding for c in run_checks(run, relevance, cost_models, thresholds, extra) if c.finding]


def run_checks(run: CascadeRun, relevance: Relevance | None, cost_models: list[CostModel],
               thresholds: Thresholds = Thresholds(), extra: list[Check] | None = None) -> list[Check]:
    """Every check's verdict, in a fixed order: pool, quality gaps, harmful stages, depth against
    quality, latency, score scales, then ``extra`` (checks that need more than the run, such as the provenance of
    the stored scores: :meth:`Experiment.provenance_checks`)."""
    checks = []
    if relevance is None:
        for kind, title in (("pool-too-small", "Stage-one pool size"), ("quality-gap", "Quality gap between stages"),
                            (harm.KIND, "Does each stage rank better than its input?")):
            checks.append(Check(kind, title, "not checked", "needs relevance judgments: this dataset has none"))
        checks.extend(check_depth_quality(run, relevance))
    else:
        checks.append(check_pool(run, relevance, cost_models, thresholds))
        checks.extend(check_quality_gaps(run, relevance, cost_models, thresholds))
        checks.extend(harm.check_harmful_stages(run, relevance))
        checks.extend(check_depth_quality(run, relevance))
    checks.append(check_latency(run, cost_models))
    checks.append(check_score_scales(run))
    checks.extend(extra or [])
    return checks


SEVERITY_ORDER = {"warning": 0, "info": 1, "ok": 2}
STATUS_ORDER = {"flagged": 0, "ok": 1, "not checked": 2, "not applicable": 3}


def by_severity(checks: list[Check]) -> list[Check]:
    """Warnings first, then notes, passes, not checked, not applicable (stable within each):
    the finding that matters must not sit below a list of passes.

    >>> [c.status for c in by_severity([Check("a", "A", "ok", ""), Check("b", "B", "not applicable", ""),
    ...                                  Check("c", "C", "flagged", "", Finding("c", "warning", "C", ""))])]
    ['flagged', 'ok', 'not applicable']
    """
    return sorted(checks, key=lambda c: (STATUS_ORDER.get(c.status, 9) if c.finding is None
                                         else -1 + SEVERITY_ORDER.get(c.finding.severity, 1) / 10))


# -- pool too small ---------------------------------------------------------------------------

def check_pool(run: CascadeRun, relevance: Relevance, cost_models: list[CostModel],
               thresholds: Thresholds = Thresholds()) -> Check:
    kind, title = "pool-too-small", "Stage-one pool size"
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


# -- quality gap ------------------------------------------------------------------------------

def check_quality_gaps(run: CascadeRun, relevance: Relevance, cost_models: list[CostModel],
                       thresholds: Thresholds = Thresholds()) -> list[Check]:
    """One check per (cheap step, heavier stage after it) pair; one "not applicable" without stages."""
    kind, title = "quality-gap", "Quality gap between stages"
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


# -- latency regression -----------------------------------------------------------------------

def check_latency(run: CascadeRun, cost_models: list[CostModel]) -> Check:
    kind, title = "latency-regression", "Latency against a single pass"
    spec = run.spec
    if len(spec.stages) < 2:
        return Check(kind, title, "not applicable",
                     "a first pass and one stage is its own single-pass baseline: nothing cheaper to compare with")
    if len(cost_models) < len(spec.stage_names) or not all(m.known for m in cost_models):
        return Check(kind, title, "not checked", "some step has no measured cost yet: score it once to measure it")
    lengths = list_lengths(run.matrix)
    h = heaviest_stage(spec, cost_models)
    base = baseline_spec(spec, cost_models)
    cascade = predicted_latency(spec, cost_models, lengths)
    single = predicted_latency(base, models_for(base, spec, cost_models), lengths)
    heavy = spec.stages[h].name
    heavy_in_cascade = cascade.stages[h + 1].predicted_ms
    heavy_alone = single.stages[1].predicted_ms
    others = [s for s in cascade.stages[1:] if s.name != heavy]
    others_ms = sum(s.predicted_ms for s in others)
    ev = {"cascade ms": cascade.total_ms, "single pass ms": single.total_ms,
          "ratio": cascade.total_ms / single.total_ms if single.total_ms else float("nan"),
          "heavy stage": heavy, f"{heavy} ms in the cascade": heavy_in_cascade,
          f"{heavy} ms over the whole pool": heavy_alone,
          "saved on the heavy stage ms": heavy_alone - heavy_in_cascade,
          "other stages ms": others_ms}
    if cascade.total_ms < single.total_ms:
        return Check(kind, title, "ok", f"the cascade is predicted at {cascade.total_ms:.1f} ms per query, "
                     f"{ev['ratio']:.2f} x the single pass ({single.total_ms:.1f} ms)", evidence=ev)
    names = ", ".join(s.name for s in others)
    before = [s.name for s in spec.stages[:h]]
    finding = Finding(
        kind, "warning", f"Latency regression: the cascade costs {cascade.total_ms:.1f} ms, the single pass "
        f"{single.total_ms:.1f} ms",
        f"Running {heavy} over the whole pool of {spec.pool_size} is predicted at {heavy_alone:.1f} ms; the cascade "
        f"saves {heavy_alone - heavy_in_cascade:.1f} ms of it but spends {others_ms:.1f} ms on {names}.", ev,
        (f"Cut harder before {heavy} (it receives {cascade.stages[h + 1].n_pairs:.0f} candidates) or drop "
         f"{', '.join(before)}: " if before else f"Drop {names}: ")
        + f"the single pass ({base.describe()}) is faster.")
    return Check(kind, title, "flagged", finding.title, finding, ev)


# -- score scales -----------------------------------------------------------------------------

def check_score_scales(run: CascadeRun) -> Check:
    kind, title = "score-scales", "Score scales in combinations"
    spec = run.spec
    mixed, safe = [], []
    fp_fusion = retriever_class(spec.first_pass.kind).fused_by(spec.first_pass.params)   # a hybrid's fusion
    fused = [(f"first pass ({spec.first_pass.kind} fusion)", fp_fusion)] if fp_fusion is not None else []
    fused += [(st.name, st.fusion) for st in spec.stages if st.fusion.mixes]
    for name, fusion in fused:
        (safe if fusion.scale_safe else mixed).append((name, fusion))
    ev = {name: fusion.label for name, fusion in safe + mixed}
    if not mixed:
        if not safe:
            return Check(kind, title, "ok", "every stage ranks by its own score alone: no scores are mixed",
                         evidence=ev)
        how = "; ".join(f"{n}: {f.label} ({f.scale_note})" for n, f in safe)
        return Check(kind, title, "ok", f"every combination is scale-safe: {how}", evidence=ev)
    names = ", ".join(f"{n} ({f.label})" for n, f in mixed)
    finding = Finding(
        kind, "warning", f"Inconsistent score scales: {names} sums scores without normalising them",
        "A weighted sum of raw scores on different scales lets the widest-ranging scorer decide the order whatever "
        "its weight (BM25 spans tens, cosine similarity one unit, cross-encoder logits twenty).", ev,
        "Use a fusion that normalises each list first: " + ", ".join(
            f"{name} ({f.scale_note})" for name, f in registered_fusions().items() if f.scale_safe and f.mixes)
        + "; compare the score distributions per stage to see the scales.")
    return Check(kind, title, "flagged", finding.title, finding, ev)


# -- score distributions ----------------------------------------------------------------------

@dataclass
class ScoreDistribution:
    """One step's scores over the candidates it ranks, split relevant / non-relevant."""

    step: str
    scale: str                       # raw | min-max | rrf
    relevant: np.ndarray
    non_relevant: np.ndarray
    edges: np.ndarray                # shared histogram bin edges
    relevant_counts: np.ndarray
    non_relevant_counts: np.ndarray

    @property
    def relevant_share(self) -> np.ndarray:
        """Each bin's share of the relevant scores (so a few relevant show beside many others)."""
        return self.relevant_counts / max(int(self.relevant_counts.sum()), 1)

    @property
    def non_relevant_share(self) -> np.ndarray:
        return self.non_relevant_counts / max(int(self.non_relevant_counts.sum()), 1)

    def summary(self) -> pd.DataFrame:
        rows = {}
        for label, v in (("relevant", self.relevant), ("non-relevant", self.non_relevant)):
            q = np.percentile(v, [25, 50, 75]) if len(v) else [math.nan] * 3
            rows[label] = {"count": len(v), "mean": _stat(np.mean, v), "std": _stat(np.std, v),
                           "min": _stat(np.min, v), "p25": q[0], "median": q[1], "p75": q[2],
                           "max": _stat(np.max, v)}
        return pd.DataFrame(rows).T


def score_distributions(run: CascadeRun, relevance: Relevance, scale: str = "raw",
                        bins: int = 40) -> list[ScoreDistribution]:
    """Per step (first pass first), the scores its scorer gave the candidates it ranks, split by
    judged relevance, with histogram counts on shared bins. ``scale`` picks the view: ``raw``, or
    a fusion's name: each list as that fusion sees it (``norm-sum``: min-max per query's list,
    ``rrf``: ``1/(60 + rank)``, ``dbsf``: three sigma), with its default parameters."""
    if scale not in NORMALISATIONS:
        raise ValueError(f"scale must be one of {', '.join(NORMALISATIONS)}, not {scale!r}")
    out = []
    for step in run.steps:
        valid = step.valid & np.isfinite(step.raw)
        values = step.raw if scale == "raw" else make_fusion(scale).view(step.raw, valid)
        rel = (np.take_along_axis(relevance.grades, step.order, axis=1) > 0) & valid
        r, nr = values[rel], values[valid & ~rel]
        both = np.concatenate([r, nr])
        lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        out.append(ScoreDistribution(step.name, scale, r, nr, edges, np.histogram(r, edges)[0],
                                     np.histogram(nr, edges)[0]))
    return out


def distribution_table(dists: list[ScoreDistribution]) -> pd.DataFrame:
    """Every step's summary, one row per (step, relevant / non-relevant)."""
    frames = [d.summary().assign(step=d.step) for d in dists]
    return pd.concat(frames).rename_axis("judged").reset_index().set_index(["step", "judged"])


def _stat(fn, v) -> float:
    return float(fn(v)) if len(v) else math.nan
