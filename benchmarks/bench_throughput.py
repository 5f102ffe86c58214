"""How close do the encoders come to the CPU's fp32 peak, stock PyTorch against ours? (issue 15)

In one process, interleaved (stock, ours, matmul peak, then the next chunk with the order
swapped, ...) so that a shared, noisy CPU hits every variant alike, it measures:

- **peak**: the fp32 matrix-multiply rate of this CPU, best of 3 ``torch`` and 3 ``numpy``
  2048x2048x2048 products, measured before every chunk; the run's peak is the best of all;
- **FLOPs** of each model's forward pass on the *real* token lengths (no padding counted):
  per layer, the Q, K, V and output projections (4 x 2·L·H²), the feed-forward pair
  (2 x 2·L·H·I), attention scores QKᵀ and their product with V (2 x 2·L²·H); plus the
  cross-encoder's pooler and head (2·H² + 2·H). Embedding lookups, LayerNorm, softmax, GELU and
  pooling are not counted (they are memory-bound and small): a share of peak is therefore
  a slight under-statement of the work done;
- **documents per second** of all-MiniLM-L6-v2 (bi-encoder) on SciFact abstracts (title + text,
  cut at 256 tokens) through ``SentenceTransformer.encode`` (stock) and through
  :mod:`cascade_core.models.fast_encoder` (ours), same batch size, both with ``normalize_embeddings``;
- **pairs per second** of a cross-encoder of MiniLM-L6's size (MiniLM's own weights with a fresh,
  untrained one-output head: the speed is real, its scores mean nothing) on SciFact
  (test query, abstract) pairs through ``CrossEncoder.predict`` (stock) and ours;
- **share of peak** = GFLOP/s of the forward passes / peak GFLOP/s (wall clock); and, since on a
  shared CPU the wall clock measures the scheduler as much as the code, the same share per
  CPU-second of this process (forward-pass GFLOP per CPU-second / the matmul's GFLOP per
  CPU-second): ``share_of_peak_per_cpu_s``;
- **agreement**: the documents are the test queries' relevant abstracts plus others up to
  ``--docs``; nDCG@10 (linear gain) of the SciFact test queries over them by brute-force cosine,
  stock against ours, the share of queries whose top 10 is identical, and the largest absolute
  difference of embeddings and of scores. For the cross-encoder: each query's dense top 10 is
  scored (queries in order, until ``--pairs``); identical orderings and the largest logit difference.
- optionally (``--int8``) the same for an int8 dynamically quantised copy of our export.
- ``--profile``: where our forward pass spends its time, by ONNX operator type.

    python benchmarks/bench_throughput.py --json bench-throughput.json          # ~10 min, 2 cores
    python benchmarks/bench_throughput.py --quick                               # ~2 min
    python benchmarks/bench_throughput.py --device cuda --json gpu.json         # on a GPU machine

``--device cuda`` (or ``cuda:N``, ``mps``) measures instead what the product runs there: the
bi-encoder and the cross-encoder loaded by :mod:`cascade_core.models.loading` on that device
(bi-encoder float32, cross-encoder half precision on CUDA), documents and pairs per second
(synchronised with the device), beside the same models on this machine's CPU through the ONNX
fast path, and how far the device's scores move from the CPU's (largest difference, orderings
identical). The card's name is recorded.

Exports go to a temporary folder unless ``CASCADE_ONNX_CACHE`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cascade_core.models import fast_encoder  # noqa: E402
from cascade_core.models import resolve_model  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "data" / "scifact").resolve()


# -- measurements --------------------------------------------------------------------------------

CPU_PEAKS: list[float] = []   # GFLOP per CPU-second of the same products (see ``rates``)


def matmul_peak(n: int = 2048, repeats: int = 3) -> float:
    """Best fp32 GFLOP/s of ``repeats`` n x n x n products (torch and numpy, all their threads).

    Also records the best GFLOP per second of *process CPU time* in ``CPU_PEAKS``: on a CPU
    shared with other jobs, wall-clock rates depend on how much of the cores the scheduler gave
    us; rates per CPU-second much less so.
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    x, y = a.numpy(), b.numpy()
    best, best_cpu = float("inf"), float("inf")
    # torch's BLAS and numpy's (OpenBLAS) both: the faster one is the peak
    for product in (lambda: a @ b, lambda: x @ y):
        product()
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            product()
            best = min(best, time.perf_counter() - t)
            best_cpu = min(best_cpu, time.process_time() - c)
    CPU_PEAKS.append(2 * n ** 3 / max(best_cpu, 1e-9) / 1e9)
    return 2 * n ** 3 / best / 1e9


def forward_flops(config, lengths, head: bool = False) -> float:
    """Matmul FLOPs of a BERT-style encoder over sequences of these real lengths (see module doc)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for n in lengths:
        per_layer = 4 * 2 * n * h * h + 2 * 2 * n * h * i + 2 * 2 * n * n * h
        total += layers * per_layer + (2 * h * h + 2 * h * getattr(config, "num_labels", 1) if head else 0)
    return total


def ndcg10(ranked: list[str], relevant: dict[str, int]) -> float:
    gains = [relevant.get(d, 0) for d in ranked[:10]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def interleaved(variants: dict, chunks: list, peaks: list) -> dict:
    """Run every variant on every chunk, the order rotating per chunk; a peak before each chunk.

    Returns per variant: seconds per chunk and the outputs (concatenated in chunk order).
    """
    names = list(variants)
    out = {n: {"seconds": [], "cpu_seconds": [], "outputs": []} for n in names}
    for c, chunk in enumerate(chunks):
        peaks.append(matmul_peak())
        order = names[c % len(names):] + names[:c % len(names)]
        for n in order:
            t, cpu = time.perf_counter(), time.process_time()
            res = variants[n](chunk)
            out[n]["seconds"].append(time.perf_counter() - t)
            out[n]["cpu_seconds"].append(time.process_time() - cpu)
            out[n]["outputs"].append(np.asarray(res))
    for n in names:
        out[n]["outputs"] = np.concatenate(out[n]["outputs"]) if out[n]["outputs"] else np.zeros(0)
    return out


def rates(seconds: list[float], sizes: list[int], flops: list[float], peak: float,
          cpu_seconds: list[float] | None = None) -> dict:
    total = sum(seconds)
    per_chunk = [s / t for s, t in zip(sizes, seconds)]
    gflops = sum(flops) / total / 1e9
    best = max(f / t for f, t in zip(flops, seconds)) / 1e9
    return {"seconds": round(total, 2), "per_s": round(sum(sizes) / total, 2),
            "per_s_best_chunk": round(max(per_chunk), 2), "gflops": round(gflops, 1),
            "share_of_peak": round(gflops / peak, 3), "share_of_peak_best_chunk": round(best / peak, 3),
            **cpu_rates(cpu_seconds, flops)}


def cpu_rates(cpu_seconds, flops) -> dict:
    """GFLOP per CPU-second, and its share of the matmul's (the busy-machine-proof share)."""
    if not cpu_seconds or not CPU_PEAKS:
        return {}
    per_cpu = sum(flops) / max(sum(cpu_seconds), 1e-9) / 1e9
    return {"cpu_seconds": round(sum(cpu_seconds), 2), "gflop_per_cpu_s": round(per_cpu, 1),
            "share_of_peak_per_cpu_s": round(per_cpu / max(CPU_PEAKS), 3)}


def op_profile(session_path: Path, feed: dict, runs: int = 3) -> dict:
    """Share of our forward pass's time per ONNX operator type (onnxruntime's profiler)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "prof")
    sess = ort.InferenceSession(str(session_path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        sess.run(None, feed)
    trace = json.loads(Path(sess.end_profiling()).read_text())
    by_op: dict[str, float] = {}
    for e in trace:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            by_op[op] = by_op.get(op, 0.0) + e.get("dur", 0)
    total = sum(by_op.values()) or 1
    return {k: round(v / total, 3) for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])}


# -- the run -------------------------------------------------------------------------------------

def load_scifact(folder: Path, n_docs: int, n_queries: int | None):
    corpus = {}
    for line in (folder / "corpus.jsonl").open(encoding="utf-8"):
        d = json.loads(line)
        corpus[d["_id"]] = (d.get("title", "") + " " + d.get("text", "")).strip()
    queries = {json.loads(line)["_id"]: json.loads(line)["text"] for line in (folder / "queries.jsonl").open()}
    qrels: dict[str, dict[str, int]] = {}
    for line in list((folder / "qrels" / "test.tsv").open())[1:]:
        q, d, s = line.split()
        if int(s) > 0:
            qrels.setdefault(q, {})[d] = int(s)
    qids = sorted(qrels, key=lambda q: int(q) if q.isdigit() else q)[:n_queries]
    doc_ids = list(dict.fromkeys(d for q in qids for d in qrels[q] if d in corpus))[:n_docs]
    for d in corpus:
        if len(doc_ids) >= n_docs:
            break
        if d not in doc_ids:
            doc_ids.append(d)
    return corpus, queries, {q: qrels[q] for q in qids}, doc_ids


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="SciFact in the BEIR layout")
    ap.add_argument("--docs", type=int, default=600, help="documents encoded (relevant ones of the queries first)")
    ap.add_argument("--queries", type=int, default=None, help="test queries (default all 300)")
    ap.add_argument("--pairs", type=int, default=None, help="cross-encoder pairs (default: half of --docs)")
    ap.add_argument("--chunks", type=int, default=6, help="interleaved chunks per model")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=256, help="the bi-encoder's cut (MiniLM's own limit)")
    ap.add_argument("--int8", action="store_true", help="also measure an int8 dynamically quantised export")
    ap.add_argument("--profile", action="store_true", help="per-operator time shares of our forward pass")
    ap.add_argument("--quick", action="store_true", help="120 documents, 40 queries, 60 pairs, 3 chunks")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--device", default="cpu", help="cpu (the CPU study above), or cuda, cuda:N, mps: the device run")
    args = ap.parse_args(argv)
    if args.device != "cpu":
        return device_main(args)
    if args.quick:
        args.docs, args.queries, args.pairs, args.chunks = 120, args.queries or 40, args.pairs or 60, 3
    pairs_n = args.pairs or args.docs // 2
    if not os.environ.get(fast_encoder.ENV_CACHE):
        os.environ[fast_encoder.ENV_CACHE] = tempfile.mkdtemp(prefix="bench-onnx-")

    from sentence_transformers import CrossEncoder, SentenceTransformer
    from transformers import AutoTokenizer, BertForSequenceClassification

    corpus, queries, qrels, doc_ids = load_scifact(Path(args.data), args.docs, args.queries)
    texts = [corpus[d] for d in doc_ids]
    qids = list(qrels)
    results: dict = {"cpu": {"torch_threads": torch.get_num_threads(), "torch_interop": torch.get_num_interop_threads(),
                             "os_cpus": os.cpu_count(), "load_avg_start": os.getloadavg()},
                     "versions": {"torch": torch.__version__}, "documents": len(texts), "queries": len(qids)}
    peaks: list[float] = []

    # -- bi-encoder -------------------------------------------------------------------------
    model = resolve_model("all-MiniLM-L6-v2")
    stock = SentenceTransformer(model.location, device="cpu")
    stock.max_seq_length = args.max_tokens
    t = time.perf_counter()
    ours = fast_encoder.accelerate(stock, "bi-encoder", model)
    export_s = time.perf_counter() - t
    results["bi_encoder_backend"] = fast_encoder.backend_of(ours)
    results["bi_encoder_export_seconds"] = round(export_s, 2)
    import onnxruntime as ort
    results["versions"]["onnxruntime"] = ort.__version__
    lengths = fast_encoder.encode_lengths(stock, texts)
    kw = dict(batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    variants = {"stock": lambda c: stock.encode(c, **kw), "ours": lambda c: ours.encode(c, **kw)}
    if args.int8:
        variants["int8"] = int8_variant(ours, kw)
    # warm up both (first calls allocate)
    for f in variants.values():
        f(texts[:4])
    bounds = np.linspace(0, len(texts), args.chunks + 1).astype(int)
    chunks = [texts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    sizes = [len(c) for c in chunks]
    flops = [forward_flops(stock[0].auto_model.config, lengths[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    run = interleaved(variants, chunks, peaks)
    query_vecs = {n: (stock if n == "stock" else ours).encode([queries[q] for q in qids], **kw) for n in ("stock", "ours")}
    if "int8" in variants:
        query_vecs["int8"] = variants["int8"]([queries[q] for q in qids])
    bi: dict = {"model": "all-MiniLM-L6-v2", "mean_tokens": round(float(np.mean(lengths)), 1),
                "gflop_per_doc": round(sum(flops) / len(texts) / 1e9, 3)}
    rankings = {}
    for n, r in run.items():
        scores = query_vecs[n] @ r["outputs"].T
        rankings[n] = [[doc_ids[i] for i in np.argsort(-s, kind="stable")[:10]] for s in scores]
        bi[n] = {"ndcg@10": round(float(np.mean([ndcg10(rk, qrels[q]) for rk, q in zip(rankings[n], qids)])), 4)}
        bi[n]["_scores"] = scores
    peak = max(peaks)
    for n, r in run.items():
        bi[n].update(rates(r["seconds"], sizes, flops, peak, r["cpu_seconds"]))
        bi[n]["docs_per_s"] = bi[n].pop("per_s")
    for n in [v for v in run if v != "stock"]:
        bi[n]["agreement"] = {
            "ndcg@10_difference": round(bi[n]["ndcg@10"] - bi["stock"]["ndcg@10"], 5),
            "identical_top10_share": round(float(np.mean([a == b for a, b in zip(rankings["stock"], rankings[n])])), 4),
            "max_abs_diff_embeddings": float(np.abs(run[n]["outputs"] - run["stock"]["outputs"]).max()),
            "max_abs_diff_scores": float(np.abs(bi[n]["_scores"] - bi["stock"]["_scores"]).max())}
        bi[n]["speedup_vs_stock"] = round(float(np.median(np.array(run["stock"]["seconds"]) / np.array(run[n]["seconds"]))), 2)
    for n in run:
        bi[n].pop("_scores")
    if args.profile and ours is not stock:
        feats = stock.preprocess(texts[:args.batch_size])
        bi["ours_profile_by_op"] = op_profile(ours.export_dir / "model.onnx",
                                              {k: feats[k].numpy().astype(np.int64) for k in ours._inputs})
    results["bi_encoder"] = bi

    # -- cross-encoder ----------------------------------------------------------------------
    folder = Path(tempfile.mkdtemp(prefix="bench-ce-")) / "minilm-ce"
    torch.manual_seed(0)
    BertForSequenceClassification.from_pretrained(model.location, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(model.location).save_pretrained(folder)
    ce = CrossEncoder(str(folder), max_length=512, device="cpu", activation_fn=torch.nn.Identity())
    ce_ours = fast_encoder.accelerate(ce, "cross-encoder", resolve_model(str(folder)))
    results["cross_encoder_backend"] = fast_encoder.backend_of(ce_ours)
    # each query's dense top 10 (from the stock ranking), in query order, until pairs_n
    per_query = 10
    pairs, groups = [], []
    for q, ranked in zip(qids, rankings["stock"]):
        if len(pairs) >= pairs_n:
            break
        groups.append((len(pairs), len(pairs) + per_query))
        pairs += [(queries[q], corpus[d]) for d in ranked[:per_query]]
    pair_lengths = [len(x) for x in ce.tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation="longest_first",
                                                    max_length=512, verbose=False)["input_ids"]]
    ckw = dict(batch_size=args.batch_size, show_progress_bar=False, convert_to_numpy=True)
    cvariants = {"stock": lambda c: ce.predict(c, **ckw), "ours": lambda c: ce_ours.predict(c, **ckw)}
    for f in cvariants.values():
        f(pairs[:4])
    cb = np.linspace(0, len(pairs), args.chunks + 1).astype(int)
    cchunks = [pairs[a:b] for a, b in zip(cb[:-1], cb[1:])]
    csizes = [len(c) for c in cchunks]
    cflops = [forward_flops(ce.model.config, pair_lengths[a:b], head=True) for a, b in zip(cb[:-1], cb[1:])]
    crun = interleaved(cvariants, cchunks, peaks)
    peak = max(peaks)
    cross: dict = {"model": "MiniLM-L6 weights + fresh head (untrained: speed only)",
                   "pairs": len(pairs), "mean_tokens": round(float(np.mean(pair_lengths)), 1),
                   "gflop_per_pair": round(sum(cflops) / len(pairs) / 1e9, 3)}
    for n, r in crun.items():
        cross[n] = rates(r["seconds"], csizes, cflops, peak, r["cpu_seconds"])
        cross[n]["pairs_per_s"] = cross[n].pop("per_s")
        cross[n]["docs_per_s"] = cross[n]["pairs_per_s"]
    a, b = crun["stock"]["outputs"], crun["ours"]["outputs"]
    cross["ours"]["agreement"] = {
        "identical_order_share": round(float(np.mean([list(np.argsort(-a[s:e], kind="stable")) ==
                                                      list(np.argsort(-b[s:e], kind="stable")) for s, e in groups])), 4),
        "max_abs_diff_scores": float(np.abs(a - b).max())}
    cross["ours"]["speedup_vs_stock"] = round(float(np.median(np.array(crun["stock"]["seconds"]) /
                                                              np.array(crun["ours"]["seconds"]))), 2)
    results["cross_encoder"] = cross
    # the bi-encoder's shares against the final peak (it may have risen during the cross-encoder part)
    for n, r in run.items():
        bi[n].update({k: v for k, v in rates(r["seconds"], sizes, flops, peak, r["cpu_seconds"]).items()
                      if k.startswith("share")})
    results["peak_gflops"] = round(peak, 1)
    results["peak_gflops_median"] = round(statistics.median(peaks), 1)
    results["peak_gflop_per_cpu_s"] = round(max(CPU_PEAKS), 1)
    results["cpu"]["load_avg_end"] = os.getloadavg()
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
        print(f"written {args.json}")
    return 0


def device_main(args) -> int:
    """``--device``: the product's own loaders on the device against the CPU's (see the module docstring)."""
    from cascade_core.models.device import device_name, resolve_device
    from cascade_core.models.loading import build_tiny_cross_encoder, load_bi_encoder, load_cross_encoder
    from cascade_core.models.pairs import score_pairs

    device = resolve_device(args.device)   # no such device here: one line, and nothing measured
    if args.quick:
        args.docs, args.queries, args.pairs = 120, args.queries or 40, args.pairs or 60
    corpus, queries, qrels, doc_ids = load_scifact(Path(args.data), args.docs, args.queries)
    texts = [corpus[d] for d in doc_ids]
    qids = list(qrels)
    sync = (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)
    model = resolve_model("all-MiniLM-L6-v2")
    out: dict = {"device": device_name(device), "versions": {"torch": torch.__version__},
                 "documents": len(texts), "queries": len(qids)}

    def timed(f, repeats=3):
        f()   # warm-up: kernels, allocations
        best = float("inf")
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            result = f()
            sync()
            best = min(best, time.perf_counter() - t0)
        return best, result

    kw = dict(batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    bi = {}
    for where in ("cpu", device):
        encoder = load_bi_encoder(model, where)
        encoder.max_seq_length = args.max_tokens
        seconds, vecs = timed(lambda: encoder.encode(texts, **kw))
        bi[where] = {"docs_per_s": round(len(texts) / seconds, 1), "_vecs": vecs}
    bi["max_abs_diff_embeddings"] = float(np.abs(bi["cpu"].pop("_vecs") - bi[device].pop("_vecs")).max())
    out["bi_encoder"] = bi

    folder = build_tiny_cross_encoder(Path(tempfile.mkdtemp(prefix="bench-ce-")) / "ce")   # speed only
    pairs_n = args.pairs or args.docs // 2
    query = [queries[q] for q in qids][:max(1, pairs_n // 10)]
    ce = {}
    for where in ("cpu", device):
        encoder = load_cross_encoder(resolve_model(folder), 512, where)
        seconds, scores = timed(lambda: np.concatenate([score_pairs(encoder, q, texts[:10], 512, args.batch_size)[0]
                                                        for q in query]))
        ce[where] = {"pairs_per_s": round(len(query) * 10 / seconds, 1), "_scores": scores}
    a, b = ce["cpu"].pop("_scores"), ce[device].pop("_scores")
    ce["max_abs_diff_scores"] = float(np.abs(a - b).max())
    ce["identical_order_share"] = round(float(np.mean([list(np.argsort(-a[i:i + 10], kind="stable")) ==
                                                       list(np.argsort(-b[i:i + 10], kind="stable"))
                                                       for i in range(0, len(a), 10)])), 4)
    ce["precision"] = "float16" if device.startswith("cuda") else "float32"
    out["cross_encoder"] = ce
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
        print(f"written {args.json}")
    return 0


def int8_variant(ours, kw):
    """An int8 dynamically quantised copy of our export (weights int8, activations quantised per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = ours.export_dir / "model.onnx"
    dst = Path(tempfile.mkdtemp(prefix="bench-int8-")) / "model.onnx"
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, extra_options={"DefaultTensorType": 1})
    q = fast_encoder.FastBiEncoder(ours.stock, fast_encoder._session(dst), ours._inputs, "int8", dst.parent)
    return lambda c: q.encode(c, **kw)


def print_table(r: dict) -> None:
    print(f"\nfp32 matmul peak: {r['peak_gflops']} GFLOP/s (median of the per-chunk peaks {r['peak_gflops_median']}); "
          f"torch threads {r['cpu']['torch_threads']}, load average {r['cpu']['load_avg_start'][0]:.1f} -> "
          f"{r['cpu']['load_avg_end'][0]:.1f}; per CPU-second: {r['peak_gflop_per_cpu_s']} GFLOP")
    for key, unit in (("bi_encoder", "docs/s"), ("cross_encoder", "pairs/s")):
        m = r[key]
        print(f"\n{key} ({m['model']}), {m.get('mean_tokens')} tokens on average, "
              f"{m.get('gflop_per_doc', m.get('gflop_per_pair'))} GFLOP each; ours: {r[key + '_backend']}")
        print(f"  {'':6s} {unit:>9s} {'GFLOP/s':>8s} {'of peak':>8s} {'best chunk':>11s} {'per CPU-s':>10s} "
              f"{'speedup':>8s}  agreement")
        for n in ("stock", "ours", "int8"):
            if n not in m:
                continue
            v = m[n]
            rate = v.get("docs_per_s")
            print(f"  {n:6s} {rate:9.2f} {v['gflops']:8.1f} {v['share_of_peak']:8.0%} {v['share_of_peak_best_chunk']:11.0%} "
                  f"{v.get('share_of_peak_per_cpu_s', float('nan')):10.0%} "
                  f"{v.get('speedup_vs_stock', 1.0):7.2f}x  {json.dumps(v.get('agreement', {}))}"
                  + (f"  nDCG@10 {v['ndcg@10']}" if "ndcg@10" in v else ""))
    if "ours_profile_by_op" in r["bi_encoder"]:
        print("\nour forward pass by operator:", r["bi_encoder"]["ours_profile_by_op"])


if __name__ == "__main__":
    raise SystemExit(main())
