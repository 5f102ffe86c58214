"""The issue's quality checks on full SciFact (test, 300 queries), cross-checked with ir_measures.

    python benchmarks/scifact_quality.py [--dataset ../shared/data/scifact]

Runs (scoring once; later runs read the store in $CASCADE_HOME):
  * BM25 alone (pool 100)                      -- published BM25 nDCG@10: 0.665-0.684
  * all-MiniLM-L6-v2 dense over the full corpus -- MTEB: 0.645
  * BM25 -> 100 -> MiniLM -> 20 -> final 10      -- the funnel must never rise
For every run, nDCG@10 / MRR@10 / recall@100 per query are recomputed with ir_measures
(pytrec_eval) from the run's final lists and compared with ours.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ir_measures
import numpy as np
from ir_measures import RR, nDCG

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.progress import terminal_progress
from cascade_core.scoring.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SPECS = {
    "BM25 alone": {"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 100},
    "MiniLM dense": {"first_pass": {"kind": "dense", "model": "all-MiniLM-L6-v2"}, "pool_size": 100, "final_k": 100},
    "BM25@100 -> MiniLM@20": {"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10, "stages": [
        {"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 20}]},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    args = ap.parse_args()
    dataset = load_dataset(args.dataset, split="test")
    ws = Workspace()
    qrels = [ir_measures.Qrel(q, d, g) for q, ds in dataset.qrels.judgments.items() for d, g in ds.items()]
    for name, spec_dict in SPECS.items():
        exp = Experiment(dataset, CascadeSpec.from_dict(spec_dict), ws)
        exp.ensure_scores(progress=terminal_progress())
        result = exp.run()
        ev, run = result.evaluation, result.run
        final_pos, final_valid = run.corpus_positions(run.final)
        trec = [ir_measures.ScoredDoc(q, run.matrix.doc_ids[p], float(len(final_pos[i]) - r))
                for i, q in enumerate(run.matrix.query_ids)
                for r, (p, v) in enumerate(zip(final_pos[i], final_valid[i])) if v]
        ref = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10], qrels, trec)
        ours = ev.final.means
        funnel = " -> ".join(f"{r:.3f}" for r in ev.funnel)
        agree = (abs(ref[nDCG @ 10] - ours["ndcg@10"]) < 1e-9 and abs(ref[RR @ 10] - ours["mrr@10"]) < 1e-9)
        print(f"{name:<24} nDCG@10 {ours['ndcg@10']:.3f} (ir_measures {ref[nDCG @ 10]:.3f})  "
              f"MRR@10 {ours['mrr@10']:.3f} (ir_measures {ref[RR @ 10]:.3f})  recall funnel {funnel}  "
              f"first-pass recall@100 {ev.steps[0].means['recall@100']:.3f}  agree: {agree}")
        assert np.all(np.diff(ev.funnel) <= 1e-12), "the funnel rose"


if __name__ == "__main__":
    main()
