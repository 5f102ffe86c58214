"""The holes of a cascade run: documents in a step's top k that nobody judged.

On a sparsely judged collection an unjudged document counts as non-relevant, so a reranker that
surfaces new documents can look worse than it is. These are exactly the documents worth judging
next (the Judge page's "judge the unjudged documents in the cascade's top 10"). judged@k
(:mod:`cascade_core.metrics.judged`) says how many there are; this module says which.

Any judgment counts, a grade of 0 included. ``qrels`` is a :class:`~cascade_core.data.Qrels` or
a plain ``{query_id: {doc_id: grade}}`` mapping (e.g. the dataset's qrels merged with new
judgments).

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
>>> m = ScoreMatrix(["q1", "q2"], ["a", "b", "c", "d"], np.array([[0, 1, 2, 3], [3, 2, 1, 0]]),
...                 np.array([[4.0, 3, 2, 1]] * 2), [np.array([[0.1, 0.9, 0.5, 0.2], [0.3, 0.8, 0.1, 0.0]])])
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 4, "final_k": 2,
...                               "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 4}]})
>>> run = simulate(spec, m)
>>> [run.final_doc_ids(0), run.final_doc_ids(1)]
[['b', 'c'], ['c', 'd']]
>>> unjudged_in_top(run, {"q1": {"b": 1}, "q2": {"c": 0}}, k=10)
{'q1': ['c'], 'q2': ['d']}
>>> holes_table(run, {"q1": {"b": 1}, "q2": {"c": 0}}).to_dict("records")
[{'query_id': 'q1', 'rank': 2, 'doc_id': 'c'}, {'query_id': 'q2', 'rank': 2, 'doc_id': 'd'}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import pandas as pd

if TYPE_CHECKING:   # the metrics package never imports the simulation at run time
    from ..cascade.simulate import CascadeRun, StageResult
    from ..data import Qrels


def unjudged_in_top(run: "CascadeRun", qrels: "Qrels | Mapping[str, Mapping[str, int]]", k: int = 10,
                    step: str = "final") -> dict[str, list[str]]:
    """Per query, the unjudged documents among ``step``'s top ``k``, best ranked first.

    ``step`` is a step name of ``run`` (``"first pass"``, a stage's name) or ``"final"`` (the
    list shipped, cut at final k). Queries without a hole are left out; a query absent from the
    qrels has every document of its top k listed. See the module example.
    """
    return {qid: [doc for _, doc in holes] for qid, holes in _holes(run, qrels, k, step).items()}


def holes_table(run: "CascadeRun", qrels: "Qrels | Mapping[str, Mapping[str, int]]", k: int = 10,
                step: str = "final") -> pd.DataFrame:
    """The same holes as rows: ``query_id``, ``rank`` (1-based, in ``step``'s list), ``doc_id``."""
    rows = [{"query_id": qid, "rank": rank, "doc_id": doc}
            for qid, holes in _holes(run, qrels, k, step).items() for rank, doc in holes]
    return pd.DataFrame(rows, columns=["query_id", "rank", "doc_id"])


def _holes(run, qrels, k: int, step: str) -> dict[str, list[tuple[int, str]]]:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    judgments = getattr(qrels, "judgments", qrels)
    pos, valid = run.corpus_positions(_step(run, step))
    out: dict[str, list[tuple[int, str]]] = {}
    for qi, qid in enumerate(run.matrix.query_ids):
        judged = judgments.get(qid, {})
        docs = [run.matrix.doc_ids[p] for p, v in zip(pos[qi], valid[qi]) if v][:k]
        holes = [(rank, d) for rank, d in enumerate(docs, start=1) if d not in judged]
        if holes:
            out[qid] = holes
    return out


def _step(run, name: str) -> "StageResult":
    if name == "final":
        return run.final
    for st in run.steps:
        if st.name == name:
            return st
    raise ValueError(f"no step {name!r} in this run; its steps: {[s.name for s in run.steps] + ['final']}")
