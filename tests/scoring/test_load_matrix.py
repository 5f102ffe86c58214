"""``load_matrix`` reads any order of pointwise and listwise stages back from the store, and the
simulation runs over it: a listwise stage (its scores stored per candidate list) before a
pointwise one (scores per document) crashed once, because one variable held both."""

from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade_core.cascade import CascadeSpec, StageSpec, simulate
from cascade_core.scorers import ScorerConfig
from cascade_core.scoring.ensure import load_matrix
from cascade_core.scoring.workspace import Workspace
from cascade_core.store.scores import query_key

POOL = 12


def stored_plan(ws, dataset, kinds: list[str], seed: int):
    """A plan-shaped object over scores written straight into the store: a first pass of ``POOL``
    per query, then per stage (``"point"`` or ``"list"``) a score for each pooled document, the
    listwise ones stored as one list each (the pool, in first-pass order)."""
    rng = np.random.default_rng(seed)
    store, fp, corpus = ws.store, dataset.corpus.fingerprint, dataset.corpus
    queries = dataset.queries
    retriever = SimpleNamespace(id="first-pass:test")
    scorers = [SimpleNamespace(id=f"stage-{i}-{kind}", pointwise=kind == "point") for i, kind in enumerate(kinds)]
    for qid in queries.ids:
        key = query_key(queries.text_of(qid))
        docs = list(rng.choice(corpus.ids, size=POOL, replace=False))
        first = np.sort(rng.random(POOL))[::-1]
        store.put_retrieval(retriever.id, fp, key, docs, first, depth=POOL)
        for scorer in scorers:
            scores = rng.random(POOL)
            (store.put if scorer.pointwise else store.put_list)(scorer.id, fp, key, docs, scores)
    return SimpleNamespace(workspace=ws, corpus=corpus, retriever=retriever, scorers=scorers,
                           scorer_ids=[retriever.id] + [s.id for s in scorers])


def spec_for(keeps: list[int], final_k: int) -> CascadeSpec:
    return CascadeSpec(ScorerConfig("bm25"), POOL, tuple(StageSpec(ScorerConfig("bm25"), k, name=f"s{i}")
                                                         for i, k in enumerate(keeps)), final_k)


def test_a_pointwise_stage_after_a_listwise_one_loads_and_simulates(tmp_path, tiny_dataset):
    ws = Workspace(tmp_path)
    try:
        plan = stored_plan(ws, tiny_dataset, ["list", "point"], seed=0)
        matrix = load_matrix(plan, tiny_dataset.queries)
        assert matrix.listwise[0] is not None and matrix.listwise[1] is None
        assert np.isfinite(matrix.stage_scores[1][:, :POOL]).all()   # every pooled document's score read back
        run = simulate(spec_for([8, 4], 3), matrix)
        assert all(len(run.final_doc_ids(q)) == 3 for q in range(len(matrix.query_ids)))
    finally:
        ws.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["point", "list"]), min_size=1, max_size=4),
       cuts=st.lists(st.integers(1, POOL), min_size=4, max_size=4), seed=st.integers(0, 10_000))
def test_any_order_of_pointwise_and_listwise_stages(tmp_path_factory, tiny_dataset, kinds, cuts, seed):
    ws = Workspace(tmp_path_factory.mktemp("ws"))
    try:
        plan = stored_plan(ws, tiny_dataset, kinds, seed)
        matrix = load_matrix(plan, tiny_dataset.queries)
        marked = [x is not None for x in matrix.listwise] or [False] * len(kinds)   # [] when none is listwise
        assert marked == [k == "list" for k in kinds]
        keeps = sorted(cuts[:len(kinds)], reverse=True)          # cut-offs never grow
        run = simulate(spec_for(keeps, keeps[-1]), matrix)
        pooled = matrix.docs[:, :POOL]
        for q in range(len(matrix.query_ids)):
            final = run.final_doc_ids(q)
            assert len(final) == keeps[-1] and len(set(final)) == len(final)
            assert set(final) <= {tiny_dataset.corpus.ids[p] for p in pooled[q]}
        # only listwise stages can be approximate (handed a list they never ranked)
        assert {a.stage for a in run.approximate} <= {f"s{i}" for i, k in enumerate(kinds) if k == "list"}
    finally:
        ws.close()
