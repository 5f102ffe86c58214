"""The teacher's side of distillation: a cascade's ranking of each training query's candidates,
as numbers a student can learn from.

The candidates of a query are the teacher's first-pass top ``depth``. The default signal
(``"final"``) is the cascade's whole ranking of them: a candidate's score is the index of the
deepest step it entered plus its min-max normalised score within that step (0-1 per query). So
every candidate a later stage saw ranks above every candidate dropped earlier, and within a step
the step's own (combined) score orders them: exactly the cascade's final list on top, then what
each stage dropped, in order. The signal may instead be one stage's raw scores (its name):
candidates that stage never saw are left out.

>>> import numpy as np
>>> from cascade_core.cascade.simulate import ScoreMatrix, simulate
>>> from cascade_core.cascade.spec import CascadeSpec
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 3,
...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 2}], "final_k": 2})
>>> m = ScoreMatrix(["q"], ["a", "b", "c", "d"], np.array([[0, 1, 2, 3]]), np.array([[4.0, 3, 2, 1]]),
...                 [np.array([[0.1, 0.9, 0.5, np.nan]])])
>>> teacher_scores(simulate(spec, m), depth=4).round(2).tolist()   # b, c, a (stage order); d (pool cut)
[[1.0, 2.0, 1.5, 0.0]]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..analysis.experiment import Experiment
from ..cascade.simulate import CascadeRun, simulate
from ..cascade.spec import CascadeSpec
from ..errors import CascadeError
from ..progress import ProgressCallback
from ..scoring.ensure import load_matrix
from .queries import TrainingQueries


def teacher_scores(run: CascadeRun, depth: int, signal: str = "final") -> np.ndarray:
    """``[Q, min(depth, N)]``: the teacher score of each first-pass column (NaN: no candidate,
    or one the signal's stage never scored). ``signal``: ``"final"`` or a stage's name."""
    Q, N = run.matrix.docs.shape
    rows = np.broadcast_to(np.arange(Q)[:, None], (Q, N))
    if signal != "final":
        check_signal(run.spec, signal)
        step = run.steps[1 + run.spec.stage_names[1:].index(signal)]
        out = np.full((Q, N), np.nan)
        r = rows[:, : step.order.shape[1]]
        out[r[step.valid], step.order[step.valid]] = step.raw[step.valid]
        return out[:, :depth]
    level = np.full((Q, N), np.nan)
    for i, step in enumerate(run.steps):
        s = np.where(step.valid, step.scores, np.nan)
        with warnings.catch_warnings():   # rows with no candidate: all-NaN, left NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(s, axis=1, keepdims=True), np.nanmax(s, axis=1, keepdims=True)
        norm = np.where(hi > lo, (s - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
        r = rows[:, : step.order.shape[1]]
        # Later steps see a subset of earlier ones: overwriting leaves each column's deepest step.
        level[r[step.valid], step.order[step.valid]] = i + norm[step.valid]
    return level[:, :depth]


def check_signal(teacher: CascadeSpec, signal: str) -> None:
    """Refuse a signal that is neither ``final`` nor one of the teacher's stages (before any scoring)."""
    names = teacher.stage_names[1:]
    if signal != "final" and signal not in names:
        raise CascadeError(f"teacher signal {signal!r}: no such stage; the teacher's stages are "
                           f"{', '.join(names) or 'none'} (or use 'final': the cascade's ranking)")


@dataclass
class TrainingSet:
    """Each training query's candidates with the teacher's score and the judged grade of each."""

    query_ids: list[str]
    query_texts: list[str]
    docs: list[list[str]]            # candidate document ids, in the teacher's first-pass order
    teacher: list[np.ndarray]        # teacher score per candidate (higher is better)
    grades: list[np.ndarray]         # judged grade per candidate (0: unjudged or not relevant)
    signal: str = "final"
    depth: int = 0

    def __len__(self) -> int:
        return len(self.query_ids)

    @property
    def n_candidates(self) -> int:
        return sum(len(d) for d in self.docs)


def build_training_set(dataset, training: TrainingQueries, teacher: CascadeSpec, workspace,
                       depth: int | None = None, signal: str = "final",
                       progress: ProgressCallback | None = None) -> TrainingSet:
    """Score the teacher on the training queries (stored scores are reused; only what is missing
    is scored) and read its signal for the first-pass top ``depth`` (default: its pool size)."""
    check_signal(teacher, signal)
    exp = Experiment(dataset, teacher, workspace, queries=training.queries)
    exp.ensure_scores(progress=progress)
    run = simulate(teacher, load_matrix(exp.plan, training.queries))
    depth = min(depth or teacher.pool_size, run.matrix.depth)
    scores = teacher_scores(run, depth, signal)
    qids, texts, docs, teach, grades = [], [], [], [], []
    for q, qid in enumerate(run.matrix.query_ids):
        cols = np.flatnonzero((run.matrix.docs[q, :depth] >= 0) & ~np.isnan(scores[q]))
        if len(cols) < 2:
            continue   # nothing to rank
        ids = [run.matrix.doc_ids[p] for p in run.matrix.docs[q, cols]]
        judged = training.qrels.relevant(qid)
        qids.append(qid)
        texts.append(training.queries.text_of(qid))
        docs.append(ids)
        teach.append(scores[q, cols].astype(np.float32))
        grades.append(np.array([judged.get(d, 0) for d in ids], dtype=np.float32))
    if not qids:
        raise CascadeError("the teacher found no candidates to rank for any training query")
    return TrainingSet(qids, texts, docs, teach, grades, signal, depth)
