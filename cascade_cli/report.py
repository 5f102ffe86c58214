"""``cascade report FILE.html``: the one-file HTML report (the Tune page's download) from a terminal.

    cascade report FILE.html --dataset PATH [spec flags as eval]
    cascade report FILE.html --present --dataset PATH [...]   # the Present page's story, for stakeholders

The report draws (Plotly): it comes from :mod:`cascade_draw.report`, the drawing package the
dashboard uses too, which needs the ``ui`` extra; without it, this command says so.
"""

from __future__ import annotations

import sys

from cascade_core.analysis.report import report_summary
from cascade_core.errors import CascadeError, missing_extra
from cascade_core.present import story
from cascade_core.progress import terminal_progress

from . import common


def add_parser(sub, storage) -> None:
    """Add ``report`` to the ``cascade`` parser."""
    r = sub.add_parser("report", parents=[storage],
                       help="write the one-file HTML report (the dashboard's) for a cascade on a dataset")
    r.add_argument("file", help="the HTML file to write")
    common.dataset_args(r)
    common.spec_args(r)
    r.add_argument("--budget-ms", type=common.positive_float, help="latency budget per query, in ms")
    r.add_argument("--queries", type=common.positive_int, metavar="N", help="use only the first N judged queries")
    r.add_argument("--present", action="store_true",
                   help="write the Present page's story instead (what the cascade is, buys, costs, the trade-off, "
                        "what it still loses, caveats): one printable page per panel, for stakeholders")
    r.set_defaults(run=cmd_report)


def cmd_report(args) -> int:
    """``cascade report FILE.html``: the same report as the Tune page's download, from the terminal."""
    common.check_writable(args.file, "report file")
    exp = common.experiment(args, common.spec_from_args(args), args.dataset)
    if exp.relevance is None:
        raise CascadeError(f"dataset {exp.dataset.name!r} has no relevance judgments: the report measures against them")
    common.load_models(exp.plan)
    exp.ensure_scores(progress=terminal_progress(sys.stderr))
    result = exp.run(budget_ms=args.budget_ms)
    try:   # the report draws (Plotly): the drawing package needs the ui extra
        from cascade_draw.present import present_report
        from cascade_draw.report import cascade_report
    except ImportError as exc:
        raise missing_extra(exc.name or "plotly", "ui", "the HTML report") from None
    if args.present:
        html = present_report(story(result, exp))
    else:
        html = cascade_report(result, exp, report_summary(result, exp, exp.dataset.name))
    common.write_output(args.file, html, "report file")
    print(f"Report written to {args.file} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0

