"""``cascade eval --save NAME`` and ``cascade compare NAME...``: saved experiments side by side.

    cascade eval --dataset ../shared/data/scifact --pool-size 100 --stage bi:all-MiniLM-L6-v2@20 --save keep20
    cascade eval --dataset ../shared/data/scifact --pool-size 100 \\
        --stage bi:all-MiniLM-L6-v2@drop=0.2,min=10,max=100,scale=norm --save drop02
    cascade compare bm25 keep20 drop02 --baseline bm25 --csv compare.csv
    cascade compare --list

Only lays out what :mod:`cascade_core.analysis.saved` and :mod:`cascade_core.analysis.compare_many` return.
"""

from __future__ import annotations

import math

from cascade_core.analysis.compare_many import ALPHA, compare_experiments
from cascade_core.analysis.saved import SavedExperiment, experiments_folder, saved_names
from cascade_core.errors import CascadeError

from . import common


def add_parser(sub, storage) -> None:
    """Add ``compare`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    c = sub.add_parser("compare", parents=[storage],
                       help="saved experiments side by side, with paired tests against a baseline")
    c.add_argument("names", nargs="*", metavar="NAME", help="saved experiments (cascade eval --save NAME)")
    c.add_argument("--baseline", metavar="NAME",
                   help="the experiment the others are tested against (default: the first)")
    c.add_argument("--metric", default="ndcg@10",
                   help="per-query metric of the wins, losses and tests (default ndcg@10)")
    c.add_argument("--csv", dest="csv_path", metavar="FILE", help="write the table as CSV here")
    c.add_argument("--list", action="store_true", help="list the saved experiments and exit")
    c.set_defaults(run=cmd_compare)


def save_result(name: str, exp, result, live, replace: bool = False) -> None:
    """Save an evaluated result under ``name`` in the data folder (``eval --save``, ``--replace``)."""
    path = SavedExperiment.from_result(name, exp, result, live).save(experiments_folder(exp.workspace), replace)
    print(f"\nSaved as experiment {name!r}: {path}  (compare: cascade compare {name} OTHER...)")


def cmd_compare(args) -> int:
    folder = experiments_folder(common.workspace(args))
    if args.list or not args.names:
        names = saved_names(folder)
        if not names and not args.list:
            raise CascadeError(f"no saved experiments in {folder}: save some with `cascade eval ... --save NAME`")
        for n in names:
            e = SavedExperiment.load(folder, n)
            print(f"{n:<24} {e.dataset.get('name')}  {len(e.query_ids)} queries  {e.cascade}")
        return 0
    if args.csv_path:
        common.check_writable(args.csv_path, "--csv")
    exps = [SavedExperiment.load(folder, n) for n in args.names]
    result = compare_experiments(exps, baseline=args.baseline, metric=args.metric)
    t = result.table
    first = exps[0]
    print(f"{len(exps)} experiments on {first.dataset.get('name')} ({len(first.query_ids)} queries, "
          f"corpus {first.dataset.get('corpus')}); baseline {result.baseline!r}\n")
    for name, row in t.iterrows():
        print(f"  {name}: {row['cascade']}")
    print()
    # measured columns only where a live run measured something (cascade eval --live N --save NAME)
    unmeasured = [c for c in ("measured p50 ms", "measured p95 ms") if t[c].isna().all()]
    print(format_table(t.drop(columns=unmeasured), result.metric))
    if unmeasured:
        print("(no measured latency: save with `cascade eval --live N --save NAME` to add it)")
    print(f"\nWins/losses/ties: queries where the experiment's {result.metric} is above/below/equal to the "
          f"baseline's. Wilcoxon signed-rank test per pair (two-sided, scipy.stats.wilcoxon); Holm p: adjusted "
          f"by Holm's step-down method for the {len(exps) - 1} comparisons against the baseline.")
    sig = result.significant(ALPHA)
    print(f"Different from the baseline after Holm's correction (p <= {ALPHA}): {', '.join(sig) or 'none'}")
    if args.csv_path:
        common.write_output(args.csv_path, result.to_csv(), "--csv")
        print(f"Table written to {args.csv_path}")
    return 0


def format_table(t, metric: str) -> str:
    """The comparison table as aligned text (numbers rounded as a reader wants them)."""
    cols = [c for c in t.columns if c != "cascade"]
    rows = [["experiment"] + cols]
    for name, row in t.iterrows():
        cells = [str(name)]
        for c in cols:
            v = row[c]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("-")
            elif c in ("wins", "losses", "ties"):
                cells.append(str(int(v)))
            elif c.endswith(" p"):
                cells.append(f"{v:.3g}")
            elif c.endswith("ms"):
                cells.append(f"{v:.1f}")
            elif c.endswith("diff"):
                cells.append(f"{v:+.4f}")
            else:
                cells.append(f"{v:.4f}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
                     for r in rows)
