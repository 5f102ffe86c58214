"""Cross-check every metric against ir_measures (pytrec_eval / trec_eval, MS MARCO for RR@k).

Random runs: 50 queries, lists of random length 0..120 drawn from a 300-document pool, graded
qrels 0..3 with judged non-relevant (grade 0) documents and relevant documents never retrieved,
plus queries with an empty run, without qrels, and with only grade-0 judgments.

Two details of the reference to respect:

* pytrec_eval re-sorts a run by score (descending, ties by doc id), so every document gets a
  strictly decreasing score (``len - rank``) and the order we pass is the order it evaluates.
* pytrec_eval only reports queries present in both run and qrels; a query with an empty run is
  missing there, and must be exactly 0 here (when it has relevant documents).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

ir_measures = pytest.importorskip("ir_measures")
from ir_measures import AP, P, R, RR, Rprec, Success, nDCG  # noqa: E402

from cascade_core.metrics import RankedLists, evaluate  # noqa: E402

N_QUERIES = 50
POOL = 300
MAX_LEN = 120

EXP_GAINS = {0: 0, 1: 1, 2: 3, 3: 7}  # 2**grade - 1

# our name -> (reference measure, NaN for queries without relevant documents?)
CASES = {
    "ndcg@10": (nDCG @ 10, True),
    "ndcg@100": (nDCG @ 100, True),
    "ndcg": (nDCG, True),
    "ndcg_exp@10": (nDCG(gains=EXP_GAINS) @ 10, True),
    "ndcg_exp": (nDCG(gains=EXP_GAINS), True),
    "recall@10": (R @ 10, True),
    "recall@100": (R @ 100, True),
    "recall": (R @ 1000, True),  # lists are <= 120 long: @1000 is the whole list
    "precision@1": (P @ 1, False),
    "precision@5": (P @ 5, False),
    "precision@10": (P @ 10, False),
    "mrr@10": (RR @ 10, False),
    "mrr": (RR, False),
    "map": (AP, True),
    "map@10": (AP @ 10, True),
    "map@100": (AP @ 100, True),
    "success@1": (Success @ 1, False),
    "success@10": (Success @ 10, False),
    "r-precision": (Rprec, True),
}


def random_collection(seed: int):
    rng = np.random.default_rng(seed)
    pool = [f"d{i:03d}" for i in range(POOL)]
    query_ids = [f"q{i:02d}" for i in range(N_QUERIES)]
    run: dict[str, list[str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, qid in enumerate(query_ids):
        length = int(rng.integers(0, MAX_LEN + 1))
        if i < 3:
            length = 0  # empty runs
        docs = list(rng.choice(pool, size=length, replace=False))
        run[qid] = docs
        if i in (3, 4):
            continue  # no qrels at all
        # Judge some retrieved documents and some never retrieved.
        n_judged_in = int(rng.integers(0, min(length, 30) + 1))
        judged = set(rng.choice(docs, size=n_judged_in, replace=False)) if n_judged_in else set()
        judged |= set(rng.choice(pool, size=int(rng.integers(0, 20)), replace=False))
        grades = {d: int(rng.integers(0, 4)) for d in sorted(judged)}
        if i in (5, 6):
            grades = {d: 0 for d in grades} or {pool[0]: 0}  # only judged non-relevant
        if i == 7:
            grades = {d: 3 for d in docs[:5]}  # every relevant retrieved, at the top
        qrels[qid] = grades
    return query_ids, run, qrels


def reference_values(measure, run, qrels) -> dict[str, float]:
    scored = {qid: {d: float(len(docs) - r) for r, d in enumerate(docs)} for qid, docs in run.items() if docs}
    return {m.query_id: float(m.value) for m in ir_measures.iter_calc([measure], qrels, scored)}


@pytest.fixture(scope="module", params=[0, 1, 2])
def collection(request):
    query_ids, run, qrels = random_collection(request.param)
    lists = RankedLists.from_runs(run, qrels, query_ids)
    ours = evaluate(lists, list(CASES))
    return query_ids, run, qrels, lists, ours


def test_collection_covers_the_edge_cases(collection):
    query_ids, run, qrels, lists, _ = collection
    n_rel = lists.n_relevant
    assert (lists.valid.sum(1) == 0).any()
    assert (n_rel == 0).sum() >= 4
    judged_zero = any(g == 0 and d in run[q] for q in qrels for d, g in qrels[q].items())
    never_retrieved = any(g > 0 and d not in run[q] for q in qrels for d, g in qrels[q].items())
    assert judged_zero and never_retrieved
    assert lists.depth <= MAX_LEN


@pytest.mark.parametrize("name", list(CASES))
def test_matches_ir_measures(collection, name):
    query_ids, run, qrels, lists, ours = collection
    measure, nan_without_relevant = CASES[name]
    ref = reference_values(measure, run, qrels)
    values = ours[name]
    assert values.shape == (len(query_ids),)
    compared = 0
    for i, qid in enumerate(query_ids):
        has_relevant = lists.n_relevant[i] > 0
        if not has_relevant:
            if nan_without_relevant:
                assert math.isnan(values[i]), (name, qid)
            else:
                assert values[i] == 0.0, (name, qid)
                if qid in ref:
                    assert ref[qid] == 0.0
            continue
        if qid not in ref:
            # pytrec_eval skips a query with an empty run; here it scores 0.
            assert not run[qid], (name, qid)
            assert values[i] == 0.0, (name, qid)
            continue
        assert values[i] == pytest.approx(ref[qid], abs=1e-6), (name, qid)
        compared += 1
    assert compared >= 30


def test_map_at_k_divides_by_all_relevant(collection):
    """AP@k is trec_eval map_cut_k: denominator R, not min(k, R) -- so AP@k <= AP."""
    *_, ours = collection
    ap, ap10 = ours["map"], ours["map@10"]
    ok = ~np.isnan(ap)
    assert (ap10[ok] <= ap[ok] + 1e-12).all()
