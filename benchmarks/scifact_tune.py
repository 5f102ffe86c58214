"""The budget tuner on full SciFact (test, 300 queries): recommendation, held-out spread, live check.

    python benchmarks/scifact_tune.py [--dataset ../shared/data/scifact] [--budget-ms 30] [--live 100]

The cascade shape is BM25 -> pool -> all-MiniLM-L6-v2 (its score normalised and summed with
BM25's, weight 0.5) -> keep -> final 10. The tuner searches pool x keep over a geometric grid
(pool up to 1000), simulating every combination from stored scores, and picks the best nDCG@10
whose predicted latency fits the budget. Then:
  * held-out check: repeated 5-fold over queries (tune on 4/5, measure on 1/5), 5 repeats;
  * the recommended spec's quality, its predicted latency, and its latency measured live on
    ``--live`` queries (p50/p95/p99 per stage, the real models end to end).
Scores are stored in $CASCADE_HOME: the first run encodes the corpus (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.progress import terminal_progress
from cascade_core.scoring.workspace import Workspace
from cascade_core.tuning import best_within_budget, cutoff_grid, grid_search, holdout_validation, pareto_front

REPO = Path(__file__).resolve().parents[1]
SHAPE = {
    "name": "BM25 -> MiniLM (norm-sum)",
    "first_pass": {"kind": "bm25"}, "pool_size": 1000, "final_k": 10,
    "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 100,
                "combine": "norm-sum", "weight": 0.5}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--budget-ms", type=float, default=30.0)
    ap.add_argument("--values", type=int, default=7, help="geometric steps per cut-off")
    ap.add_argument("--live", type=int, default=100, help="queries run live for measured latency")
    args = ap.parse_args()

    dataset = load_dataset(args.dataset, split="test")
    shape = CascadeSpec.from_dict(SHAPE)
    exp = Experiment(dataset, shape, Workspace())
    exp.ensure_scores(progress=terminal_progress())        # the deepest depth the grid needs
    grid = cutoff_grid(shape, values=args.values, max_pool=1000)
    tuned = grid_search(exp, grid, args.budget_ms)
    assert tuned.table["covered"].all(), "every combination lies within the scored depth"

    pd.set_option("display.width", 160)
    front = pareto_front(tuned.table["latency_ms"].to_numpy(), tuned.table["ndcg@10"].to_numpy())
    print(f"\n{len(grid)} combinations; the quality/latency Pareto front:")
    print(tuned.table.loc[front].sort_values("latency_ms").round(4).to_string(index=False))

    chosen = best_within_budget(tuned)
    if chosen is None:
        raise SystemExit(f"nothing fits {args.budget_ms} ms")
    best = tuned.spec_at(chosen)
    row = tuned.table.loc[chosen]
    print(f"\nRecommended within {args.budget_ms:.0f} ms: {best.describe()}")
    print(f"  nDCG@10 {row['ndcg@10']:.3f}, recall@10 {row['recall@10']:.3f}, predicted {row['latency_ms']:.1f} ms")

    h = holdout_validation(tuned, k=5, repeats=5)
    print(f"\nHeld-out (5-fold x 5 repeats): in-sample nDCG@10 {h.in_sample:.3f}, held-out "
          f"{h.held_out_mean:.3f} +- {h.held_out_std:.3f} (min {h.folds['held-out ndcg@10'].min():.3f}, "
          f"max {h.folds['held-out ndcg@10'].max():.3f}), optimism {h.optimism:+.3f}")
    picks = h.folds.groupby(["pool_size", [c for c in h.folds.columns if c.startswith("keep ")][0]]).size()
    print("  cut-offs chosen per fold (pool, keep): count")
    print("  " + picks.to_string().replace("\n", "\n  "))

    result = exp.run(best, budget_ms=args.budget_ms)
    ev = result.evaluation
    print(f"\nRecommended spec measured: nDCG@10 {ev.final.means['ndcg@10']:.3f}, MRR@10 {ev.final.means['mrr@10']:.3f}, "
          f"funnel {' -> '.join(f'{r:.3f}' for r in ev.funnel)}")
    print("  predicted ms per stage: " + ", ".join(f"{s.name} {s.predicted_ms:.1f}" for s in result.latency.stages)
          + f"; total {result.latency.total_ms:.1f}")
    baseline = exp.run(shape.with_keeps(pool_size=100, keeps=[100]), budget_ms=args.budget_ms)
    print(f"  for reference, pool 100 keep 100: nDCG@10 {baseline.evaluation.final.means['ndcg@10']:.3f}, "
          f"predicted {baseline.latency.total_ms:.1f} ms")
    if args.live:
        live = exp.measure_live(args.live, best)
        print(f"  measured live over {args.live} queries, quiet-equivalent (ms p50/p95/p99): " + "; ".join(
            f"{n} {v['p50']:.1f}/{v['p95']:.1f}/{v['p99']:.1f}" for n, v in live.quiet.items()))
        print(f"  {live.describe()}")


if __name__ == "__main__":
    main()
