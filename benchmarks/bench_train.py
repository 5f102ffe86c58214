"""How close does a student's training come to the CPU's fp32 peak? (issue 26, "training cost")

Times the real training step (:class:`cascade_core.distill.train.Trainer`: the student, its loss,
AdamW, gradient clipping) on lists of real SciFact (query, abstract) pairs from the sample, with
the default recipe (6 layers, 128 tokens, one list of 8 a step) unless flags say otherwise, and
reports:

- **pairs per second** (wall clock and per CPU-second of this process);
- **FLOPs** of a step: the forward pass on the *real* token lengths of its pairs (counted as
  ``bench_throughput.forward_flops`` does: projections, feed-forward, attention products, the
  head), times 3 for forward + backward (the backward pass costs about twice the forward: a
  gradient for the activations and one for the weights); the frozen word embeddings add none;
- **padding**: the share of the tokens the model computes that are padding (each batch is padded
  to its longest pair): work done for nothing;
- **share of peak** = training GFLOP/s / the matmul peak measured in the same run
  (``bench_throughput.matmul_peak``), per wall second and per CPU-second.

    python benchmarks/bench_train.py --json benchmarks/results/train.json        # ~2 min, 2 cores
    python benchmarks/bench_train.py --layers 3 --max-length 256 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_throughput import CPU_PEAKS, forward_flops, matmul_peak  # noqa: E402

from cascade_core.data import load_dataset  # noqa: E402
from cascade_core.distill.teacher import TrainingSet  # noqa: E402
from cascade_core.distill.train import DistillSettings, Trainer  # noqa: E402

SAMPLE = REPO / "sample_data" / "scifact-mini"


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def training_set(n_queries: int, per_query: int, seed: int = 0) -> tuple[TrainingSet, object]:
    """Real query and document texts of the sample; teacher scores drawn at random (the speed of a
    step does not depend on them)."""
    ds = load_dataset(SAMPLE, split="test")
    rng = np.random.default_rng(seed)
    ids = ds.corpus.ids
    qids = ds.queries.ids[:n_queries]
    docs = [[ids[i] for i in rng.choice(len(ids), per_query * 3, replace=False)] for _ in qids]
    teach = [rng.normal(size=len(d)).astype(np.float32) for d in docs]
    grades = [np.zeros(len(d), np.float32) for d in docs]
    return TrainingSet(qids, [ds.queries.text_of(q) for q in qids], docs, teach, grades, "final", per_query * 3), ds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-queries", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30, help="timed steps (after 3 untimed)")
    ap.add_argument("--json", dest="json_path")
    args = ap.parse_args(argv)

    import torch

    settings = DistillSettings(layers=args.layers, max_length=args.max_length, batch_queries=args.batch_queries,
                               pairs=10_000)
    ts, ds = training_set(64, settings.per_query)
    trainer = Trainer(ts, ds.corpus, settings)
    config = trainer.model.config
    for s in range(3):   # warm-up: thread pools, allocator
        trainer.step(s)
    peaks = [matmul_peak()]
    wall, cpu, flops, real_tokens, computed_tokens, pairs = 0.0, 0.0, 0.0, 0, 0, 0
    for s in range(3, 3 + args.steps):
        enc, _, _ = trainer.batch(s)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        real_tokens += int(sum(lengths))
        computed_tokens += int(enc["attention_mask"].numel())
        flops += 3 * forward_flops(config, lengths, head=True)
        pairs += len(lengths)
        t0, c0 = time.perf_counter(), cpu_s()
        trainer.step(s)
        wall += time.perf_counter() - t0
        cpu += cpu_s() - c0
        if (s - 2) % 10 == 0:
            peaks.append(matmul_peak())
    peaks.append(matmul_peak())
    peak, cpu_peak = max(peaks), max(CPU_PEAKS)   # GFLOP per wall second, per CPU-second
    threads = torch.get_num_threads()
    gflops, gflops_cpu = flops / wall / 1e9, flops / cpu / 1e9
    result = {
        "settings": {"layers": args.layers, "max_length": args.max_length, "per_query": settings.per_query,
                     "batch_queries": args.batch_queries, "steps": args.steps, "torch_threads": threads},
        "pairs_per_s": pairs / wall, "pairs_per_cpu_s": pairs / cpu,
        "gflop_per_step": flops / args.steps / 1e9, "train_gflops": gflops, "peak_gflops": peak,
        "share_of_peak": gflops / peak, "share_of_peak_per_cpu_s": gflops_cpu / cpu_peak,
        "padding_share": 1 - real_tokens / computed_tokens,
        "mean_tokens_per_pair": real_tokens / pairs, "load_average": os.getloadavg()[0],
    }
    print(f"{pairs / wall:.1f} pairs/s ({pairs / cpu:.1f} per CPU-second; {threads} threads); "
          f"{flops / args.steps / 1e9:.1f} GFLOP a step (forward + backward on real tokens); "
          f"{gflops:.1f} GFLOP/s against a peak of {peak:.1f}: "
          f"{result['share_of_peak']:.0%} of peak ({result['share_of_peak_per_cpu_s']:.0%} per CPU-second); "
          f"padding {result['padding_share']:.0%} of the tokens computed; load average {result['load_average']:.1f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
