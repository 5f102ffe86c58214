"""Judging pools: every step's top k, deduplicated, shuffled per query; the holes of a final top 10."""

import numpy as np

from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.data import Qrels
from cascade_core.judgments import HOLES, judging_pool, pool_from_rankings, shuffled
from cascade_core.judgments.pool import step_rankings
from cascade_core.scorers import ScorerConfig

DOCS = [f"d{i}" for i in range(14)]
NAN = np.nan
# BM25 ranks d0..d11 (best first); the stage reverses the order of the pool of 8 it gets.
MATRIX = ScoreMatrix(
    query_ids=["q0"], doc_ids=DOCS,
    docs=np.array([list(range(12))]),
    first=np.array([[12.0 - i for i in range(12)]]),
    stage_scores=[np.array([[float(i) for i in range(12)]])],
)
SPEC = CascadeSpec(ScorerConfig("bm25"), pool_size=8, stages=[StageSpec(ScorerConfig("bi-encoder"), keep=4)],
                   final_k=3)


def test_each_steps_kept_list():
    run = simulate(SPEC, MATRIX)
    assert step_rankings(run, 0) == {"first pass": [f"d{i}" for i in range(8)],
                                     "bi-encoder": ["d7", "d6", "d5", "d4"]}
    assert run.final_doc_ids(0) == ["d7", "d6", "d5"]


def test_pool_is_the_deduplicated_union_of_every_steps_top_k():
    run = simulate(SPEC, MATRIX)
    pool = judging_pool(run, 0, "q0", "a query", depth=3)
    # the first pass's top 3 (d0 d1 d2) and the stage's (d7 d6 d5)
    assert sorted(pool.doc_ids) == ["d0", "d1", "d2", "d5", "d6", "d7"]
    assert pool.steps == ["first pass", "bi-encoder"] and pool.final_top == ["d7", "d6", "d5"]
    assert len(set(pool.doc_ids)) == len(pool.doc_ids)
    deep = judging_pool(run, 0, "q0", depth=10)
    assert sorted(deep.doc_ids) == sorted(f"d{i}" for i in range(8))   # each step keeps at most 8


def test_the_order_depends_on_the_query_alone():
    docs = [f"d{i}" for i in range(30)]
    a = pool_from_rankings("q0", [docs[:10], docs[5:15]], depth=10)
    # the same documents reached through other rankings, in another order: the same pool order
    assert a == pool_from_rankings("q0", [list(reversed(docs[:15]))], depth=15)
    assert a == shuffled(reversed(docs[:15]), "q0")                   # stable across calls (and refreshes)
    assert a != sorted(a)                                             # shuffled, not by id...
    assert a[:10] != docs[:10]                                        # ...nor by any step's rank
    assert pool_from_rankings("q1", [docs[:10], docs[5:15]], depth=10) != a   # each query its own order


def test_holes_are_the_unjudged_documents_of_the_final_top_10():
    run = simulate(SPEC.with_keeps(pool_size=12, keeps=[12], final_k=12), MATRIX)
    final = run.final_doc_ids(0)[:10]
    judged = Qrels({"q0": {final[0]: 2, final[3]: 0, "d99": 1}, "q1": {final[1]: 1}})
    pool = judging_pool(run, 0, "q0", depth=5, mode=HOLES, judged=judged)
    assert sorted(pool.doc_ids) == sorted(set(final) - {final[0], final[3]})
    assert pool.doc_ids == shuffled(pool.doc_ids, "q0") and len(pool) == 8
    assert pool.progress(judged) == "0 of 8 judged for this query"
    assert pool.next_unjudged(judged, skipped=[pool.doc_ids[0]]) == pool.doc_ids[1]
