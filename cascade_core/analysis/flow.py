"""How candidates and judged-relevant documents flow through a simulated cascade.

>>> # rows = flow_table(run, relevance)          # whole query set
>>> # rows = flow_table(run, relevance, query=3) # one query
>>> # rows[1]["relevant_lost"] -> relevant documents the first rerank stage dropped
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cascade.simulate import CascadeRun, kept_counts
from .evaluation import Relevance


def relevant_kept(run: CascadeRun, relevance: Relevance) -> np.ndarray:
    """``[steps, Q]``: judged-relevant documents each step keeps, per query."""
    return np.asarray([relevant_survivors(step, relevance) for step in run.steps])


def relevant_survivors(step, relevance: Relevance) -> np.ndarray:
    """``[Q]``: judged-relevant documents among ``step``'s survivors, per query."""
    cols, valid = step.kept()
    return ((np.take_along_axis(relevance.grades, cols, axis=1) > 0) & valid).sum(axis=1)


def flow_table(run: CascadeRun, relevance: Relevance | None, query: int | None = None,
               corpus_size: int | None = None, final: bool = False) -> pd.DataFrame:
    """One row per step: candidates in, kept, dropped; relevant in, kept, lost.

    ``final``: a last row "final" for the cut at final k, when it is shorter than what the last
    step keeps (relevant documents the last step kept can still miss the final list).

    For the whole query set the candidate counts are means per query and the relevant counts are
    totals over queries (relevant documents are few: totals show them best). For one query
    (``query`` = row index) every count is that query's. The first pass's "in" is the corpus.
    """
    rows = np.arange(len(run.matrix.query_ids)) if query is None else np.array([query])
    n_corpus = corpus_size if corpus_size is not None else len(run.matrix.doc_ids)
    kept_rel = relevant_kept(run, relevance)[:, rows] if relevance is not None else None
    records = []
    cand_in = np.full(len(rows), float(n_corpus))
    rel_in = relevance.n_relevant[rows].astype(float) if relevance is not None else None
    steps = list(run.steps)
    if final and run.final.keep < run.steps[-1].keep:
        steps.append(run.final)
        if relevance is not None:
            kept_rel = np.vstack([kept_rel, relevant_survivors(run.final, relevance)[rows]])
    for i, step in enumerate(steps):
        if i > 0:
            cand_in = step.n_in[rows].astype(float)
        kept = step.n_kept[rows].astype(float)
        rec = {"step": step.name, "keep": step.keep,
               "candidates_in": float(cand_in.mean()), "kept": float(kept.mean()),
               "dropped": float((cand_in - kept).mean())}
        if relevance is not None:
            rk = kept_rel[i].astype(float)
            rec.update(relevant_in=float(rel_in.sum()), relevant_kept=float(rk.sum()),
                       relevant_lost=float((rel_in - rk).sum()))
            rel_in = rk
        records.append(rec)
    return pd.DataFrame(records)


def kept_count_summary(run: CascadeRun) -> pd.DataFrame:
    """One row per query-adaptive stage (:mod:`cascade_core.cascade.cutoff`): its rule and the
    distribution of the candidates it kept per query (empty when every cut-off is fixed).

    >>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
    >>> m = ScoreMatrix(["q1", "q2"], ["a", "b", "c"], np.array([[0, 1, 2]] * 2), np.array([[3.0, 2, 1]] * 2),
    ...                 [np.array([[0.9, 0.85, 0.1], [0.9, 0.1, 0.05]])])
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 3, "final_k": 1, "stages": [
    ...     {"scorer": {"kind": "bi-encoder"}, "keep": {"drop": 0.1, "min": 1, "max": 3}}]})
    >>> kept_count_summary(simulate(spec, m))[["mean", "p95", "max"]].to_dict("records")
    [{'mean': 1.5, 'p95': 1.95, 'max': 2}]
    """
    rules = {st.name: st.cutoff_label for st in run.spec.stages}
    rows = []
    for name, counts in kept_counts(run).items():
        c = np.asarray(counts, dtype=float)
        rows.append({"step": name, "cut-off": rules[name], "mean": float(c.mean()),
                     "p5": float(np.percentile(c, 5)), "p50": float(np.percentile(c, 50)),
                     "p95": float(np.percentile(c, 95)), "min": int(c.min()), "max": int(c.max())})
    return pd.DataFrame(rows, columns=["step", "cut-off", "mean", "p5", "p50", "p95", "min", "max"]).set_index("step")
