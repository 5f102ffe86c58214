"""judged@k and the condensed-list metrics against ir_measures, and the holes of a cascade run.

Two collections: the random one of ``test_metrics_reference`` (edge cases: empty runs, queries
without qrels, judged non-relevant documents), and a realistic cascade on the bundled SciFact
sample: BM25 first pass over the real corpus, a seeded noisy rerank stage that surfaces documents
the shallow pool never saw, judgments = the sample's qrels plus grade-0 judgments for BM25's
top 5 (a depth-5 pool, as TREC would judge it). The references: ``Judged@k``, and each measure on
the run filtered to judged documents (the condensed list).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

ir_measures = pytest.importorskip("ir_measures")
from ir_measures import AP, RR, Judged, P, nDCG  # noqa: E402
from tests.metrics.test_metrics_reference import random_collection  # noqa: E402

from cascade_core.metrics import RankedLists, evaluate  # noqa: E402

# our name -> (reference measure, applied to the filtered run?)
CASES = {
    "judged@10": (Judged @ 10, False),
    "judged@5": (Judged @ 5, False),
    "judged": (Judged, False),
    "ndcg_condensed@10": (nDCG @ 10, True),
    "ndcg_condensed": (nDCG, True),
    "map_condensed": (AP, True),
    "mrr_condensed@10": (RR @ 10, True),
    "precision_condensed@5": (P @ 5, True),
}


def scored(run):
    """Strictly decreasing scores: the references re-sort by score, ties by doc id."""
    return {qid: {d: float(len(docs) - r) for r, d in enumerate(docs)} for qid, docs in run.items() if docs}


def reference(measure, run, qrels, condensed: bool) -> dict[str, float]:
    if condensed:
        run = {q: [d for d in docs if d in qrels.get(q, {})] for q, docs in run.items()}
    return {m.query_id: float(m.value) for m in ir_measures.iter_calc([measure], qrels, scored(run))}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(CASES))
def test_random_collection_matches_ir_measures(seed, name):
    query_ids, run, qrels = random_collection(seed)
    lists = RankedLists.from_runs(run, qrels, query_ids)
    values = evaluate(lists, [name])[name]
    measure, condensed = CASES[name]
    ref = reference(measure, run, qrels, condensed)
    compared = 0
    for i, qid in enumerate(query_ids):
        if qid in ref and not math.isnan(values[i]):
            assert values[i] == pytest.approx(ref[qid], abs=1e-9), (name, qid)
            compared += 1
        elif name.startswith("judged"):
            # the reference skips queries without qrels or without a list; empty list: NaN here
            assert not run[qid] or qid not in qrels, (name, qid)
            assert math.isnan(values[i]) if not run[qid] else values[i] == 0.0
        else:
            # no relevant document (NaN here), or a condensed list left empty (0 here, skipped there)
            assert lists.n_relevant[i] == 0 or values[i] == 0.0, (name, qid)
    assert compared >= 30


def test_judged_counts_judged_non_relevant_and_divides_by_the_list_length():
    lists = RankedLists.from_runs({"q": ["a", "u", "n"]}, {"q": {"a": 2, "n": 0}}, ["q"])
    out = evaluate(lists, ["judged@10", "judged@2", "judged@1", "ndcg@10", "ndcg_condensed@10", "ndcg'@10"])
    assert out["judged@10"][0] == pytest.approx(2 / 3)   # 3 documents, not 10
    assert out["judged@2"][0] == 0.5 and out["judged@1"][0] == 1.0
    assert out["ndcg_condensed@10"][0] == 1.0 and out["ndcg'@10"][0] == 1.0
    assert out["ndcg@10"][0] == 1.0   # the relevant one is first either way


def test_without_judged_information_every_document_counts_as_judged():
    lists = RankedLists(np.array([[0.0, 1.0]]), np.array([[True, True]]), np.array([[1.0]]))
    out = evaluate(lists, ["judged@10", "ndcg@10", "ndcg_condensed@10"])
    assert out["judged@10"][0] == 1.0
    assert out["ndcg_condensed@10"][0] == out["ndcg@10"][0]


# -- a realistic cascade on the bundled sample ---------------------------------------------------


@pytest.fixture(scope="module")
def sample_cascade():
    from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
    from cascade_core.cascade.demo import SAMPLE_DATASET
    from cascade_core.data import Qrels, load_dataset
    from cascade_core.scorers.bm25 import DEFAULTS, BM25Index

    ds = load_dataset(SAMPLE_DATASET, split="test")
    queries = ds.judged_queries
    index = BM25Index(ds.corpus, **DEFAULTS)
    position = {d: i for i, d in enumerate(ds.corpus.ids)}
    depth = 100
    qids = queries.ids
    docs = np.full((len(qids), depth), -1)
    first = np.full((len(qids), depth), np.nan)
    for qi, qid in enumerate(qids):
        s = index.scores_all(queries.text_of(qid))
        top = np.argsort(-s, kind="stable")[:depth]
        docs[qi] = [position[index.doc_ids[t]] for t in top]
        first[qi] = s[top]
    # A rerank stage: BM25 plus seeded noise, so it pulls up documents the depth-5 pool never judged.
    rng = np.random.default_rng(7)
    stage = first + rng.normal(0, first.std(), size=first.shape)
    matrix = ScoreMatrix(qids, ds.corpus.ids, docs, first, [stage])
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10,
                                  "stages": [{"scorer": {"kind": "bi-encoder"}, "keep": 20}]})
    judgments = {q: dict(ds.qrels.judgments.get(q, {})) for q in qids}
    for qi, qid in enumerate(qids):
        for p in docs[qi, :5]:
            judgments[qid].setdefault(ds.corpus.ids[p], 0)
    return simulate(spec, matrix), Qrels(judgments)


def test_sample_cascade_matches_ir_measures_to_1e9(sample_cascade):
    from cascade_core.analysis.evaluation import evaluate_run
    from cascade_core.metrics.holes import unjudged_in_top

    run, qrels = sample_cascade
    ev = evaluate_run(run, qrels)
    qids = run.matrix.query_ids
    steps = {s.name: s for s in run.steps}
    steps["final"] = run.final
    spread = []
    for st_eval in ev.steps + [ev.final]:
        pos, valid = run.corpus_positions(steps[st_eval.name])
        ranked = {q: [run.matrix.doc_ids[p] for p, v in zip(pos[i], valid[i]) if v] for i, q in enumerate(qids)}
        j10 = reference(Judged @ 10, ranked, qrels.judgments, condensed=False)
        n10 = reference(nDCG @ 10, ranked, qrels.judgments, condensed=True)
        for i, q in enumerate(qids):
            assert st_eval.per_query["judged@10"][i] == pytest.approx(j10[q], abs=1e-9), (st_eval.name, q)
            assert st_eval.per_query["ndcg_condensed@10"][i] == pytest.approx(n10[q], abs=1e-9), (st_eval.name, q)
        spread.append(st_eval.means["judged@10"])
    # the run is realistic: a fully judged first pass top 5, a reranker that surfaces holes
    assert ev.steps[0].means["judged@10"] > ev.final.means["judged@10"]
    assert ev.final.means["ndcg_condensed@10"] > ev.final.means["ndcg@10"]
    assert "final" in ev.mostly_unjudged()
    assert ev.judged_nonrelevant and "Compare nDCG@10 condensed" in ev.unjudged_warning()
    # the holes listed are exactly the unjudged part of the final top 10
    holes = unjudged_in_top(run, qrels, k=10)
    for i, q in enumerate(qids):
        expected = round((1 - ev.final.per_query["judged@10"][i]) * len(run.final_doc_ids(i)))
        assert len(holes.get(q, [])) == expected, q
        assert all(d not in qrels.judgments[q] for d in holes.get(q, []))
