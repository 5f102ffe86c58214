"""The doctor's ``score-scales`` check, and the score distributions per step that show the scales.

**Inconsistent score scales** (``score-scales``): a weighted sum of scores on different scales
(BM25 0-40, cosine 0-1, cross-encoder logits -10..10) lets one scorer dominate whatever its
weight. Flagged only where a step mixes scores *without* normalising them. Each fusion
says whether it is scale-safe (:mod:`cascade_core.fusion`): ``replace`` mixes nothing, ``rrf``
uses ranks only, ``norm-sum`` and ``dbsf`` normalise each list before they add; so with the
built-in combinations this check passes and says why. :func:`score_distributions` shows each
step's scores split relevant / non-relevant, raw or as each normalisation sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.evaluation import Relevance
from ..cascade.simulate import CascadeRun
from ..fusion import make_fusion, registered_fusions
from ..scorers import retriever_class
from .findings import Check, Finding
from .registry import register_check

# The views of the score distributions: raw, and each fusion's view of one list (what it adds).
NORMALISATIONS = {"raw": "the scorer's own output (BM25, cosine similarity, cross-encoder logits)",
                  **{name: f.view_note for name, f in registered_fusions().items() if f.view_note}}

KIND, TITLE = "score-scales", "Score scales in combinations"


def check_score_scales(run: CascadeRun) -> Check:
    kind, title = KIND, TITLE
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


@register_check(KIND, TITLE, order=60, needs_relevance=False)
def _registered(ctx):
    return check_score_scales(ctx.run)
