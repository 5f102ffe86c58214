"""A one-file HTML report for stakeholders: the lift against the first pass, flow, funnels,
latency, tuning, the doctor's findings, the spec and the provenance of every number.

:func:`cascade_report` builds it from a simulated result (the Tune page's download button and
``cascade report FILE.html`` both call it) and the headline the library words
(:func:`cascade_core.analysis.report.report_summary`); :func:`html_report` lays it out. Plotly figures come
from :mod:`cascade_draw.charts`; plotly.js is inlined once, so the file opens offline. Every text
from a user or a dataset is escaped. No Streamlit here: the download runs on its own thread, the
CLI has none.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
from datetime import datetime, timezone

import pandas as pd
import plotly.graph_objects as go

from cascade_core import doctor
from cascade_core.analysis.flow import flow_table
from cascade_core.analysis.lift import first_pass_lift
from cascade_core.doctor.provenance import experiment_checks
from cascade_core.errors import CascadeError
from cascade_core.store.provenance import provenance_table
from cascade_core.tuning import recall_curves

from . import charts
from .tables import flag_unjudged, flag_worse, readable, stage_changes_table

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em;max-width:100%}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;overflow-wrap:normal}
td:first-child,th:first-child{text-align:left}.table{overflow-x:auto;max-width:100%}
th{background:#f3f3f3}h1{margin-bottom:0}.figure{page-break-inside:avoid;break-inside:avoid}
pre{background:#f6f6f6;padding:8px 12px;overflow-x:auto}@media print{body{max-width:none;margin:1cm}}
.muted{color:#666}.finding{border-left:4px solid #d62728;padding:4px 12px;
margin:8px 0;background:#fff5f5}.ok{border-left-color:#2ca02c;background:#f5fff5}
.info{border-left-color:#1f77b4;background:#f5f9ff}.warn{color:#d62728;font-weight:600}"""


def html_report(title: str, summary: dict[str, str], figures: list[go.Figure], tables: dict[str, pd.DataFrame],
                findings: list[tuple] | None = None, warnings: list[str] | None = None,
                spec_yaml: str | None = None, notes: list[str] | None = None) -> str:
    """``summary``: label -> value lines; ``findings``: (title, text) or (title, text, severity)
    tuples, shown as callouts (red for a warning, blue for a note); ``warnings``: lines shown in
    red under the summary (a cascade worse than its first pass); ``notes``: caveats that are
    expected, not alarms (positive-only judgments), in blue; ``tables``: DataFrames, or pandas
    Stylers where some cells must stand out (a change for the worse)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>cascade-explorer report, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p><ul>"]
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in summary.items()]
    parts.append("</ul>")
    for line in warnings or []:
        parts.append(f"<div class='finding'><span class='warn'>Warning:</span> {html.escape(line)}</div>")
    for line in notes or []:
        parts.append(f"<div class='finding info'>{html.escape(line)}</div>")
    if findings is not None:
        parts.append("<h2>Doctor</h2>")
        if not findings:
            parts.append("<div class='finding ok'>No known failure mode detected.</div>")
        for head, text, *severity in findings:
            cls = "finding" if (severity or ["warning"])[0] == "warning" else "finding info"
            parts.append(f"<div class='{cls}'><b>{html.escape(head)}</b><br>{html.escape(text)}</div>")
    if figures:
        parts.append(plotly_loader())
    for i, fig in enumerate(figures):
        parts.append(figure_html(fig, f"figure-{i}"))
    for name, df in tables.items():
        if df is None:
            continue
        parts.append(f"<h2>{html.escape(name)}</h2>")
        # Row names become a first column with its header (pandas would put the index's name on a
        # row of its own); a Styler keeps its own formats and colours.
        if isinstance(df, pd.DataFrame):
            styler = readable(df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df)
        else:
            styler = df.hide(axis="index") if isinstance(df.data.index, pd.RangeIndex) else df
        # text wraps between words, a number never inside ("1,00 0" was overflow-wrap:anywhere);
        # a table still too wide scrolls in its box
        parts.append("<div class='table'>" + styler.set_table_attributes("border='1'").to_html() + "</div>")
    if spec_yaml is not None:
        parts.append(f"<h2>The cascade spec (YAML)</h2><pre>{html.escape(spec_yaml)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def _plotly_gzip_base64() -> str:
    """plotly.js, gzipped and base64-encoded: 4.8 MB of script become about 2 MB of text."""
    import plotly.offline

    return base64.b64encode(gzip.compress(plotly.offline.get_plotlyjs().encode("utf-8"), 9)).decode("ascii")


def plotly_loader() -> str:
    """The Plotly library once, compressed, unpacked by the browser itself (DecompressionStream:
    Chrome 80+, Firefox 113+, Safari 16.4+); ``window.plotlyReady`` resolves when it is loaded.
    The file still opens offline: nothing is fetched."""
    return ("<script>window.plotlyReady=(async()=>{const b=Uint8Array.from(atob('" + _plotly_gzip_base64()
            + "'),c=>c.charCodeAt(0));const t=await new Response(new Blob([b]).stream()"
            ".pipeThrough(new DecompressionStream('gzip'))).text();(0,eval)(t);return window.Plotly;})();</script>")


def figure_html(fig: go.Figure, div_id: str) -> str:
    """One figure: its div and the script that draws it once Plotly is loaded.

    The figure's JSON sits in a script element, where the HTML parser looks for ``</script`` and
    ``<!--`` (which can make it miss the real end tag) whatever JSON thinks is a string. Every
    ``<``, ``>`` and ``&`` is written as a JSON escape, which JavaScript reads back as the same
    character, so no text of the data can end or bend the script:

    >>> html = figure_html(go.Figure(layout={"title": {"text": "</script><!--<script>"}}), "f")
    >>> "</script><!--" in html, html.count("</script>")
    (False, 1)
    """
    spec = (fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e")   # JSON has no < > & outside strings
            .replace("&", "\\u0026"))
    return (f"<div id='{div_id}' class='figure'></div><script>window.plotlyReady.then(P=>{{const f={spec};"
            f"P.newPlot('{div_id}',f.data,f.layout,{{displaylogo:false,responsive:true}});}});</script>")


def cascade_report(result, exp, summary: dict[str, str], tuning=None) -> str:
    """The whole report of one simulated cascade (``result`` from ``exp.run(spec)``): figures,
    tables, the doctor's findings (provenance included), the spec; ``tuning`` (the Tune page's
    ``(grid result, front, current, chosen, held-out, objective)``) adds the Pareto chart and the
    held-out folds."""
    spec, ev = result.run.spec, result.evaluation
    flow = flow_table(result.run, exp.relevance, corpus_size=len(exp.dataset.corpus), final=True)
    curves, plateaus = recall_curves(result.run, exp.relevance)
    funnel = ev.funnel_steps()
    figures = [charts.candidate_funnel(flow), charts.relevant_sankey(flow), charts.latency_bars(result.latency),
               charts.recall_funnel({s.name: s.per_query["recall"] for s in funnel}, [s.recall for s in funnel]),
               charts.recall_curves(curves, plateaus, dict(zip(spec.stage_names, spec.keeps)))]
    tables, warnings, notes = {}, [], []
    if spec.stages:
        lift = first_pass_lift(result.run, ev, result.latency)
        tables["Against the first pass alone"] = flag_worse(
            lift.table().reset_index(), {"first pass": "{:.3f}", "cascade": "{:.3f}", "change (points)": "{:+.1f}",
                           "Wilcoxon p": "{:.2g}"}, ["change (points)"], html=True)
        changes = stage_changes_table(result)
        change_cols = [c for c in changes.columns if "change" in c]
        tables["What each stage does to the list it receives"] = flag_worse(
            changes.reset_index(), {**{c: "{:+.1f}" for c in change_cols},
                      **{c: "{:.3f}" for c in changes.columns if c.endswith((" in", " out"))},
                      "Wilcoxon p (nDCG@10)": "{:.2g}"}, change_cols, html=True)
        if lift.worse:
            warnings.append(lift.worse_headline() + " on " + lift.worse_sentence() + ".")
    # judged@10 under 50% in red, and said under the summary: those steps' metrics are a floor
    per_stage = ev.table(corpus_size=len(exp.dataset.corpus)).reset_index()
    if ev.judgment_note():   # positive-only qrels: the holes are by design; their columns only confuse
        per_stage = per_stage.drop(columns=["judged@10", "ndcg_condensed@10"], errors="ignore")
        notes.append(ev.judgment_note())
    tables["Metrics per stage"] = flag_unjudged(readable(per_stage))
    if ev.unjudged_warning():
        warnings.append(ev.unjudged_warning())
    if tuning is not None:
        tuned, front, current, chosen, h, _ = tuning
        figures.append(charts.pareto_figure(tuned.table, front, current, chosen, tuned.budget_ms))
        if h is not None:
            tables["Held-out validation"] = h.folds
    tables["Provenance: what made these scores and timings"] = provenance_table(exp.provenance_report())
    try:
        checks = doctor.by_severity(doctor.run_checks(result.run, exp.relevance, exp.cost_models(),
                                                      extra=experiment_checks(exp)))
        findings = [(c.finding.title, f"{c.finding.explanation} Fix: {c.finding.fix}", c.finding.severity)
                    for c in checks if c.finding is not None]
    except CascadeError as exc:  # the report still has everything else
        findings = [("The doctor could not run", str(exc))]
    return html_report(f"Cascade report: {spec.describe()}", summary, figures, tables, findings=findings,
                       warnings=warnings, notes=notes, spec_yaml=spec.to_yaml())
