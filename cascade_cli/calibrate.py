"""``cascade calibrate``, and the latency lines of ``cascade eval``'s report (sources, spread, the busy-CPU check, predicted vs live tail).

    cascade eval --dataset sample_data/scifact-mini --stage bi@20 --cost bi-encoder=x0.025 --live 20
    cascade calibrate --dataset sample_data/scifact-mini --stage bi@20 [--queries 20]

``--cost STEP=PROFILE`` (repeat): STEP is a step's name (``first-pass``, a stage's name such as
``cross-encoder``) or its number (0 = the first pass, 1 = the first rerank stage); PROFILE is
``measured``, ``xFACTOR`` (the measured cost scaled, e.g. ``x0.025`` for 40x faster),
``FIXED+PER_PAIR`` in ms (e.g. ``2+0.05``), ``PER_PAIR`` alone, or ``PER_CALL/PAIRS`` for a batch API
(e.g. ``400/20``: 400 ms per request of up to 20 pairs). A ``--config`` file sets the same under
``costs:`` (see :mod:`cascade_core.latency.profiles`).
"""

from __future__ import annotations

import math
import sys

from cascade_core.latency.model import agreement_line
from cascade_core.progress import terminal_progress

from . import common


def add_parser(sub, storage) -> None:
    """Add ``calibrate`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    c = sub.add_parser("calibrate", parents=[storage],
                       help="re-time every step on a sample of stored candidates: fresh costs, no new scores")
    common.dataset_args(c)
    common.spec_args(c)
    c.add_argument("--queries", type=common.positive_int, default=20, metavar="N",
                   help="queries to re-time, spread over the set (default 20)")
    c.add_argument("--budget-ms", type=common.positive_float, help="latency budget per query, in ms")
    c.set_defaults(run=cmd_calibrate)


def cmd_calibrate(args) -> int:
    spec = common.local_only(common.spec_from_args(args), "cascade calibrate times the steps on this machine")
    n = args.queries
    args.queries = None              # _experiment's --queries is "the first N"; here N is a sample size
    exp = common.experiment(args, spec, args.dataset)
    common.load_models(exp.plan)
    before = exp.run(budget_ms=args.budget_ms).latency if exp.estimate().empty else None
    report = exp.calibrate(n, progress=terminal_progress(sys.stderr))
    print(report.describe())
    after = exp.run(budget_ms=args.budget_ms).latency
    print("\nStep           before ms   after ms   wall ms   spread p10-p90   calls  source")
    for i, st in enumerate(after.stages):
        old = "" if before is None else fmt(before.stages[i].predicted_ms)
        print(f"{st.name[:13]:<13} {old:>10} {fmt(st.predicted_ms):>10}  {fmt(st.wall_ms):>8}   {spread(st):>14}   "
              f"{st.n_calls:>5}  {st.source}")
    print("(ms: the time the work ran, its quiet-equivalent; wall ms: as timed, waits for a core included)")
    print(after.verdict())
    for note in after.notes:
        print(f"  note: {note}")
    return 0


def fmt(ms: float) -> str:
    return "?" if not math.isfinite(ms) else f"{ms:.1f}"


def spread(st) -> str:
    """A step's p10-p90 in ms, or ``-`` when it has none (a user-set cost, no timings)."""
    if not (math.isfinite(st.low_ms) and math.isfinite(st.high_ms)) or st.low_ms == st.high_ms:
        return "-"
    return f"{st.low_ms:.1f}-{st.high_ms:.1f}"


def print_latency(lat_report: dict) -> None:
    """Print the ``latency`` part of :func:`cascade_core.analysis.report.eval_report`: per step
    (quiet-equivalent, and wall clock as timed), then the verdict, the notes and the tail, and
    with ``--live`` the measured tail on the same basis, the wall clock and the load beside it."""
    print("\nLatency        pred. ms   wall ms   p10-p90 ms   calls  source")
    for s in lat_report["steps"]:
        sp = "-" if not (math.isfinite(s["p10_ms"]) and s["p10_ms"] != s["p90_ms"]) else f"{s['p10_ms']:.1f}-{s['p90_ms']:.1f}"
        print(f"{s['name'][:13]:<13} {fmt(s['predicted_ms']):>9}  {fmt(s['wall_clock_ms']):>8}   {sp:>10}   "
              f"{s['calls']:>5}  {s['source']}")
    print("(pred. ms: the time the work ran, its quiet-equivalent; wall ms: as timed, waits for a core included)")
    print(lat_report["verdict"])
    for note in lat_report["notes"]:
        print(f"  note: {note}")
    t, m = lat_report["predicted_tail"], lat_report.get("measured_total")
    if t["draws"]:
        print(f"End to end, predicted p50/p95/p99: {t['p50']:.1f} / {t['p95']:.1f} / {t['p99']:.1f} ms "
              f"(sum of the steps' medians {t['sum_of_medians']:.1f} ms)")
    if m:
        w, live = lat_report["measured_wall_clock_total"], lat_report["live"]
        print(f"End to end, measured live p50/p95/p99: {m['p50']:.1f} / {m['p95']:.1f} / {m['p99']:.1f} ms "
              "quiet-equivalent" + (f"  (live / predicted: p50 {m['p50'] / t['p50']:.2f}, p95 {m['p95'] / t['p95']:.2f})"
                                    if t["draws"] and t["p50"] > 0 and t["p95"] > 0 else ""))
        print(f"  wall clock: {w['p50']:.1f} / {w['p95']:.1f} / {w['p99']:.1f} ms; "
              + (f"{len(live['warmup_ms'])} warm-up run(s) first, not counted ("
                 + ", ".join(f"{x:.1f} ms" for x in live["warmup_ms"]) + ")" if live["warmup_ms"] else "no warm-up run"))
        print(f"  {live['machine']}")
        if t["draws"]:
            print(f"  {agreement_line(t, m)[1]}")
    elif lat_report.get("machine_now"):
        print(f"Machine now: {lat_report['machine_now']}")
    if lat_report.get("usd_per_1k_queries"):
        print(f"Cost: ${lat_report['usd_per_1k_queries']:.4f} per 1,000 queries (from the profiles' prices)")


def print_estimate(estimate, stream=sys.stderr) -> None:
    """One line before scoring: what is missing and about how long it takes (nothing when all is stored)."""
    if not estimate.empty:
        print(f"To score: {estimate.describe()}", file=stream)
