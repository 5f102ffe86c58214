"""The Present view as one offline HTML file: ``cascade report --present FILE.html``.

The same :class:`cascade_core.present.Story` the Present page lays out, in the same order, one
panel per printed sheet (browser print to PDF). Plotly is inlined once (:mod:`.report`), so the
file opens with no network; every text from data is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from cascade_core import formats
from cascade_core.analysis.lift import metric_label
from cascade_core.present import EXPLAIN

from . import charts
from .report import figure_html, plotly_loader

SHEET_PX = 700   # a figure's width: an A4 or Letter sheet's printable width at 96 dpi, margins off
STYLE = """body{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222;line-height:1.45}
h1{margin-bottom:0.1em}.muted{color:#666;font-size:0.9em}
section{border-top:1px solid #ddd;padding:0.6em 0 1.2em;break-inside:avoid;page-break-inside:avoid}
.big{font-size:2.2em;font-weight:600}.delta{color:#2ca02c;font-weight:600}.worse{color:#d62728;font-weight:600}
.tiles{display:flex;gap:2em;flex-wrap:wrap}.tile{min-width:10em}.tile .label{color:#666;font-size:0.85em}
table{border-collapse:collapse;font-size:0.85em;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left}th{background:#f3f3f3}
@media print{body{max-width:none;margin:1cm}section{break-after:page;page-break-after:always}}"""


def present_report(s) -> str:
    """The whole file for story ``s``."""
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(s.title)}</title><style>{STYLE}</style>"
             f"</head><body><h1>{e(s.title)}</h1><p class='muted'>{e(s.dataset)}, {formats.count(s.queries)} labeled "
             f"queries; cascade-explorer, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Every number is computed "
             "from stored scores and recorded timings; the caveats at the end say how far each goes.</p>",
             plotly_loader()]
    diagram = _sheet(charts.cascade_diagram(s.stages, s.final_k))
    parts.append("<section><h2>1. The cascade</h2>" + figure_html(diagram, "diagram")
                 + f"<p class='muted'>{e(EXPLAIN['diagram'])}</p></section>")
    if s.change is None:
        parts.append(f"<section><h2>2. What it buys</h2><p>{e(s.buys)}</p></section>")
    else:
        c = s.change
        cls = "worse" if c.worse else "delta"
        others = "; ".join(f"{metric_label(o.metric)} {formats.metric(o.before)} \u2192 {formats.metric(o.after)} "
                           f"({formats.change(o.points)})" for o in s.others)
        parts.append(f"<section><h2>2. What it buys</h2><div class='tiles'><div class='tile'><div class='label'>"
                     f"{e(metric_label(c.metric))} (quality of the top 10)</div><div class='big'>"
                     f"{formats.metric(c.after)}</div><div class='{cls}'>{formats.change(c.points)} vs the first pass "
                     f"alone</div></div><div class='tile' style='flex:1'><p><b>{e(s.buys)}</b> over the first pass "
                     f"alone, on {formats.count(s.queries)} queries: {e(s.buys_in_words)}.</p><p class='muted'>"
                     f"{e(EXPLAIN['metric'])} Also: {e(others)}</p></div></div></section>")
    budget = ""
    if s.budget_ms is not None:
        said, bad = s.budget_verdict
        budget = (f"<div class='tile'><div class='label'>Budget</div><div class='big'>{formats.ms(s.budget_ms)}</div>"
                  f"<div class='{'worse' if bad else 'delta'}'>{e(said)}</div></div>")
    price = formats.usd(s.usd_per_1k) if s.usd_per_1k else "not priced"
    parts.append("<section><h2>3. What it costs</h2><div class='tiles'>"
                 f"<div class='tile'><div class='label'>Typical query (p50)</div><div class='big'>{formats.ms(s.p50_ms)}"
                 f"</div><div class='muted'>{formats.ms(s.p50_ms - s.first_pass_ms)} more than the first step alone"
                 "</div></div><div class='tile'><div class='label'>Slow query (p95)</div><div class='big'>"
                 f"{formats.ms(s.p95_ms)}</div></div>{budget}<div class='tile'><div class='label'>Per 1,000 queries"
                 f"</div><div class='big'>{price}</div></div></div><p class='muted'>"
                 f"{e(EXPLAIN['costs'].format(basis=s.cost_basis, first=formats.ms(s.first_pass_ms)))}</p></section>")
    if s.frontier is not None:
        fig = tradeoff_figure(s)
        parts.append("<section><h2>4. The trade-off</h2>" + figure_html(_sheet(fig), "tradeoff")
                     + (f"<p>{e(s.tradeoff)}</p>" if s.tradeoff else "")
                     + s.alternatives.style.format(escape="html").hide(axis="index").to_html()
                     + f"<p class='muted'>{e(EXPLAIN['tradeoff'])}</p></section>")
    if s.lost is not None:
        example = f"<p><b>An example.</b> {e(s.lost_example.sentence())}</p>" if s.lost_example else ""
        parts.append(f"<section><h2>5. What it still loses</h2><p>{e(s.losses)}</p>"
                     + figure_html(_sheet(charts.lost_by_stage_bars(s.lost, s.step_words)), "lost") + example
                     + "</section>")
    items = "".join(f"<li>{e(c.text)} <span class='muted'>(the dashboard's {e(c.page)} page)</span></li>"
                    for c in s.caveats)
    parts.append(f"<section><h2>Caveats</h2><ul>{items}</ul></section></body></html>")
    return "\n".join(parts)


def tradeoff_figure(s):
    """The trade-off chart of story ``s``, its marks named as the Present table names them (the page's
    and the file's one chart)."""
    return charts.pareto_figure(s.frontier, s.front, s.current, s.recommended, s.budget_ms,
                                current_name="this cascade", chosen_name="best within the budget",
                                others_name="other cut-offs",
                                title="Quality against latency: this cascade among the alternatives")


def _sheet(fig):
    """The figure at a printed sheet's width (a wider one would be cut at the sheet's edge)."""
    return fig.update_layout(width=SHEET_PX, autosize=False)
