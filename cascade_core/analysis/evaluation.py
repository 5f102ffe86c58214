"""Evaluate a simulated cascade against qrels: every step's recall funnel and metrics.

For each step (the first pass, each stage) the metrics are computed on the list that step
*keeps*, in its order; "final" is the last step cut at ``final_k``. The funnel's ``recall`` is
the share of a query's judged-relevant documents still present after the step, so it can never
rise from one step to the next. ``oracle_ndcg@10`` is the ceiling: the best nDCG@10 a perfect
reordering of the step's survivors could reach.

nDCG uses trec_eval's linear gain (gain = grade); see :mod:`cascade_core.metrics`.

Every step also gets the hole metrics (:data:`HOLE_METRICS`): ``judged@10``, the share of its top
10 that has any judgment, and ``ndcg_condensed@10``, nDCG@10 with the unjudged documents removed
(Sakai's condensed list). :meth:`RunEvaluation.mostly_unjudged` names the steps whose top 10 is
mostly unjudged, whose metrics every table flags as resting on guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..cascade.simulate import CascadeRun, ScoreMatrix, StageResult
from ..data import Qrels
from ..metrics import MOSTLY_UNJUDGED_BELOW, RankedLists, evaluate, mean_metrics

DEFAULT_METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "precision@10", "map")
FUNNEL_METRICS = ("recall", "oracle_ndcg@10")
# Computed for every step, whatever the metrics asked for: how far each number rests on holes.
HOLE_METRICS = ("judged@10", "ndcg_condensed@10")


@dataclass
class Relevance:
    """The qrels seen through a score matrix: the grade of each first-pass column."""

    grades: np.ndarray   # [Q, N]
    ideal: np.ndarray    # [Q, M] judged-relevant grades, best first
    n_relevant: np.ndarray
    # [Q, N] bool: the column's document has a judgment (any grade). None (a grade matrix built
    # by hand): every document counts as judged, so judged@10 is 1 and condensed = standard.
    judged: np.ndarray | None = None

    @classmethod
    def of(cls, matrix: ScoreMatrix, qrels: Qrels) -> "Relevance":
        Q, N = matrix.docs.shape
        grades = np.zeros((Q, N))
        judged = np.zeros((Q, N), dtype=bool)
        rels = [qrels.relevant(q) for q in matrix.query_ids]
        width = max([len(r) for r in rels] + [1])
        ideal = np.zeros((Q, width))
        position = {d: i for i, d in enumerate(matrix.doc_ids)}
        for qi, qid in enumerate(matrix.query_ids):
            # judged non-relevant (grade <= 0) counts as judged: only unjudged documents are holes
            seen = np.array([position.get(d, -2) for d in qrels.judgments.get(qid, {})], dtype=int)
            if len(seen):
                judged[qi] = np.isin(matrix.docs[qi], seen) & (matrix.docs[qi] >= 0)
        for qi, rel in enumerate(rels):
            if not rel:
                continue
            ideal[qi, : len(rel)] = sorted(rel.values(), reverse=True)
            pos = np.array([position.get(d, -2) for d in rel])
            g = np.array(list(rel.values()), dtype=float)
            hit = np.flatnonzero(np.isin(matrix.docs[qi], pos))
            if len(hit):
                lookup = dict(zip(pos.tolist(), g.tolist()))
                grades[qi, hit] = [lookup[p] for p in matrix.docs[qi, hit].tolist()]
        return cls(grades, ideal, (ideal > 0).sum(axis=1), judged)

    def lists(self, cols: np.ndarray, valid: np.ndarray) -> RankedLists:
        gains = np.where(valid, np.take_along_axis(self.grades, cols, axis=1), 0.0)
        judged = None if self.judged is None else np.take_along_axis(self.judged, cols, axis=1) & valid
        return RankedLists(gains, valid, self.ideal, judged)


@dataclass
class StepEvaluation:
    """One step's numbers: means, and per-query values in the run's query order."""

    name: str
    keep: int
    n_in: float                       # mean candidates entering
    n_kept: float                     # mean candidates kept
    means: dict[str, float]
    per_query: dict[str, np.ndarray] = field(repr=False)

    @property
    def recall(self) -> float:
        return self.means["recall"]


@dataclass
class RunEvaluation:
    query_ids: list[str]
    steps: list[StepEvaluation]       # first pass, then each stage
    final: StepEvaluation
    metrics: tuple[str, ...]
    first_pass_alone: StepEvaluation | None = None   # the first pass cut at final_k: the baseline
    # any retrieved document judged non-relevant (grade <= 0)? Without one (positive-only qrels)
    # the condensed list holds relevant documents only: its nDCG is the reordering ceiling
    judged_nonrelevant: bool = True

    def table(self, corpus_size: int | None = None) -> pd.DataFrame:
        """One row per step (and the final list): keep, candidates, funnel recall and metrics.

        ``corpus_size``: what the first pass's "candidates in" is (it ranks the whole corpus, as
        :func:`~cascade_core.analysis.flow.flow_table` says); without it, the depth its lists were read at.
        """
        rows = []
        for i, st in enumerate(self.steps + [self.final]):
            n_in = float(corpus_size) if i == 0 and corpus_size is not None else st.n_in
            rows.append({"step": st.name, "keep": st.keep, "candidates in": n_in,
                         "kept": st.n_kept, **st.means})
        return pd.DataFrame(rows).set_index("step")

    def per_query(self, step: str = "final") -> pd.DataFrame:
        st = next(s for s in self.steps + [self.final] if s.name == step)
        return pd.DataFrame(st.per_query, index=pd.Index(self.query_ids, name="query"))

    def mostly_unjudged(self, below: float = MOSTLY_UNJUDGED_BELOW) -> list[str]:
        """The steps (and "final") whose top 10 is mostly unjudged: mean judged@10 under
        ``below``. Their metrics count the unjudged documents as non-relevant; read the
        condensed nDCG@10 beside them, or judge the holes (:mod:`cascade_core.metrics.holes`)."""
        return [s.name for s in self.steps + [self.final] if s.means.get("judged@10", 1.0) < below]

    def judgment_note(self, below: float = MOSTLY_UNJUDGED_BELOW) -> str | None:
        """The caveat of positive-only qrels (SciFact's, most of BEIR's: relevant documents listed,
        nothing judged non-relevant), said once per page as a caption, not a warning: every list
        is "mostly unjudged" there by design, and metrics count unlisted documents as not relevant,
        as the published figures do. None when the qrels judge non-relevant documents too (then
        :meth:`unjudged_warning` speaks) or when every top 10 is mostly judged.

        >>> st = StepEvaluation("final", 10, 20.0, 10.0, {"judged@10": 0.1}, {})
        >>> RunEvaluation(["q"], [], st, ("ndcg@10",), judged_nonrelevant=False).judgment_note()[:44]
        'These judgments list relevant documents only'
        """
        if self.judged_nonrelevant or not self.mostly_unjudged(below):
            return None
        return ("These judgments list relevant documents only (no document is judged not relevant): every other "
                "document counts as not relevant, as in published figures for this kind of collection. Metrics "
                "compare cascades fairly and are a floor; the judged@10 and condensed columns are left out "
                "unless asked for.")

    def unjudged_warning(self, below: float = MOSTLY_UNJUDGED_BELOW) -> str | None:
        """One sentence for every table's reader when some step's top 10 is mostly unjudged
        (None when none is): which steps, their judged@10, and what to read instead. The pages,
        the HTML report and the CLI all print this text.

        >>> st = StepEvaluation("final", 10, 20.0, 10.0, {"judged@10": 0.3, "ndcg@10": 0.2,
        ...                     "ndcg_condensed@10": 0.6}, {})
        >>> RunEvaluation(["q"], [], st, ("ndcg@10",)).unjudged_warning()
        'Mostly unjudged: final (judged@10 0.30) has fewer than 50% of its top 10 judged; unjudged documents count as non-relevant there, so its metrics are a floor. Compare nDCG@10 condensed (unjudged documents removed), or judge the holes.'
        """
        names = self.mostly_unjudged(below)
        if not names or not self.judged_nonrelevant:   # positive-only qrels: judgment_note() says it
            return None
        steps = {s.name: s for s in self.steps + [self.final]}
        listed = ", ".join(f"{n} (judged@10 {steps[n].means['judged@10']:.2f})" for n in names)
        one = len(names) == 1
        advice = "Compare nDCG@10 condensed (unjudged documents removed), or judge the holes."
        return (f"Mostly unjudged: {listed} {'has' if one else 'have'} fewer than {below:.0%} of "
                f"{'its' if one else 'their'} top 10 judged; unjudged documents count as non-relevant there, "
                f"so {'its' if one else 'their'} metrics are a floor. {advice}")

    @property
    def funnel(self) -> list[float]:
        return [s.recall for s in self.steps]

    def funnel_steps(self) -> list[StepEvaluation]:
        """The recall funnel's steps: every step, then the final cut when it keeps fewer than the
        last step (relevant documents the last stage kept can still miss the final list)."""
        return self.steps + ([self.final] if self.final.keep < self.steps[-1].keep else [])


def evaluate_run(run: CascadeRun, qrels: Qrels, metrics=DEFAULT_METRICS,
                 relevance: Relevance | None = None) -> RunEvaluation:
    """Metrics of every step of ``run`` (pass ``relevance`` to reuse it across many runs)."""
    rel = relevance or Relevance.of(run.matrix, qrels)
    names = tuple(dict.fromkeys(list(metrics) + list(FUNNEL_METRICS) + list(HOLE_METRICS)))
    steps = [_step(st, rel, names) for st in run.steps]
    nonrelevant = True if rel.judged is None else bool((rel.judged & (rel.grades <= 0)).any())
    return RunEvaluation(run.matrix.query_ids, steps, _step(run.final, rel, names), tuple(metrics),
                         _step(run.first_pass_alone, rel, names), judged_nonrelevant=nonrelevant)


def _step(step: StageResult, rel: Relevance, names) -> StepEvaluation:
    cols, valid = step.kept()
    per_query = evaluate(rel.lists(cols, valid), names)
    return StepEvaluation(step.name, step.keep, float(step.n_in.mean()), float(step.n_kept.mean()),
                          mean_metrics(per_query), per_query)
