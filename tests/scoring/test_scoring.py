"""Score once, simulate any cut-off: real BM25, real MiniLM in embedded Qdrant, a real CrossEncoder."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec, live_run
from cascade_core.errors import MissingScoresError
from cascade_core.scoring.ensure import CascadePlan, ensure_scores
from cascade_core.store.scores import query_key

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def three_stage(cross_model, pool=40, keeps=(20, 10), final_k=5):
    return CascadeSpec.from_dict({
        "first_pass": {"kind": "bm25"}, "pool_size": pool,
        "stages": [
            {"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": keeps[0]},
            {"scorer": {"kind": "cross-encoder", "model": cross_model}, "keep": keeps[1]},
        ],
        "final_k": final_k,
    })


def test_second_identical_run_makes_no_model_call(tiny_dataset, workspace, tiny_cross_encoder, monkeypatch):
    spec = three_stage(tiny_cross_encoder)
    plan = CascadePlan(spec, tiny_dataset.corpus, workspace)
    first = ensure_scores(plan, tiny_dataset.queries)
    assert first.retrieved_queries == len(tiny_dataset.queries)
    assert first.scored_pairs["bi-encoder"] == sum(min(40, len(tiny_dataset.corpus)) for _ in tiny_dataset.queries.ids)
    assert first.scored_pairs["cross-encoder"] == 20 * len(tiny_dataset.queries)
    n_costs = [len(workspace.store.costs(sid)) for sid in plan.scorer_ids]

    # A fresh plan on the same workspace: any model call would now blow up.
    plan2 = CascadePlan(spec, tiny_dataset.corpus, workspace)
    for scorer in plan2.scorers:
        monkeypatch.setattr(scorer, "score", lambda *a, **k: pytest.fail("scored twice"))
    monkeypatch.setattr(plan2.retriever, "retrieve", lambda *a, **k: pytest.fail("retrieved twice"))
    second = ensure_scores(plan2, tiny_dataset.queries)
    assert second.model_calls == 0
    assert [len(workspace.store.costs(sid)) for sid in plan.scorer_ids] == n_costs


def test_deeper_cut_off_scores_only_what_is_missing(tiny_dataset, workspace, tiny_cross_encoder):
    narrow = three_stage(tiny_cross_encoder, keeps=(10, 5))
    exp = Experiment(tiny_dataset, narrow, workspace)
    exp.ensure_scores()
    wider = narrow.with_keeps(keeps=[15, 5])
    with pytest.raises(MissingScoresError):
        exp.run(wider)
    report = exp.ensure_scores(wider)
    assert report.retrieved_queries == 0
    assert report.scored_pairs["bi-encoder"] == 0
    # stage 2 sees 15 instead of 10: at most 5 new pairs per query (more only if stage 1's top 10 changed: it cannot)
    assert report.scored_pairs["cross-encoder"] == 5 * len(tiny_dataset.queries)
    exp.run(wider)  # now simulates


def test_simulation_equals_live_end_to_end_run(tiny_dataset, workspace, tiny_cross_encoder):
    spec = three_stage(tiny_cross_encoder, pool=30, keeps=(12, 6), final_k=4)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    run = exp.run().run
    for qi, qid in enumerate(exp.queries.ids):
        live = live_run(exp.plan, exp.queries.text_of(qid))
        assert live.final_doc_ids == run.final_doc_ids(qi)[: len(live.final_doc_ids)]
        np.testing.assert_allclose(live.steps[-1].scores[:4], run.final.scores[qi, :4], rtol=1e-4, atol=1e-5)
        assert [s.n_scored for s in live.steps[1:]] == [30, 12]
        assert all(s.ms > 0 for s in live.steps)


def test_funnel_never_rises_and_metrics_agree_with_ir_measures(tiny_dataset, workspace):
    import ir_measures
    from ir_measures import AP, RR, Qrel, R, ScoredDoc, nDCG

    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 50, "stages": [
        {"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 10}], "final_k": 10})
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    result = exp.run()
    ev = result.evaluation
    assert ev.funnel[0] >= ev.funnel[1]
    for q in range(len(exp.queries)):
        per_step = [ev.steps[i].per_query["recall"][q] for i in range(2)]
        assert per_step[0] >= per_step[1]

    qrels = [Qrel(q, d, g) for q, docs in tiny_dataset.qrels.judgments.items() for d, g in docs.items()]
    for step_index in range(2):
        step = result.run.steps[step_index]
        pos, valid = result.run.corpus_positions(step)
        run = [ScoredDoc(qid, exp.matrix.doc_ids[p], float(len(pos[qi]) - r))
               for qi, qid in enumerate(exp.matrix.query_ids)
               for r, (p, v) in enumerate(zip(pos[qi], valid[qi])) if v]
        ref = {m: {} for m in ("ndcg", "rr", "ap", "r")}
        for metric in ir_measures.iter_calc([nDCG @ 10, RR @ 10, AP, R @ 10], qrels, run):
            name = {"nDCG@10": "ndcg", "RR@10": "rr", "AP": "ap", "R@10": "r"}[str(metric.measure)]
            ref[name][metric.query_id] = metric.value
        ours = ev.steps[step_index].per_query
        for qi, qid in enumerate(exp.matrix.query_ids):
            assert ours["ndcg@10"][qi] == pytest.approx(ref["ndcg"].get(qid, 0.0), abs=1e-9)
            assert ours["mrr@10"][qi] == pytest.approx(ref["rr"].get(qid, 0.0), abs=1e-9)
            assert ours["map"][qi] == pytest.approx(ref["ap"].get(qid, 0.0), abs=1e-9)
            assert ours["recall@10"][qi] == pytest.approx(ref["r"].get(qid, 0.0), abs=1e-9)


def test_latency_prediction_from_measured_costs(tiny_dataset, workspace, tiny_cross_encoder):
    spec = three_stage(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    lat = exp.run(budget_ms=0.001).latency
    assert [s.name for s in lat.stages] == ["first pass", "bi-encoder", "cross-encoder"]
    assert all(s.predicted_ms > 0 for s in lat.stages)
    assert lat.total_ms == pytest.approx(sum(s.predicted_ms for s in lat.stages))
    assert lat.within_budget is False and lat.first_over_budget == "first pass"
    measured = exp.measure_live(3)
    assert set(measured.quiet) == set(measured.wall) == {"first pass", "bi-encoder", "cross-encoder", "total"}
    assert measured.total["p50"] > 0


def test_cost_model_tells_a_per_query_cost_from_a_per_pair_one(tiny_dataset, workspace, tiny_cross_encoder):
    """Every stage receives the whole pool, yet its calls come in two sizes (calibration), the
    split-scored pairs equal one-call scores, and the first pass costs the same at any pool."""
    spec = three_stage(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    for sid in exp.plan.scorer_ids[1:]:
        sizes = workspace.store.costs(sid)[:, 0]
        assert len(np.unique(sizes)) >= 2, sid
    first, bi, cross = exp.cost_models()
    assert first.per_pair_ms == 0 and first.fixed_ms > 0
    assert first.predict_ms(10) == first.predict_ms(1000)
    qid = tiny_dataset.queries.ids[0]
    text = tiny_dataset.queries.text_of(qid)
    cols, valid = exp.run().run.steps[1].kept()
    row = exp.matrix.docs[0][cols[0][valid[0]]]
    docs = [tiny_dataset.corpus.documents[p].id for p in row]
    stored = workspace.store.get_many(cross.scorer_id, tiny_dataset.corpus.fingerprint,
                                      {query_key(text)})
    got = np.array([next(iter(stored.values()))[d] for d in docs])
    np.testing.assert_allclose(got, exp.plan.scorers[1].score(text, docs), rtol=1e-4, atol=1e-5)


def test_dense_and_hybrid_first_passes(tiny_dataset, workspace):
    for fp in ({"kind": "dense", "model": "all-MiniLM-L6-v2"},
               {"kind": "hybrid", "model": "all-MiniLM-L6-v2", "params": {"rrf_k": 60}},
               {"kind": "hybrid", "model": "all-MiniLM-L6-v2", "params": {"fusion": "norm-sum", "weight": 0.7}}):
        spec = CascadeSpec.from_dict({"first_pass": fp, "pool_size": 20, "final_k": 10})
        exp = Experiment(tiny_dataset, spec, workspace)
        exp.ensure_scores()
        ev = exp.run().evaluation
        assert ev.final.means["ndcg@10"] > 0.3, fp  # real retrieval on real data finds relevant docs


def test_hybrid_gives_no_rrf_credit_to_bm25_hits_that_match_no_term(tiny_dataset, workspace):
    """A query no document shares a word with: BM25's top-k is all zero scores in corpus order,
    which must not be fused as if it were a ranking. Hybrid then equals the dense ranking."""
    from cascade_core.scorers import ScorerConfig, ScorerContext, retriever_class

    ctx = ScorerContext(tiny_dataset.corpus, workspace)
    hybrid = retriever_class("hybrid")(ScorerConfig("hybrid", "all-MiniLM-L6-v2", {"depth": 10}), ctx)
    dense = retriever_class("dense")(ScorerConfig("dense", "all-MiniLM-L6-v2"), ctx)
    hybrid.prepare()
    query = "qwxzv plorkt"
    assert not (hybrid.bm25.index.scores_all(query) > 0).any()
    assert hybrid.retrieve(query, 10)[0] == dense.retrieve(query, 10)[0]
