"""Doctor check ``depth-quality``: is a rerank stage handed so many candidates that it ranks worse?

A deeper input brings a stage more of the relevant documents, and more non-relevant ones that
it may rank above them ("phantom" hits: arXiv 2411.11767, "Drowning in Documents"). For each
rerank stage, the final nDCG@10 is simulated over a geometric grid of its input depths
(:func:`cascade_core.tuning.depth_curve`, stored scores only) and its peak found
(:func:`cascade_core.tuning.phantom_depths`). The criteria, stated once:

* ``flagged``, severity **warning** -- at the spec's current input depth the final nDCG@10 is at
  least :data:`MIN_DROP` (1 point) below the peak at a shallower depth: handing the stage fewer
  candidates would rank better. Named a "phantom" finding when the stage receives *more* of the
  relevant documents at the current depth than at the peak (quality falls while recall rises);
  otherwise the extra candidates brought no relevant document at all, only distractions.
* ``flagged``, severity **info** -- the current depth is fine, but deeper ones fall that far:
  a warning not to deepen it.
* ``ok`` -- quality never falls a point below the peak past it (or only at depths between the
  peak and the current one, which recovers).
* ``not checked`` -- fewer than :data:`MIN_COVERED` depths have stored scores (it says what to
  score), or the dataset has no relevance judgments.

The peak is an in-sample choice (picked and measured on the same queries), so the fix says so
and points to the Tune page's held-out check.

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
>>> from cascade_core.analysis.evaluation import Relevance
>>> from cascade_core.scorers import ScorerConfig
>>> # 2 queries, 60 documents in first-pass order; d0 and d40 are relevant. The stage ranks d0
>>> # first unless it is handed d25..d29 (not relevant), which it likes best: phantoms.
>>> stage = np.zeros((2, 60)); stage[:, 0], stage[:, 25:30], stage[:, 40] = 2.0, 3.0, 1.0
>>> m = ScoreMatrix(["q1", "q2"], [f"d{i}" for i in range(60)], np.tile(np.arange(60), (2, 1)),
...                 np.tile(-np.arange(60.0), (2, 1)), [stage])
>>> grades = np.zeros((2, 60)); grades[:, [0, 40]] = 1
>>> rel = Relevance(grades, np.ones((2, 2)), np.array([2, 2]))
>>> spec = CascadeSpec(ScorerConfig("bm25"), pool_size=50, stages=[StageSpec(ScorerConfig("bi-encoder"), 10)])
>>> (c,) = check_depth_quality(simulate(spec, m), rel)
>>> c.status, c.severity, c.evidence["peak depth"]
('flagged', 'warning', 10)
>>> print(c.finding.fix)  # doctest: +NORMALIZE_WHITESPACE
Hand bi-encoder 10 candidates (the pool = 10: bm25 -> 10 -> bi-encoder -> 10 -> final 10):
nDCG@10 0.423 -> 0.613, recall into it 100.0% -> 50.0%. The depth is chosen on the same
queries it is measured on (in-sample): confirm it with the held-out check on the Tune page
before adopting it.
"""

from __future__ import annotations

from ..analysis.evaluation import Relevance
from ..cascade.simulate import CascadeRun
from ..tuning.depth import DepthVerdict, depth_curve, input_depth, phantom_depths, with_input_depth
from .registry import register_check
from .findings import Check, Finding

KIND, TITLE = "depth-quality", "Depth against quality"
MIN_DROP = 0.01      # a fall of at least 1 nDCG@10 point below the peak counts
MIN_COVERED = 3      # fewer scored depths than this draw no curve worth judging
PAPER = 'arXiv 2411.11767, "Drowning in Documents"'


def check_depth_quality(run: CascadeRun, relevance: Relevance | None, depths=None) -> list[Check]:
    """One ``depth-quality`` check per rerank stage (none for a first pass alone).

    ``depths``: the input depths to simulate (default: a geometric grid from ``final_k`` to the
    first pass's stored depth, plus the current one).
    """
    spec = run.spec
    if relevance is None:
        return [Check(KIND, _title(st.name), "not checked", "needs relevance judgments: this dataset has none",
                      stage=st.name) for st in spec.stages]
    return [_check_stage(run, relevance, s, depths) for s in range(len(spec.stages))]


def _title(stage: str) -> str:
    return f"{TITLE}: does {stage} rank worse when handed more candidates?"


def _where(run: CascadeRun, s: int) -> str:
    """The cut-off that sets stage ``s``'s input depth."""
    return "the pool" if s == 0 else f"{run.spec.stages[s - 1].name}'s keep"


def _check_stage(run: CascadeRun, relevance: Relevance, s: int, depths) -> Check:
    spec = run.spec
    name = spec.stages[s].name
    title = _title(name)
    curve = depth_curve(run, relevance, s, depths)
    # phantom_depths counts falls of *more than* its tolerance; the check counts a full point.
    v = phantom_depths(curve, tolerance=MIN_DROP - 1e-9)
    current = input_depth(spec, s)
    if v.covered < MIN_COVERED:
        covered = curve.loc[curve["covered"], "depth"].tolist()
        deepest = int(curve["depth"].max())
        before = ", the cut-offs before it at least as deep" if s else ""
        return Check(KIND, title, "not checked",
                     f"only {v.covered} input depth(s) of {name} have stored scores ({_list(covered) or 'none'}; "
                     f"{MIN_COVERED} are needed): hand {name} {deepest} candidates once ({_where(run, s)} = "
                     f"{deepest}{before}) and score, to see whether it ranks worse as its input deepens; what is "
                     "stored is not scored again", evidence={"depths covered": v.covered, "current depth": current,
                                                            "deepest depth to score": deepest}, stage=name)
    ev = _evidence(v)
    deeper = [d for d in v.falls if d > current]
    if v.current_falls:
        return _warning(run, s, v, ev, title)
    if deeper:
        return _info(run, s, v, curve, deeper, ev, title)
    lo, hi = int(curve.loc[curve["covered"], "depth"].min()), v.deepest_depth
    dips = [d for d in v.falls if d < current]
    summary = (f"{name}'s final nDCG@10 never falls a point below its peak ({v.peak_ndcg:.3f} at {v.peak_depth}) "
               f"as its input deepens from {lo} to {hi}; {v.current_ndcg:.3f} at the current {current}")
    if dips:
        summary += f" (it dips at {_list(dips)}, but recovers by the current depth)"
    if v.peak_depth > current and v.peak_ndcg - v.current_ndcg >= MIN_DROP:
        summary += f"; handed {v.peak_depth} it would reach {v.peak_ndcg:.3f}"
    return Check(KIND, title, "ok", summary, evidence=ev, stage=name)


def _warning(run: CascadeRun, s: int, v: DepthVerdict, ev: dict, title: str) -> Check:
    spec = run.spec
    name = spec.stages[s].name
    fixed = with_input_depth(spec, s, v.peak_depth)
    rises = v.current_is_phantom
    headline = (f"Phantom hits: {name} ranks worse handed {v.current_depth} candidates than {v.peak_depth}"
                if rises else f"Too deep: {name} ranks worse handed {v.current_depth} candidates than {v.peak_depth}")
    why = (f"Handed {v.current_depth} candidates, {name} receives {v.current_recall_in:.1%} of the judged-relevant "
           f"documents (against {v.peak_recall_in:.1%} at {v.peak_depth}), yet the final nDCG@10 is "
           f"{v.current_ndcg:.3f} against {v.peak_ndcg:.3f}: the extra candidates bring non-relevant documents "
           f"it ranks above the relevant ones (\"phantom\" hits, {PAPER})."
           if rises else
           f"Past {v.peak_depth} candidates {name} receives no more of the judged-relevant documents "
           f"({v.peak_recall_in:.1%}), only non-relevant ones it ranks above them: the final nDCG@10 falls "
           f"from {v.peak_ndcg:.3f} to {v.current_ndcg:.3f} at the current {v.current_depth}.")
    fix = (f"Hand {name} {v.peak_depth} candidates ({_where(run, s)} = {v.peak_depth}: {fixed.describe()}): "
           f"nDCG@10 {v.current_ndcg:.3f} -> {v.peak_ndcg:.3f}, recall into it {v.current_recall_in:.1%} -> "
           f"{v.peak_recall_in:.1%}. The depth is chosen on the same queries it is measured on (in-sample): "
           "confirm it with the held-out check on the Tune page before adopting it.")
    finding = Finding(KIND, "warning", headline, why, ev, fix, stage=name)
    return Check(KIND, title, "flagged", headline, finding, ev, stage=name)


def _info(run: CascadeRun, s: int, v: DepthVerdict, curve, deeper: list[int], ev: dict, title: str) -> Check:
    """The current depth is fine, deeper ones are not: a warning not to deepen."""
    name = run.spec.stages[s].name
    by_depth = curve.set_index("depth")
    rising = [d for d in deeper if d in v.phantom]
    # Show the fall the finding is named for (quality down, recall up) where there is one.
    shown = int(by_depth.loc[rising or deeper, "ndcg@10"].idxmin())
    at = by_depth.loc[shown]
    covered = curve.loc[curve["covered"], "depth"].tolist()
    safe = max(d for d in covered if d < deeper[0])
    what = (f"it would receive {at['recall_in']:.1%} of the judged-relevant documents (against "
            f"{v.peak_recall_in:.1%} at the peak of {v.peak_depth}), yet the final nDCG@10 would drop to "
            f"{at['ndcg@10']:.3f}: the extra candidates bring non-relevant documents it ranks above the relevant "
            f"ones (\"phantom\" hits, {PAPER})" if shown in v.phantom else
            f"it would receive no more of the judged-relevant documents than at the peak of {v.peak_depth} "
            f"({v.peak_recall_in:.1%}), only non-relevant ones it ranks above them: the final nDCG@10 would drop "
            f"to {at['ndcg@10']:.3f}")
    finding = Finding(
        KIND, "info",
        f"Do not deepen {name}'s input: nDCG@10 falls when it is handed {_depths_text(deeper, covered)} candidates"
        + (" although more of the relevant documents reach it" if rising else ""),
        f"{name} is handed {v.current_depth} candidates now (final nDCG@10 {v.current_ndcg:.3f}; its peak is "
        f"{v.peak_ndcg:.3f} at {v.peak_depth}). Handed {shown}, {what}.", ev,
        f"Keep {_where(run, s)} at or below {safe}: a deeper input costs {name} quality (and latency).",
        stage=name)
    return Check(KIND, title, "flagged", finding.title, finding, ev, stage=name)


def _depths_text(depths: list[int], covered: list[int]) -> str:
    """``"50 or more"`` when every covered depth from the first on is listed, else the list.

    >>> _depths_text([50, 100], [10, 20, 50, 100]), _depths_text([20, 100], [10, 20, 50, 100])
    ('50 or more', '20, 100')
    """
    if [d for d in covered if d >= depths[0]] == list(depths) and len(depths) > 1:
        return f"{depths[0]} or more"
    return _list(depths[:6]) + (", ..." if len(depths) > 6 else "")


def _evidence(v: DepthVerdict) -> dict:
    # Keys starting "recall" are shown as percentages by format_evidence.
    return {"current depth": v.current_depth, "nDCG@10 at the current depth": v.current_ndcg,
            "recall in at the current depth": v.current_recall_in,
            "peak depth": v.peak_depth, "nDCG@10 at the peak": v.peak_ndcg, "recall in at the peak": v.peak_recall_in,
            "nDCG@10 below the peak (points)": 100 * (v.peak_ndcg - v.current_ndcg),
            "deepest covered depth": v.deepest_depth, "nDCG@10 at the deepest depth": v.deepest_ndcg,
            "recall in at the deepest depth": v.deepest_recall_in,
            "depths where quality falls while recall rises": _list(v.phantom) or "none",
            "depths a point or more below the peak": _list(v.falls) or "none",
            "depths covered": v.covered}


def _list(depths) -> str:
    return ", ".join(str(int(d)) for d in depths)


@register_check(KIND, TITLE, order=40, needs_relevance=False)
def _registered(ctx):
    return check_depth_quality(ctx.run, ctx.relevance)
