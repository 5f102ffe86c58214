"""The CLI's latency parts: ``--cost`` profiles, ``cascade calibrate``, and the latency lines of
``cascade eval``'s report (sources, spread, the busy-CPU check, predicted vs live tail).

    cascade eval --dataset sample_data/scifact-mini --stage bi@20 --cost bi-encoder=x0.025 --live 20
    cascade calibrate --dataset sample_data/scifact-mini --stage bi@20 [--queries 20]

``--cost STEP=PROFILE`` (repeat): STEP is a step's name (``first-pass``, a stage's name such as
``cross-encoder``) or its number (0 = the first pass, 1 = the first rerank stage); PROFILE is
``measured``, ``xFACTOR`` (the measured cost scaled, e.g. ``x0.025`` for 40x faster),
``FIXED+PER_PAIR`` in ms (e.g. ``2+0.05``), ``PER_PAIR`` alone, or ``PER_CALL/PAIRS`` for a batch API
(e.g. ``400/20``: 400 ms per request of up to 20 pairs). A ``--config`` file sets the same under
``costs:`` (see :mod:`cascade_core.cost_profile`).
"""

from __future__ import annotations

import math
import sys

from .errors import CascadeError

COST_HELP = ("price a step where it will run (repeat): STEP=measured | xFACTOR (e.g. x0.025: 40x faster "
             "than measured here) | FIXED+PER_PAIR ms (e.g. 2+0.05) | PER_CALL/PAIRS for a batch API "
             "(e.g. 400/20); STEP is first-pass, a stage's name or its number")


def add_cost_arg(p) -> None:
    """``--cost STEP=PROFILE`` on a parser with the spec flags."""
    p.add_argument("--cost", action="append", default=None, metavar="STEP=PROFILE", help=COST_HELP)


def apply_cost_flags(spec, texts, config_costs: dict | None = None, stages_replaced: bool = False):
    """``spec`` with the ``--config`` file's ``costs:`` and then each ``--cost`` laid over it.

    A config's profile of a step the ``--stage`` flags replaced is dropped (that step is gone);
    a ``--cost`` naming no step is refused.

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "stages": [{"scorer": "bi:m", "keep": 20}]})
    >>> [p.describe() for p in apply_cost_flags(spec, ["1=x0.025", "first-pass=3+0"]).cost_profiles.values()]
    ['user-set: 3 ms', 'measured x 0.025']
    """
    from .cost_profile import step_key

    costs = dict(config_costs or {})
    if stages_replaced:
        costs = {k: v for k, v in costs.items() if step_key(k) in spec.stage_names}
    for text in texts or []:
        step, eq, value = text.partition("=")
        step = step.strip()
        if not eq or not step or not value.strip():
            raise CascadeError(f"--cost {text!r}: expected STEP=PROFILE, e.g. cross-encoder=x0.025 or llm=400/20")
        if step.isdigit():
            if int(step) >= len(spec.stage_names):
                raise CascadeError(f"--cost {text!r}: no step {step}; steps: 0 (first pass) to {len(spec.stages)}")
            step = spec.stage_names[int(step)]
        costs[step_key(step)] = value.strip()
    return spec.with_costs(costs) if costs else spec


def add_parser(sub, storage, dataset_args, spec_args, positive_int, positive_float) -> None:
    """Add ``calibrate`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    c = sub.add_parser("calibrate", parents=[storage],
                       help="re-time every step on a sample of stored candidates: fresh costs, no new scores")
    dataset_args(c)
    spec_args(c)
    c.add_argument("--queries", type=positive_int, default=20, metavar="N",
                   help="queries to re-time, spread over the set (default 20)")
    c.add_argument("--budget-ms", type=positive_float, help="latency budget per query, in ms")


def cmd_calibrate(args) -> int:
    from . import cli
    from .progress import terminal_progress

    spec = cli._spec_from_args(args)
    n = args.queries
    args.queries = None              # _experiment's --queries is "the first N"; here N is a sample size
    exp = cli._experiment(args, spec, args.dataset)
    cli.load_models(exp.plan)
    before = exp.run(budget_ms=args.budget_ms).latency if exp.estimate().empty else None
    report = exp.calibrate(n, progress=terminal_progress(sys.stderr))
    print(report.describe())
    after = exp.run(budget_ms=args.budget_ms).latency
    print("\nStep           before ms   after ms   spread p10-p90   calls  source")
    for i, st in enumerate(after.stages):
        old = "" if before is None else fmt(before.stages[i].predicted_ms)
        print(f"{st.name[:13]:<13} {old:>10} {fmt(st.predicted_ms):>10}   {spread(st):>14}   {st.n_calls:>5}  {st.source}")
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


def latency_section(lat, live: dict | None, cpu: tuple[float, float] | None = None) -> dict:
    """The latency part of ``cascade eval``'s JSON report: each step's figure, source and spread,
    what the tool distrusts, and the end-to-end tail predicted (and measured, with ``--live``)."""
    from .cpu_probe import busy_now_note, probe_now

    tail = lat.tail()
    out = {"total_ms": lat.total_ms, "budget_ms": lat.budget_ms, "within_budget": lat.within_budget,
           "first_over_budget": lat.first_over_budget, "verdict": lat.verdict(), "notes": lat.notes,
           "cpu_slowdown": lat.slowdown, "cpu_probe_now_ms": probe_now() if lat.slowdown == lat.slowdown else None,
           "steps": [{"name": s.name, "predicted_ms": s.predicted_ms, "p10_ms": s.low_ms, "p90_ms": s.high_ms,
                      "calls": s.n_calls, "source": s.source, "cpu_slowdown": s.slowdown} for s in lat.stages],
           "predicted_tail": tail.to_dict(),
           "measured_total": live.get("total") if live else None}
    if cpu is not None:   # how busy the CPU is now, against the quietest moment recorded (for --live)
        out["cpu_now"] = {"probe_ms": cpu[0], "quietest_probe_ms": cpu[1], "note": busy_now_note(*cpu)}
    if lat.usd_per_1k_queries:
        out["usd_per_1k_queries"] = lat.usd_per_1k_queries
    return out


def print_latency(lat_report: dict) -> None:
    """Print :func:`latency_section`: per step, then the verdict, the notes and the tail."""
    print("\nLatency        pred. ms   p10-p90 ms   calls  source")
    for s in lat_report["steps"]:
        sp = "-" if not (math.isfinite(s["p10_ms"]) and s["p10_ms"] != s["p90_ms"]) else f"{s['p10_ms']:.1f}-{s['p90_ms']:.1f}"
        print(f"{s['name'][:13]:<13} {fmt(s['predicted_ms']):>9}   {sp:>10}   {s['calls']:>5}  {s['source']}")
    print(lat_report["verdict"])
    for note in lat_report["notes"]:
        print(f"  note: {note}")
    if lat_report["cpu_slowdown"] == lat_report["cpu_slowdown"]:
        print(f"Busy-CPU check: the timings were recorded at x{lat_report['cpu_slowdown']:.2f} the CPU probe's time "
              f"now (probe {lat_report['cpu_probe_now_ms']:.2f} ms now; x1.5 or more is flagged)")
    t, m = lat_report["predicted_tail"], lat_report.get("measured_total")
    if t["draws"]:
        print(f"End to end, predicted p50/p95/p99: {t['p50']:.1f} / {t['p95']:.1f} / {t['p99']:.1f} ms "
              f"(sum of the steps' medians {t['sum_of_medians']:.1f} ms)")
    if m:
        print(f"End to end, measured live p50/p95/p99: {m['p50']:.1f} / {m['p95']:.1f} / {m['p99']:.1f} ms"
              + (f"  (live p95 / predicted p95 = {m['p95'] / t['p95']:.2f})" if t["draws"] and t["p95"] > 0 else ""))
    if lat_report.get("cpu_now"):
        print(f"Busy-CPU check now: {lat_report['cpu_now']['note']}")
    if lat_report.get("usd_per_1k_queries"):
        print(f"Cost: ${lat_report['usd_per_1k_queries']:.4f} per 1,000 queries (from the profiles' prices)")


def print_estimate(estimate, stream=sys.stderr) -> None:
    """One line before scoring: what is missing and about how long it takes (nothing when all is stored)."""
    if not estimate.empty:
        print(f"To score: {estimate.describe()}", file=stream)
