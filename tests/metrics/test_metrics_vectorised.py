"""evaluate() does not loop over queries in Python.

Not a timed assertion: it counts the Python- and C-level function calls evaluate() makes (with a
profiler hook) and checks that 400 queries make exactly as many calls as 4. A per-query loop, a
list comprehension over rows or np.vectorize would make the count grow with Q.
Timings are printed by ``benchmarks/bench_metrics.py``.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from cascade_core.metrics import RankedLists, evaluate

METRICS = ["ndcg@10", "ndcg_exp@10", "recall@100", "precision@10", "mrr@10", "map", "map@100",
           "success@10", "r-precision", "oracle_ndcg@10", "oracle_recall@100", "ndcg"]


def random_lists(q: int, k: int = 200, seed: int = 0) -> RankedLists:
    rng = np.random.default_rng(seed)
    gains = rng.integers(0, 4, size=(q, k)).astype(float) * (rng.random((q, k)) < 0.1)
    lengths = rng.integers(0, k + 1, size=q)
    valid = np.arange(k)[None, :] < lengths[:, None]
    ideal = -np.sort(-np.concatenate([gains * valid, rng.integers(0, 4, size=(q, 20))], axis=1), axis=1)
    return RankedLists(gains, valid, ideal)


def count_calls(lists: RankedLists) -> Counter:
    calls: Counter = Counter()

    def hook(frame, event, arg):
        if event in ("call", "c_call"):
            calls[event] += 1

    sys.setprofile(hook)
    try:
        evaluate(lists, METRICS)
    finally:
        sys.setprofile(None)
    return calls


def test_call_count_does_not_grow_with_queries():
    small, large = count_calls(random_lists(4)), count_calls(random_lists(400))
    assert small == large
    assert small["call"] + small["c_call"] < 2000
