"""Simulation: any cut-offs, from stored scores, with no model call.

The stored scores of one cascade (its first pass and each stage's scorer) over a query set are
loaded once into a :class:`ScoreMatrix`: row ``q`` holds query ``q``'s first-pass list (``N``
documents deep, best first) and, for each stage, the score of each of those documents (NaN where
not scored). :func:`simulate` then cuts and re-sorts with NumPy across all queries at once.

>>> import numpy as np
>>> from cascade_core.scorers import ScorerConfig
>>> from cascade_core.cascade.spec import CascadeSpec, StageSpec
>>> m = ScoreMatrix(query_ids=["q1"], doc_ids=["a", "b", "c"], docs=np.array([[0, 1, 2]]),
...                 first=np.array([[3.0, 2.0, 1.0]]), stage_scores=[np.array([[0.1, 0.9, 0.5]])])
>>> spec = CascadeSpec(ScorerConfig("bm25"), pool_size=3,
...                    stages=[StageSpec(ScorerConfig("bi-encoder"), keep=2)], final_k=2)
>>> run = simulate(spec, m)
>>> run.final_doc_ids(0)
['b', 'c']
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import MissingScoresError, SpecError
from .listwise import ApproximateStage, StoredLists
from .spec import CascadeSpec, StageSpec


@dataclass
class ScoreMatrix:
    """Stored scores of one first pass and its stages, over a query set.

    ``docs[q, j]`` is the corpus position of the ``j``-th first-pass document of query ``q``
    (-1 past the end of a short list); ``doc_ids`` maps positions to ids.
    """

    query_ids: list[str]
    doc_ids: list[str]                 # corpus position -> document id
    docs: np.ndarray                   # [Q, N] int, -1 = padding
    first: np.ndarray                  # [Q, N] first-pass scores, best first
    stage_scores: list[np.ndarray]     # per stage: [Q, N], NaN = not scored yet
    scorer_ids: list[str] = field(default_factory=list)   # first pass, then each stage
    query_texts: list[str] = field(default_factory=list)
    retrieved_depth: int | None = None  # first-pass depth stored for every query (None: N)
    # per stage: its stored lists when it is listwise (cascade/listwise.py), None when pointwise;
    # empty: every stage pointwise. A listwise stage's ``stage_scores`` hold its deepest list's.
    listwise: list[StoredLists | None] = field(default_factory=list)

    def listwise_of(self, index: int) -> StoredLists | None:
        return self.listwise[index] if index < len(self.listwise) else None

    @property
    def lengths(self) -> np.ndarray:
        """Each query's first-pass list length (shorter than the depth where a list ran out)."""
        return (np.asarray(self.docs) >= 0).sum(axis=1)

    @property
    def depth(self) -> int:
        return self.docs.shape[1]

    def without_stage(self, index: int) -> "ScoreMatrix":
        """The same scores without stage ``index``'s (0-based): what a spec without that stage
        simulates from (stage scores are matched to a spec's stages by position)."""
        return replace(self, stage_scores=self.stage_scores[:index] + self.stage_scores[index + 1:],
                       scorer_ids=self.scorer_ids[:index + 1] + self.scorer_ids[index + 2:],
                       listwise=self.listwise[:index] + self.listwise[index + 1:])

    def __post_init__(self):
        self.docs = np.asarray(self.docs)
        self.first = np.asarray(self.first, dtype=float)
        self.stage_scores = [np.asarray(s, dtype=float) for s in self.stage_scores]


@dataclass
class StageResult:
    """One step of a simulated cascade, for every query.

    ``order[q]`` lists the pool columns of the candidates that *entered* this step, sorted by the
    step's (combined) score; the first ``keep`` survive, the rest are dropped here. For the first
    pass the "entering" list is everything retrieved (``N`` deep) and ``keep`` is the pool size.
    """

    name: str
    keep: int
    order: np.ndarray      # [Q, C] pool columns, best first
    valid: np.ndarray      # [Q, C] False where a short list is padded
    scores: np.ndarray     # [Q, C] the score the step ranked by (combined)
    raw: np.ndarray        # [Q, C] the step's own scorer output
    # [Q] per-query kept counts of an adaptive cut-off (cascade/cutoff.py); None: ``keep`` for all
    counts: np.ndarray | None = None

    @property
    def n_in(self) -> np.ndarray:
        """Candidates entering this step, per query."""
        return self.valid.sum(axis=1)

    @property
    def n_kept(self) -> np.ndarray:
        return self.kept()[1].sum(axis=1)

    @property
    def adaptive(self) -> bool:
        return self.counts is not None

    @property
    def keep_per_query(self) -> np.ndarray:
        """``[Q]`` each query's cut-off: ``keep``, or an adaptive cut-off's own count."""
        if self.counts is None:
            return np.full(self.order.shape[0], self.keep)
        return np.minimum(self.counts, self.keep)

    def survives(self) -> np.ndarray:
        """``[Q, C]``: True where the candidate at this rank survives the step (``keep``, or the
        query's own count under an adaptive cut-off)."""
        limit = self.keep if self.counts is None else np.minimum(self.counts, self.keep)[:, None]
        return self.valid & (np.arange(self.order.shape[1])[None, :] < limit)

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """Pool columns of the survivors, best first, and their validity mask: ``[Q, keep]``
        (``keep`` wide; an adaptive cut-off marks the columns past a query's count invalid)."""
        return self.order[:, : self.keep], self.survives()[:, : self.keep]


@dataclass
class CascadeRun:
    """The result of simulating one spec: every step's ordering, for every query."""

    spec: CascadeSpec
    matrix: ScoreMatrix
    steps: list[StageResult]   # first pass, then each stage
    # listwise stages handed, under these cut-offs, a list they did not rank (empty: exact)
    approximate: list[ApproximateStage] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """False when a listwise stage's scores come from another candidate list than it receives."""
        return not self.approximate

    @property
    def final(self) -> StageResult:
        """The last step's survivors (its input here) cut at ``final_k``."""
        last = self.steps[-1]
        k = last.keep
        cols, valid = last.kept()
        return StageResult("final", min(self.spec.final_k, k), cols, valid, last.scores[:, :k], last.raw[:, :k])

    @property
    def first_pass_alone(self) -> StageResult:
        """The first pass's own ranking cut at ``final_k``: what would be shipped with no stage,
        the baseline every stage must beat (:mod:`cascade_core.analysis.lift`)."""
        first = self.steps[0]
        k = first.keep
        return StageResult("first pass alone", min(self.spec.final_k, k), first.order[:, :k], first.valid[:, :k],
                           first.scores[:, :k], first.raw[:, :k])

    def corpus_positions(self, step: StageResult) -> tuple[np.ndarray, np.ndarray]:
        """Corpus positions of a step's survivors ``[Q, keep]`` (-1 where invalid) and the mask."""
        cols, valid = step.kept()
        pos = np.take_along_axis(self.matrix.docs, cols, axis=1)
        return np.where(valid, pos, -1), valid

    def final_doc_ids(self, q: int) -> list[str]:
        pos, valid = self.corpus_positions(self.final)
        return [self.matrix.doc_ids[p] for p, v in zip(pos[q], valid[q]) if v]

    def dropped_at(self) -> np.ndarray:
        """``[Q, N]``: for each first-pass column, the step index that dropped it.

        ``len(steps)`` means it survived to the end; 0 means the first pass did not keep it
        (it lies below the pool size); -1 marks padding.
        """
        Q, N = self.matrix.docs.shape
        out = np.full((Q, N), len(self.steps), dtype=int)
        rows = np.arange(Q)[:, None]
        for i, step in enumerate(self.steps):
            dropped_valid = step.valid & ~step.survives()
            out[rows.repeat(step.order.shape[1], 1)[dropped_valid], step.order[dropped_valid]] = i
        out[self.matrix.docs < 0] = -1
        return out


def simulate(spec: CascadeSpec, matrix: ScoreMatrix) -> CascadeRun:
    """Run ``spec``'s cut-offs over stored scores. Pure NumPy: no model call, no I/O."""
    if len(matrix.stage_scores) < len(spec.stages):
        raise SpecError(f"the score matrix has {len(matrix.stage_scores)} stages of scores; "
                        f"the spec has {len(spec.stages)}")
    Q, N = matrix.docs.shape
    if matrix.retrieved_depth is not None and spec.pool_size > matrix.retrieved_depth:
        raise MissingScoresError(f"the first pass was stored {matrix.retrieved_depth} deep; a pool of "
                                 f"{spec.pool_size} needs it retrieved deeper first")
    pool = min(spec.pool_size, N)
    all_cols = np.broadcast_to(np.arange(N), (Q, N))
    valid_all = matrix.docs >= 0
    first = np.where(valid_all, matrix.first, -np.inf)
    steps = [StageResult("first pass", pool, all_cols, valid_all, first, first)]

    cols, valid, incoming = all_cols[:, :pool], valid_all[:, :pool], first[:, :pool]
    approximate = []
    for s, stage in enumerate(spec.stages):
        lists = matrix.listwise_of(s)
        if lists is None:
            raw = np.take_along_axis(matrix.stage_scores[s], cols, axis=1)
        else:   # listwise: the scores of the list it receives now, if it ranked that list
            raw, differs = lists.raw_scores(np.take_along_axis(matrix.docs, cols, axis=1), valid)
            if differs.any():
                approximate.append(ApproximateStage(stage.name, s, int(differs.sum()), Q))
        missing = valid & np.isnan(raw)
        if missing.any():
            qs = np.flatnonzero(missing.any(axis=1))
            raise MissingScoresError(
                f"stage {stage.name!r} has no stored score for {int(missing.sum())} candidates "
                f"({len(qs)} queries, first {matrix.query_ids[qs[0]]!r}); score them first")
        combined = _combine(stage, raw, incoming, valid)
        key = np.where(valid, combined, -np.inf)
        # A stable sort on the negated key: ties keep the incoming order (deterministic).
        order = np.argsort(-key, axis=1, kind="stable")
        take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
        keep = min(stage.keep, cols.shape[1])
        scores, valid_sorted = take(combined), take(valid)
        # An adaptive cut-off counts, per query, the candidates its rule keeps among the sorted ones.
        counts = None if stage.cutoff is None else stage.cutoff.counts(scores, valid_sorted, keep)
        step = StageResult(stage.name, keep, take(cols), valid_sorted, scores, take(raw), counts)
        steps.append(step)
        cols, valid = step.kept()
        incoming = step.scores[:, : step.keep]
    return CascadeRun(spec, matrix, steps, approximate)


def kept_counts(run: CascadeRun) -> dict[str, np.ndarray]:
    """``{stage name: [Q] candidates kept per query}`` for each adaptive stage of ``run``.

    >>> from cascade_core.scorers import ScorerConfig
    >>> from cascade_core.cascade.spec import CascadeSpec, StageSpec, parse_stage
    >>> m = ScoreMatrix(["q1", "q2"], ["a", "b", "c"], np.array([[0, 1, 2], [0, 1, 2]]),
    ...     np.array([[3.0, 2.0, 1.0]] * 2), [np.array([[0.9, 0.85, 0.1], [0.9, 0.1, 0.05]])])
    >>> spec = CascadeSpec(ScorerConfig("bm25"), pool_size=3, stages=[parse_stage("bi@drop=0.1,min=1,max=3")],
    ...                    final_k=1)
    >>> {k: v.tolist() for k, v in kept_counts(simulate(spec, m)).items()}
    {'bi-encoder': [2, 1]}
    """
    return {st.name: st.n_kept for st in run.steps[1:] if st.adaptive}


def _combine(stage: StageSpec, raw: np.ndarray, incoming: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The score a stage ranks by (see :mod:`cascade_core.fusion`). ``incoming`` is in incoming rank order."""
    return stage.fusion.combine(raw, incoming, valid)
