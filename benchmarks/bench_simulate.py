"""How fast is re-simulation from stored scores? (DESIGN: "a slider move re-renders in well under 100 ms")

Scores a three-stage cascade once (BM25 -> 1000 -> MiniLM -> 100 -> cross-encoder -> 20 ->
BM25 fused by normalised sum -> 10)
over every query of a dataset, then times, from the stored scores and with no model call:

* ``simulate`` alone, and ``simulate`` + every metric of every step + predicted latency
  (what a dashboard redraw needs), for the same spec and for a random different cut-off each time;
* loading the score matrix from the store (done once per cascade, not per slider move).

The cross-encoder is a locally built *untrained* tiny one (no pretrained one is obtainable
offline); its scores are real model outputs, which is all a timing of the simulator needs.

    python benchmarks/bench_simulate.py [--dataset sample_data/scifact-mini] [--repeats 50]

Scoring runs once and is stored in $CASCADE_HOME (or a temporary folder with --fresh).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.models.loading import build_tiny_cross_encoder
from cascade_core.progress import terminal_progress
from cascade_core.scoring.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(REPO / "sample_data" / "scifact-mini"))
    ap.add_argument("--split", default=None)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--fresh", action="store_true", help="use a new temporary data folder")
    args = ap.parse_args()

    ws = Workspace(tempfile.mkdtemp() if args.fresh else None)
    dataset = load_dataset(args.dataset, split=args.split)
    cross = build_tiny_cross_encoder(ws.home / "models" / "tiny-cross-encoder")
    spec = CascadeSpec.from_dict({
        "first_pass": {"kind": "bm25"}, "pool_size": 1000,
        "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 100},
                   {"scorer": {"kind": "cross-encoder", "model": cross}, "keep": 20},
                   {"scorer": {"kind": "bm25"}, "keep": 10, "combine": "norm-sum", "weight": 0.3}],
        "final_k": 10})
    exp = Experiment(dataset, spec, ws)
    t0 = time.perf_counter()
    exp.ensure_scores(progress=terminal_progress())
    # Random cut-offs for every rerank stage below. To cover them all, the deepest variant is
    # scored too (the cross-encoder passing on all 100 lets BM25 score every stage-1 survivor).
    exp.ensure_scores(spec.with_keeps(keeps=[100, 100, 10]), progress=terminal_progress())
    print(f"scoring (first time only): {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    matrix = exp.matrix
    _ = exp.relevance
    load_ms = (time.perf_counter() - t0) * 1000
    Q, N = matrix.docs.shape
    print(f"{Q} queries x {N} first-pass candidates x {len(spec.stages)} rerank stages; "
          f"matrix load + relevance: {load_ms:.0f} ms (once per cascade)")

    from cascade_core.cascade import simulate
    rng = np.random.default_rng(0)
    specs = []
    for _ in range(args.repeats):
        k1 = int(rng.integers(20, 101))
        k2 = int(rng.integers(5, min(k1, 20) + 1))
        specs.append(spec.with_keeps(keeps=[k1, k2, int(rng.integers(1, k2 + 1))], final_k=1))

    sim_same = timed(lambda: simulate(spec, matrix), args.repeats)
    full_same = timed(lambda: exp.run(spec), args.repeats)
    it = iter(specs * 2)
    full_random = timed(lambda: exp.run(next(it)), args.repeats)
    for name, ms in (("simulate only, same spec", sim_same),
                     ("simulate + all metrics + latency, same spec", full_same),
                     ("simulate + all metrics + latency, random cut-offs", full_random)):
        print(f"{name:<52} median {statistics.median(ms):7.1f} ms   p95 {np.percentile(ms, 95):7.1f} ms")
    print(f"budget: 100 ms -> median redraw uses {statistics.median(full_random) / 100:.0%} of it")


if __name__ == "__main__":
    main()
