"""Time evaluate() on a cascade-sized batch: Q=300 queries, lists of K=1000, 6 metrics.

    python benchmarks/bench_metrics.py

Target: well under 20 ms per call (a slider move re-renders many of these).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from cascade_core.metrics import RankedLists, evaluate  # noqa: E402

Q, K = 300, 1000
METRICS = ["ndcg@10", "recall@100", "precision@10", "mrr@10", "map", "success@10"]


def main(repeats: int = 50) -> None:
    rng = np.random.default_rng(0)
    gains = rng.integers(0, 4, size=(Q, K)).astype(float) * (rng.random((Q, K)) < 0.05)
    lengths = rng.integers(K // 2, K + 1, size=Q)
    valid = np.arange(K)[None, :] < lengths[:, None]
    gains *= valid
    ideal = -np.sort(-np.concatenate([gains, rng.integers(0, 4, size=(Q, 30))], axis=1), axis=1)
    ideal = ideal[:, : int((ideal > 0).sum(1).max())]

    times = []
    for _ in range(repeats):
        lists = RankedLists(gains, valid, ideal)  # fresh: derived arrays are computed each time
        start = time.perf_counter()
        evaluate(lists, METRICS)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    print(f"evaluate(Q={Q}, K={K}, {len(METRICS)} metrics): "
          f"median {np.median(ms):.2f} ms, min {ms.min():.2f} ms, max {ms.max():.2f} ms over {repeats} runs")


if __name__ == "__main__":
    main()
