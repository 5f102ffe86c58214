"""Index and search at scale: the Qdrant engine in process (exact and HNSW) beside qdrant-client's local mode.

For each size in ``--sizes`` (default 100,000; add 1,000,000 with ``--sizes 100000,1000000``)
this makes embedding-like synthetic vectors (``--dim`` 384, all-MiniLM-L6-v2's size: gaussian
clusters around ``--clusters`` random centres varying in a 16-d subspace, normalised, so
neighbours are near as in real embeddings, see ``clustered``; uniform random vectors are HNSW's worst case and say little), stores them as
``cascade index`` does (``EdgeStore`` from cascade_core.vectors.backends: uuid point ids, a ``doc_id``
payload), and reports:

* insert time (all points upserted and flushed), HNSW build time (``build_ann``: the engine's
  optimizer, what ``VectorIndex.build`` runs past ``HNSW_THRESHOLD``),
* memory: the process's resident set (RSS) after inserting and after building, and its peak,
* p50/p95 search latency of ``--queries`` top-``--k`` queries (fresh vectors from the same
  clusters), exact and through HNSW,
* HNSW recall@k against exact search (``cascade_core.vectors.index.ann_recall``).

qdrant-client's local mode (the embedded store before the engine) is measured the same way at
``--local-sizes`` (default 10,000: it inserts ~150 points/s here, so 100k takes minutes and 1M
hours). Each (back end, size) runs in its own process, so RSS is its own. ``--scan`` measures
exact search alone at a few sizes: where exact passes a few milliseconds is where
``HNSW_THRESHOLD`` belongs. ``--json FILE`` writes everything measured.

    python benchmarks/bench_vector_index.py [--sizes 100000] [--local-sizes 10000] [--scan 10000,25000,50000]
        [--queries 50] [--k 100] [--ef 128] [--json FILE]

Timings on a shared machine are noisy: run it on a quiet one for numbers to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH = 1000


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process (``VmRSS``) or its peak (``VmHWM``), in MB."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clustered(n: int, dim: int, clusters: int, seed: int, latent: int = 16, spread: float = 0.8, noise: float = 0.15):
    """Yield ``(offset, unit vectors)`` batches of ``n`` embedding-like vectors (the same for a seed).

    Each vector is a cluster centre, plus a gaussian move inside a ``latent``-dimensional subspace
    (the directions along which documents of a topic differ), plus a little isotropic noise,
    normalised. Real sentence embeddings are like that: topics, and a low intrinsic dimension
    (not 384 independent directions, which is what uniform random vectors are)."""
    rng = np.random.default_rng(1234)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0].T.astype(np.float32)   # latent x dim, orthonormal
    rng = np.random.default_rng(seed)
    for lo in range(0, n, BATCH):
        m = min(BATCH, n - lo)
        z = rng.standard_normal((m, latent)).astype(np.float32) * (spread / np.sqrt(latent))
        eps = rng.standard_normal((m, dim)).astype(np.float32) * (noise / np.sqrt(dim))
        v = centres[rng.integers(0, clusters, m)] + z @ basis + eps
        yield lo, v / np.linalg.norm(v, axis=1, keepdims=True)


def queries(args) -> np.ndarray:
    return np.concatenate([v for _, v in clustered(args.queries, args.dim, args.clusters, seed=99)])


def percentiles(ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def timed_searches(search, qs) -> tuple[dict, list]:
    search(qs[0])   # warm: pages in what the first query touches
    ms, results = [], []
    for q in qs:
        t = time.perf_counter()
        results.append(search(q))
        ms.append((time.perf_counter() - t) * 1000)
    return percentiles(ms), results


def run_engine(n: int, args, folder: Path, build_hnsw: bool = True) -> dict:
    from cascade_core.vectors.backends import EdgeStore

    base = rss_mb()
    store = EdgeStore(folder)
    store.create("bench", args.dim, {"complete": False})
    t = time.perf_counter()
    for lo, v in clustered(n, args.dim, args.clusters, seed=1):
        ids = [str(uuid.UUID(int=lo + i + 1)) for i in range(len(v))]
        store.upsert("bench", ids, v, [{"doc_id": f"d{lo + i}"} for i in range(len(v))])
    store.flush("bench")
    out = {"backend": "engine", "n": n, "insert_s": round(time.perf_counter() - t, 2),
           "rss_after_insert_mb": round(rss_mb() - base, 1)}
    qs = queries(args)
    out["exact"], exact = timed_searches(lambda q: store.search("bench", q, args.k, exact=True)[0], qs)
    if build_hnsw:
        t = time.perf_counter()
        store.build_ann("bench")
        out["hnsw_build_s"] = round(time.perf_counter() - t, 2)
        out["rss_after_build_mb"] = round(rss_mb() - base, 1)
        out["indexed_vectors"] = store.indexed_count("bench")
        # exact again, over the optimised segments the build leaves (the figure an index past the threshold has)
        out["exact_after_build"], _ = timed_searches(lambda q: store.search("bench", q, args.k, exact=True)[0], qs)
        out["hnsw"], approx = timed_searches(lambda q: store.search("bench", q, args.k, exact=False, hnsw_ef=args.ef)[0], qs)
        out["hnsw_ef"] = max(args.ef, args.k)
        out["recall_at_k"] = round(float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)])), 4)
        # the same number through the library's function (exact and HNSW searched again)
        from cascade_core.vectors.index import ann_recall

        out["recall_at_k_ann_recall"] = round(ann_recall(store, "bench", qs[:10], args.k, hnsw_ef=args.ef), 4)
    out["peak_rss_mb"] = round(rss_mb("VmHWM"), 1)
    store.close()
    return out


def run_local(n: int, args, folder: Path) -> dict:
    import warnings

    from qdrant_client import QdrantClient, models

    warnings.filterwarnings("ignore")   # local mode warns past 20,000 points: that is what we measure
    base = rss_mb()
    client = QdrantClient(path=str(folder))
    client.create_collection("bench", vectors_config=models.VectorParams(size=args.dim, distance=models.Distance.COSINE))
    t = time.perf_counter()
    for lo, v in clustered(n, args.dim, args.clusters, seed=1):
        client.upsert("bench", points=[models.PointStruct(id=str(uuid.UUID(int=lo + i + 1)), vector=v[i].tolist(),
                                                          payload={"doc_id": f"d{lo + i}"}) for i in range(len(v))])
    out = {"backend": "qdrant-client local mode", "n": n, "insert_s": round(time.perf_counter() - t, 2),
           "rss_after_insert_mb": round(rss_mb() - base, 1)}
    qs = queries(args)
    out["exact"], _ = timed_searches(lambda q: client.query_points("bench", query=q.tolist(), limit=args.k,
                                                                   with_payload=["doc_id"]), qs)
    out["peak_rss_mb"] = round(rss_mb("VmHWM"), 1)
    client.close()
    return out


def one(args) -> None:
    """Child process: one back end at one size; prints its JSON."""
    backend, n = args.one
    folder = Path(tempfile.mkdtemp(prefix="bench-vector-index-"))
    try:
        if backend == "engine":
            out = run_engine(int(n), args, folder)
        elif backend == "engine-exact":
            out = run_engine(int(n), args, folder, build_hnsw=False)
            out["backend"] = "engine (exact only)"
        else:
            out = run_local(int(n), args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)


def child(args, backend: str, n: int) -> dict:
    cmd = [sys.executable, __file__, "--one", backend, str(n), "--queries", str(args.queries), "--k", str(args.k),
           "--ef", str(args.ef), "--dim", str(args.dim), "--clusters", str(args.clusters)]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        return {"backend": backend, "n": n, "error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(lines[-1][len("RESULT "):])


def row(r: dict) -> str:
    if "error" in r:
        return f"{r['backend']:<28} {r['n']:>9,}  error: {r['error']}"
    hnsw = r.get("hnsw") or {}
    cell = lambda v, fmt: (fmt.format(v) if v is not None else "-")  # noqa: E731
    return (f"{r['backend']:<28} {r['n']:>9,} {r['insert_s']:>9.1f} {cell(r.get('hnsw_build_s'), '{:>9.1f}'):>9} "
            f"{cell(r.get('rss_after_build_mb', r.get('rss_after_insert_mb')), '{:>8.0f}'):>8} "
            f"{r['exact']['p50_ms']:>8.2f} {r['exact']['p95_ms']:>8.2f} "
            f"{cell(hnsw.get('p50_ms'), '{:>8.2f}'):>8} {cell(hnsw.get('p95_ms'), '{:>8.2f}'):>8} "
            f"{cell(r.get('recall_at_k'), '{:>9.3f}'):>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000", help="engine sizes, comma-separated (e.g. 100000,1000000)")
    ap.add_argument("--local-sizes", default="10000", help="qdrant-client local-mode sizes ('' for none)")
    ap.add_argument("--scan", default="10000,25000,50000", help="sizes for exact search alone ('' for none)")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--ef", type=int, default=128, help="HNSW search beam (raised to k when smaller)")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one(args)
    sizes = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    print(f"{args.dim}-d clustered vectors ({args.clusters} clusters), {args.queries} queries, top {args.k}; "
          f"{os.cpu_count()} CPUs; shared machines give noisy timings", flush=True)
    print(f"{'back end':<28} {'vectors':>9} {'insert s':>9} {'build s':>9} {'RSS MB':>8} {'exact50':>8} "
          f"{'exact95':>8} {'hnsw50':>8} {'hnsw95':>8} {'recall@' + str(args.k):>9}", flush=True)
    results = []
    plan = ([("local", n) for n in sizes(args.local_sizes)] + [("engine-exact", n) for n in sizes(args.scan)]
            + [("engine", n) for n in sizes(args.sizes)])
    for backend, n in plan:
        r = child(args, backend, n)
        results.append(r)
        print(row(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "settings": {k: v for k, v in vars(args).items() if k not in ("one", "json")},
            "results": results}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
