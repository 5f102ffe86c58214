"""Scoring throughput, this process against a Ray cluster, on the same cascade and pairs.

Runs ``cascade eval`` on the bundled sample with a cross-encoder stage (the student shipped in
``sample_data/models``) over the first N queries, in fresh data folders: once with the local
executor, once with ``--executor ray`` (a cluster on this machine: started by the run unless
``--address`` names one). The first pass is scored beforehand in both folders, so what is timed
is the stage. Reports pairs/s from the command's own scoring time (``report["scoring"]``) and the
whole command's wall time (Ray's start, the actors' model loads and the upserts included), with
the CPU count and load average. On 2 cores expect no gain: the point is the path; on a cluster
with more cores or GPUs the stage's pairs spread over one actor per CPU (or GPU).

    python benchmarks/bench_ray.py [--queries 30] [--address HOST:6379] [--device cuda] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "scifact-mini"
STUDENT = REPO / "sample_data" / "models" / "scifact-student"


def cascade(home: str, *args: str) -> float:
    """Run the command; its wall seconds."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cascade_cli", "--home", home, *args], check=True, cwd=REPO, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(executor: str, queries: int, device: str, spec_file: str) -> dict:
    home = tempfile.mkdtemp(prefix=f"bench-ray-{executor.split(':')[0]}-")
    flags = ["--dataset", str(SAMPLE), "--queries", str(queries)]
    cascade(home, "eval", *flags, "--first-pass", "bm25", "--pool-size", "100")   # the first pass, untimed
    out = Path(home) / "report.json"
    load = os.getloadavg()[0]
    wall = cascade(home, "eval", *flags, "--config", spec_file, "--device", device, "--executor", executor,
                   "--json", str(out))
    scoring = json.loads(out.read_text())["scoring"]
    pairs = sum(scoring["scored_pairs"].values())
    return {"executor": executor, "pairs": pairs, "scoring_s": round(scoring["seconds"], 2),
            "pairs_per_s": round(pairs / scoring["seconds"], 1), "command_s": round(wall, 1),
            "where": scoring.get("where"), "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--address", help="a running cluster (default: one started by the run on this machine)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    spec = {"first_pass": {"kind": "bm25"}, "pool_size": 100,
            "stages": [{"scorer": {"kind": "cross-encoder", "model": str(STUDENT)}, "keep": 10}], "final_k": 10}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    ray = f"ray:{args.address}" if args.address else "ray"
    rows = [run("local", args.queries, args.device, f.name), run(ray, args.queries, args.device, f.name)]
    result = {"cpus": os.cpu_count(), "queries": args.queries, "device": args.device, "runs": rows,
              "ray_over_local_pairs_per_s": round(rows[1]["pairs_per_s"] / rows[0]["pairs_per_s"], 2)}
    for r in rows:
        print(f"{r['executor']:<10} {r['pairs']:>6} pairs  scoring {r['scoring_s']:>7.1f} s  {r['pairs_per_s']:>7.1f} "
              f"pairs/s  command {r['command_s']:>6.1f} s  load {r['load_before']} -> {r['load_after']}")
    print(f"Ray / local pairs/s: x{result['ray_over_local_pairs_per_s']} on {result['cpus']} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
