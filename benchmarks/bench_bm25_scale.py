"""BM25's first pass at scale: rank-bm25's ``get_scores`` against the sparse-matrix scoring. (issue 15, part 4)

The corpora: SciFact itself (5,183 abstracts) and synthetic ones of 25k and 100k documents made
from SciFact's text: each synthetic document joins the first half of one real abstract's tokens
with the second half of another's (tokens after the project's tokenisation: stopwords out,
Snowball stems), so lengths and term statistics stay SciFact's. The vocabulary does not grow with
the corpus as a real one would, so postings are longer than in a real 100k corpus: the sparse
timings are, if anything, pessimistic.

For each size: build time of each, and per query (the SciFact test queries, tokenised) the time
of a first pass: all scores plus the top 1000 (``top_k``), as ``BM25Retriever.retrieve`` does;
median and p95 in milliseconds; and the largest score difference between the two.

    python benchmarks/bench_bm25_scale.py [--sizes 5183,25000,100000] [--queries 50] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cascade_core.data.text import get_tokenizer  # noqa: E402
from cascade_core.scorers.bm25 import DEFAULTS, SparseBM25, top_k  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "data" / "scifact").resolve()


def synthetic(tokens: list[list[str]], n: int, seed: int = 0) -> list[list[str]]:
    if n <= len(tokens):
        return tokens[:n]
    rng = np.random.default_rng(seed)
    out = list(tokens)
    a, b = rng.integers(0, len(tokens), (2, n - len(tokens)))
    for i, j in zip(a, b):
        x, y = tokens[i], tokens[j]
        out.append(x[:len(x) // 2] + y[len(y) // 2:])
    return out


def time_queries(model, queries, ids, k=1000) -> tuple[list[float], list[np.ndarray]]:
    times, scores = [], []
    for q in queries:
        t = time.perf_counter()
        s = model.get_scores(q)
        top_k(ids, s, k)
        times.append((time.perf_counter() - t) * 1000)
        scores.append(s)
    return times, scores


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--sizes", default="5183,25000,100000")
    ap.add_argument("--queries", type=int, default=50, help="SciFact test queries timed")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    folder = Path(args.data)
    tok = get_tokenizer(DEFAULTS["stem"], DEFAULTS["stopwords"])
    docs = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    tokens = tok.tokenize_many([(d.get("title", "") + " " + d.get("text", "")).strip() for d in docs])
    test = {line.split()[0] for line in list((folder / "qrels" / "test.tsv").open())[1:]}
    queries = [tok.tokenize(json.loads(line)["text"]) for line in (folder / "queries.jsonl").open(encoding="utf-8")
               if json.loads(line)["_id"] in test][:args.queries]
    params = dict(k1=DEFAULTS["k1"], b=DEFAULTS["b"], epsilon=DEFAULTS["epsilon"])
    results = {"params": params, "queries": len(queries), "load_avg_start": os.getloadavg(), "sizes": []}
    print(f"{'docs':>8s} {'build rank-bm25':>16s} {'build sparse':>13s} {'rank-bm25 ms/query':>19s} "
          f"{'sparse ms/query':>16s} {'speedup':>8s} {'max |diff|':>11s}")
    for n in [int(x) for x in args.sizes.split(",")]:
        corpus = synthetic(tokens, n)
        ids = [str(i) for i in range(len(corpus))]
        t = time.perf_counter()
        ref = BM25Okapi(corpus, **params)
        build_ref = time.perf_counter() - t
        t = time.perf_counter()
        ours = SparseBM25(corpus, **params)
        build_ours = time.perf_counter() - t
        # interleaved: half the queries each way round
        half = len(queries) // 2
        t_ref1, s_ref1 = time_queries(ref, queries[:half], ids)
        t_ours1, s_ours1 = time_queries(ours, queries[:half], ids)
        t_ours2, s_ours2 = time_queries(ours, queries[half:], ids)
        t_ref2, s_ref2 = time_queries(ref, queries[half:], ids)
        t_ref, t_ours = t_ref1 + t_ref2, t_ours1 + t_ours2
        diff = max(float(np.abs(a - b).max()) for a, b in zip(s_ref1 + s_ref2, s_ours1 + s_ours2))
        row = {"docs": n, "build_rank_bm25_s": round(build_ref, 2), "build_sparse_s": round(build_ours, 2),
               "rank_bm25_ms_median": round(float(np.median(t_ref)), 2), "rank_bm25_ms_p95": round(float(np.percentile(t_ref, 95)), 2),
               "sparse_ms_median": round(float(np.median(t_ours)), 3), "sparse_ms_p95": round(float(np.percentile(t_ours, 95)), 3),
               "max_abs_diff": diff, "postings": int(ours.weights.nnz), "terms": int(ours.weights.shape[0])}
        row["speedup_median"] = round(row["rank_bm25_ms_median"] / row["sparse_ms_median"], 1)
        results["sizes"].append(row)
        print(f"{n:8d} {build_ref:15.1f}s {build_ours:12.1f}s {row['rank_bm25_ms_median']:12.1f} (p95 {row['rank_bm25_ms_p95']:.0f})"
              f" {row['sparse_ms_median']:9.2f} (p95 {row['sparse_ms_p95']:.1f}) {row['speedup_median']:7.0f}x {diff:11.1e}")
        del ref, ours, corpus
    results["load_avg_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
