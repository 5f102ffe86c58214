"""``cascade doctor``: the Compare & doctor page's checks in a terminal.

    cascade doctor --dataset sample_data/scifact-mini --pool-size 100 --stage bi@20

Prints every check of :mod:`cascade_core.doctor` (flagged first) with its evidence and fix, and
writes them as JSON with ``--json``. It only lays out what the library returns.
"""

from __future__ import annotations

import json
import sys

from cascade_core import doctor
from cascade_core.doctor.provenance import experiment_checks
from cascade_core.progress import terminal_progress

from . import common


def add_parser(sub, storage) -> None:
    """Add ``doctor`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    d = sub.add_parser("doctor", parents=[storage],
                       help="the known failure modes of a cascade, with evidence and a fix")
    common.dataset_args(d)
    common.spec_args(d)
    d.add_argument("--queries", type=common.positive_int, metavar="N", help="use only the first N judged queries")
    d.add_argument("--json", dest="json_path", help="write every check (check, severity, stage, evidence, fix) here")
    d.add_argument("--depth", type=common.positive_int, default=1000,
                   help="retrieve the first pass this deep, to see whether a larger pool would find more "
                        "relevant documents (default 1000; the first pass costs the same at any depth)")
    d.set_defaults(run=cmd_doctor)


def cmd_doctor(args) -> int:
    if args.json_path:
        common.check_writable(args.json_path, "--json")
    spec = common.spec_from_args(args)
    exp = common.experiment(args, spec, args.dataset)
    common.load_models(exp.plan)
    progress = terminal_progress(sys.stderr)
    # The pool check compares recall at the pool with recall deeper down: only the first pass
    # is needed that deep, not the stages.
    exp.ensure_scores(spec.prefix(0).with_keeps(pool_size=max(args.depth, spec.pool_size)), progress=progress)
    exp.ensure_scores(progress=progress)
    run = exp.run().run
    flagged = 0
    print()
    checks = doctor.by_severity(doctor.run_checks(run, exp.relevance, exp.cost_models(), extra=experiment_checks(exp)))
    for check in checks:
        f = check.finding
        if f is None:
            print(f"[{check.status}] {check.title}: {check.summary}")
            continue
        flagged += 1
        label = "WARNING" if f.severity == "warning" else "note"
        print(f"[{label}] {f.title}\n  {f.explanation}\n  Fix: {f.fix}\n  Evidence: "
              + "; ".join(f"{k} = {doctor.format_evidence(v, k)}" for k, v in f.evidence.items()))
    print(f"\n{flagged} finding(s).")
    if args.json_path:
        report = {"spec": spec.to_dict(), "dataset": exp.dataset.name, "queries": len(exp.queries),
                  "findings": [c.to_dict() for c in checks]}
        common.write_output(args.json_path, json.dumps(report, indent=2, default=common.json_default), "--json")
        print(f"Report written to {args.json_path}")
    return 0
