"""Where does the embedded Qdrant stop being sensible? Query latency against collection size.

qdrant-client's local mode keeps every vector in a NumPy array and answers a query by scoring
all of them (no HNSW graph), so its latency grows linearly with the collection. This grows one
embedded collection (on disk, in a temporary folder, as ``cascade index`` makes them) through
the sizes asked for, with random unit-length 384-d vectors (all-MiniLM-L6-v2's size) and a
``doc_id`` payload, and at each size times the query ``VectorIndex.search`` makes
(``query_points(limit=100)``, payload ``doc_id``): median and p95 of ``--queries`` random queries.
It prints a table as it goes, then the size at which the median passes ``--target-ms``
(interpolated between measured sizes, or extrapolated linearly past the largest), and how long
a new process takes to open the folder at the largest size.

    python benchmarks/bench_qdrant_local.py [--sizes 5000,20000,50000,100000,200000] [--queries 20]

Sizes whose loading would take longer than ``--max-load-s`` (predicted from the rate so far) are
skipped. Random vectors are fine here: a brute-force scan costs the same whatever the numbers.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
import warnings

import numpy as np

DIM = 384


def unit_vectors(rng, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def crossing(sizes: list[int], medians: list[float], target: float) -> tuple[float, str]:
    """Collection size at which the median latency reaches ``target`` ms, and how it was found."""
    for (n0, m0), (n1, m1) in zip(zip(sizes, medians), zip(sizes[1:], medians[1:])):
        if m0 < target <= m1:
            return n0 + (target - m0) * (n1 - n0) / (m1 - m0), "interpolated"
    if medians and medians[0] >= target:
        return float(sizes[0]), "already at the smallest size"
    # Past the largest size: a least-squares line through the measured points.
    slope, intercept = np.polyfit(sizes, medians, 1)
    return (target - intercept) / slope, "extrapolated linearly"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000,50000,100000,200000")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--limit", type=int, default=100, help="results per query (a first-pass pool)")
    ap.add_argument("--target-ms", type=float, default=100.0)
    ap.add_argument("--max-load-s", type=float, default=300.0, help="skip a size whose loading would take longer")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from qdrant_client import QdrantClient, models

    from cascade_core.vectors.index import _relax_embedded_commits

    # Local mode warns once past 20,000 points that it is not meant for this: that is the point.
    warnings.filterwarnings("ignore", message=".*Local mode is not recommended.*")
    rng = np.random.default_rng(0)
    folder = tempfile.mkdtemp(prefix="bench-qdrant-local-")
    client = QdrantClient(path=folder)
    name = "bench"
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    # The same cheap commits `cascade index` uses, so that loading 200k points takes minutes, not
    # tens of minutes; it changes nothing about how queries are answered.
    _relax_embedded_commits(client, name)
    queries = unit_vectors(rng, args.queries + 2)

    measured: list[tuple[int, float, float]] = []
    stored, load_rate = 0, None   # points per second so far
    print(f"embedded Qdrant, {DIM}-d cosine, query_points(limit={args.limit}), {args.queries} queries per size")
    print(f"{'points':>9} {'median ms':>10} {'p95 ms':>8} {'load s':>8}", flush=True)
    try:
        for size in sizes:
            todo = size - stored
            if load_rate and todo / load_rate > args.max_load_s:
                print(f"{size:>9}  skipped: loading {todo} more points would take ~{todo / load_rate:.0f} s", flush=True)
                break
            t0 = time.perf_counter()
            for lo in range(0, todo, 2048):
                n = min(2048, todo - lo)
                client.upsert(name, points=models.Batch(
                    ids=[str(uuid.uuid4()) for _ in range(n)], vectors=unit_vectors(rng, n).tolist(),
                    payloads=[{"doc_id": f"d{stored + lo + i}"} for i in range(n)]), wait=True)
            load_s = time.perf_counter() - t0
            stored = size
            load_rate = todo / load_s if load_s > 0 else None
            times = []
            for i, q in enumerate(queries):
                t0 = time.perf_counter()
                res = client.query_points(name, query=q.tolist(), limit=args.limit, with_payload=["doc_id"])
                if i >= 2:   # the first two warm caches up
                    times.append((time.perf_counter() - t0) * 1000)
                assert len(res.points) == min(args.limit, size)
            med, p95 = statistics.median(times), float(np.percentile(times, 95))
            measured.append((size, med, p95))
            print(f"{size:>9} {med:>10.1f} {p95:>8.1f} {load_s:>8.1f}", flush=True)
        # Every new process (each `cascade` command, each dashboard start) reloads the whole
        # collection from the folder before its first query: that too grows with the size.
        client.close()
        t0 = time.perf_counter()
        client = QdrantClient(path=folder)
        client.count(name)
        reopen_s = time.perf_counter() - t0
    finally:
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"opening the folder again (as every new process does) with {stored:,} points: {reopen_s:.1f} s")

    if len(measured) >= 2:
        at, how = crossing([m[0] for m in measured], [m[1] for m in measured], args.target_ms)
        print(f"\nmedian query latency reaches {args.target_ms:.0f} ms at about {at:,.0f} points ({how})")


if __name__ == "__main__":
    main()
