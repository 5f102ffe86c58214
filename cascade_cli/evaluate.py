"""``cascade eval`` and ``cascade demo``: score once, simulate a cascade, print its report.

    cascade eval --dataset ../shared/data/scifact --split test --first-pass bm25 --pool-size 80 \\
        --stage bi:all-MiniLM-L6-v2@20 --stage cross:MODEL@10 --final-k 10 --json report.json
    cascade demo [--json FILE]

The report (what ``--json`` writes) is built by :func:`cascade_core.analysis.report.eval_report`;
this module only prints it.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from cascade_core.analysis.lift import metric_label
from cascade_core.analysis.report import eval_report
from cascade_core.analysis.saved import FOLDER, check_free, check_name
from cascade_core.cascade.demo import DEMO_SPEC, SAMPLE_DATASET
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.errors import CascadeError
from cascade_core.home import cascade_home
from cascade_core.metrics import MOSTLY_UNJUDGED_BELOW
from cascade_core.progress import terminal_progress
from cascade_core.scoring.ensure import LOCAL, ScoringReport, truncation_line

from . import common
from .calibrate import print_estimate, print_latency
from .compare import save_result


def add_parser(sub, storage) -> None:
    """Add ``eval`` and ``demo`` to the ``cascade`` parser."""
    e = sub.add_parser("eval", parents=[storage], help="score once, simulate a cascade, report metrics per stage")
    common.dataset_args(e)
    common.spec_args(e)
    e.add_argument("--budget-ms", type=common.positive_float, help="latency budget per query, in ms")
    e.add_argument("--queries", type=common.positive_int, metavar="N", help="evaluate only the first N judged queries")
    e.add_argument("--sample-query", help="id of the query whose final list is printed (default: the first)")
    e.add_argument("--live", type=common.positive_int, metavar="N",
                   help="also run N queries live through the real models and report measured p50/p95/p99")
    e.add_argument("--json", dest="json_path", help="write the full report as JSON here")
    e.add_argument("--save-spec", help="write the effective spec as YAML here")
    e.add_argument("--save", metavar="NAME", help="save the evaluated experiment under NAME in the data folder "
                                                  "(compare saved ones: cascade compare NAME...)")
    e.add_argument("--replace", action="store_true", help="with --save: replace an experiment saved under NAME "
                                                           "(without it, a name already saved is refused)")
    e.add_argument("--from-store", action="store_true",
                   help="score nothing: simulate from the stored scores only (missing ones are an error; a "
                        "listwise stage handed a list it never ranked is reported approximate)")
    e.set_defaults(run=cmd_eval)

    dm = sub.add_parser("demo", parents=[storage], help="evaluate the demo cascade on the bundled sample data")
    dm.add_argument("--json", dest="json_path", help="write the report (as `cascade eval --json`) here")
    dm.set_defaults(run=cmd_demo)


def cmd_eval(args) -> int:
    # Output paths first: a missing folder must not surface after minutes of scoring.
    for path, flag in ((args.json_path, "--json"), (args.save_spec, "--save-spec")):
        if path:
            common.check_writable(path, flag)
    if args.save:   # a bad name (or one taken) must not surface after minutes of scoring either
        check_name(args.save)
        if not args.replace:
            check_free((Path(args.home) if args.home else cascade_home()) / FOLDER, args.save)
    spec = common.spec_from_args(args)
    if args.save_spec:
        common.write_output(args.save_spec, spec.to_yaml(), "--save-spec")
    return evaluate(args, spec, args.dataset)


def cmd_demo(args) -> int:
    if not SAMPLE_DATASET.exists():
        raise CascadeError(f"the bundled sample data is missing at {SAMPLE_DATASET}")
    if args.json_path:
        common.check_writable(args.json_path, "--json")
    args.split = None
    args.format = "auto"
    for name in ("budget_ms", "queries", "sample_query"):
        setattr(args, name, None)
    args.live = 5
    return evaluate(args, CascadeSpec.from_dict(DEMO_SPEC), SAMPLE_DATASET)


def evaluate(args, spec, dataset_path) -> int:
    exp = common.experiment(args, spec, dataset_path)
    if args.sample_query is not None and args.sample_query not in exp.queries:
        raise CascadeError(f"--sample-query {args.sample_query!r} is not among the evaluated queries")
    if getattr(args, "from_store", False):
        scoring = ScoringReport()   # nothing scored: the simulation reads the store only
    else:
        common.load_models(exp.plan)
        print_estimate(exp.estimate(), sys.stderr)   # what is missing, and about how long
        # sys.stderr as it is now: terminal_progress's default is the stream of import time.
        scoring = exp.ensure_scores(progress=terminal_progress(sys.stderr))
    result = exp.run(budget_ms=args.budget_ms)
    live = exp.measure_live(args.live) if args.live else None
    report = eval_report(exp, result, scoring, live, args.sample_query)
    print_report(report)
    if args.json_path:
        common.write_output(args.json_path, json.dumps(report, indent=2, default=common.json_default), "--json")
        print(f"\nReport written to {args.json_path}")
    if getattr(args, "save", None):
        save_result(args.save, exp, result, live, args.replace)
    return 0


def print_report(report: dict) -> None:
    sq = report["sample_query"]
    print(f"\nSample query {sq['id']}: {sq['text']}")
    for r in sq["results"]:
        mark = f"REL {r['grade']}" if r["grade"] > 0 else "     "
        print(f"  {r['rank']:>3}. {mark}  {r['score']:9.4f}  {r['doc_id']:<12} {r['title'][:70]}")
    m = report["metrics"]
    if m:
        print(f"\nFinal top {report['spec']['final_k']}: nDCG@10 {m['ndcg@10']:.3f}  MRR@10 {m['mrr@10']:.3f}  "
              f"recall@10 {m['recall@10']:.3f}  MAP {m['map']:.3f}   (nDCG gain: {report['ndcg_gain']})")
        if "judged@10" in m:
            print(f"  judged@10 {m['judged@10']:.2f} (share of the top 10 with a judgment)  nDCG@10 condensed "
                  f"{m['ndcg_condensed@10']:.3f} (unjudged documents removed)")
    # nDCG' = nDCG@10 on the condensed list (unjudged removed); judged@10 under 50% is marked "!"
    print("\nStage          keep   recall  nDCG@10  nDCG'@10  judged@10  oracle@10  pred. ms/query  "
          "measured p50/p95/p99 ms")
    for st in report["stages"]:
        m = st["metrics"] or {}
        rec = "   -  " if st["recall"] is None else f"{st['recall']:.3f}"
        ndcg = "   -  " if not m else f"{m['ndcg@10']:.3f}"
        cond = "   -  " if "ndcg_condensed@10" not in m else f"{m['ndcg_condensed@10']:.3f}"
        jd = "    - " if "judged@10" not in m else (
            f"{m['judged@10']:.2f}" + ("!" if m["judged@10"] < MOSTLY_UNJUDGED_BELOW else " "))
        orc = "   -  " if not m else f"{m['oracle_ndcg@10']:.3f}"
        ms = "?" if math.isnan(st["latency_ms"]) else f"{st['latency_ms']:.1f}"
        meas = st["measured_ms"]
        meas_s = "" if not meas else f"{meas['p50']:.1f} / {meas['p95']:.1f} / {meas['p99']:.1f}"
        print(f"{st['name'][:13]:<13} {st['keep']:>5}   {rec}   {ndcg}    {cond}     {jd}     {orc}      {ms:>9}"
              f"       {meas_s}")
    holes = report.get("holes") or {}
    if holes.get("warning"):
        print(f"WARNING: {holes['warning']}")
    if holes.get("note"):   # positive-only qrels: expected, said once, not an alarm
        print(f"Note: {holes['note']}")
    for name, k in (report.get("kept_counts") or {}).items():
        print(f"  {name}: per-query cut-off {k['cut-off']}: kept per query mean {k['mean']:.1f}, p50 {k['p50']:.0f}, "
              f"p95 {k['p95']:.0f} (min {k['min']}, max {k['max']})")
    lift = report.get("lift")
    if lift:
        print("\nAgainst the first pass alone (same queries; paired Wilcoxon test per query):")
        for metric, c in lift["metrics"].items():
            flag = "WARNING: worse than the first pass. " if c["worse"] else ""
            p = "?" if c["wilcoxon_p"] != c["wilcoxon_p"] else f"{c['wilcoxon_p']:.2g}"
            print(f"  {flag}{metric_label(metric)} {c['before']:.3f} -> {c['after']:.3f} "
                  f"({c['change_points']:+.1f} points; {c['wins']} {'query' if c['wins'] == 1 else 'queries'} better, {c['losses']} worse, p = {p})")
        if lift["added_ms"] == lift["added_ms"]:
            print(f"  The stages add {lift['added_ms']:.1f} ms per query (predicted) to the first pass's "
                  f"{lift['first_pass_ms']:.1f} ms.")
        for st in report["stages"][1:]:
            change = (st.get("change_vs_input") or {}).get("ndcg@10")
            if change and change["worse"]:
                print(f"  WARNING: stage {st['name']!r} ranks worse than the list it receives: nDCG@10 "
                      f"{change['before']:.3f} -> {change['after']:.3f} ({change['change_points']:+.1f} points); "
                      "see `cascade doctor` for the fix")
    for name, note in (report.get("students") or {}).items():
        print(f"\n{name}: {note}")
    for name in report.get("stand_in") or []:
        print(f"\nWARNING: {name} is the untrained stand-in cross-encoder: its latency is real, its ranking is "
              "random (distil a student: cascade distill)")
    print_latency(report["latency"])
    sc = report["scoring"]
    pairs = sum(sc["scored_pairs"].values())
    print(f"Scoring this run: {sc['retrieved_queries']} first-pass queries, {pairs} pairs scored "
          f"({sc['seconds']:.1f} s); everything else came from the store")
    where = sc.get("where") or {}
    if any(w != LOCAL for w in where.values()):
        for step, w in where.items():
            print(f"  {step}: scored {'in' if w == LOCAL else 'on'} {w}")
    for note in sc.get("notes") or []:
        print(f"note: {note}")
    for step, cut in (sc.get("truncated") or {}).items():
        print(f"Truncated: {truncation_line(step, cut)}")
    for ap in report.get("approximate") or []:
        print(f"APPROXIMATE: stage {ap['stage']!r} is listwise and {ap['queries']} of {ap['of']} queries hand it "
              "a list it never ranked (scores of a longer list stand in); run without --from-store to rescore")

