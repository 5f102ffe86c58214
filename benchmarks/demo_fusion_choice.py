"""How the demo's stage should combine with BM25, measured where the choice is honest.

The bundled sample holds SciFact *test* queries, so the combination is chosen on SciFact's 809
*train* queries (never in the sample), then reported on the sample. BM25 -> 100 -> MiniLM -> 20
-> final 10, each way of combining, from stored scores (the first run indexes SciFact: minutes).

    python benchmarks/demo_fusion_choice.py [--shared ../shared/data/scifact]

Printed (2 cores, this repository's machine, 2026-12-01): train, first pass 0.696; replace
0.679, rrf 0.722, norm-sum 0.3/0.5/0.6/0.7/0.8 0.718/0.734/0.735/0.734/0.728. Sample, first pass
0.691; replace 0.682; norm-sum 0.5 0.737.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from cascade_core.analysis.evaluation import evaluate_run
from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec, simulate
from cascade_core.cascade.demo import CAUTIONARY_SPEC, SAMPLE_DATASET
from cascade_core.data import load_dataset
from cascade_core.fusion import RRF, NormSum, Replace
from cascade_core.scoring.workspace import Workspace

WAYS = [Replace(), RRF(60)] + [NormSum(w) for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]


def measure(path, split: str, ws: Workspace) -> None:
    dataset = load_dataset(path, split=split)
    spec = CascadeSpec.from_dict(CAUTIONARY_SPEC)
    exp = Experiment(dataset, spec, ws)
    exp.ensure_scores()
    matrix, relevance = exp.snapshot()
    print(f"\n{dataset.name} ({split}), {len(matrix.query_ids)} queries, {spec.describe()}")
    for fusion in WAYS:
        s = replace(spec, stages=(spec.stages[0].with_fusion(fusion),))
        ev = evaluate_run(simulate(s, matrix), None, ("ndcg@10", "mrr@10"), relevance)
        print(f"  {fusion.label:<13} nDCG@10 {ev.final.means['ndcg@10']:.3f}  MRR@10 {ev.final.means['mrr@10']:.3f}"
              f"   (first pass alone: {ev.steps[0].means['ndcg@10']:.3f} / {ev.steps[0].means['mrr@10']:.3f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "scifact"))
    p.add_argument("--home", default=None, help="data folder (default: the usual one)")
    args = p.parse_args()
    ws = Workspace(args.home)
    try:
        measure(args.shared, "train", ws)
        measure(SAMPLE_DATASET, "test", ws)
    finally:
        ws.close()


if __name__ == "__main__":
    main()
