"""A one-file HTML report for stakeholders: flow, funnels, latency, tuning and doctor findings.

Plotly figures from :mod:`cascade_ui.charts`; plotly.js is inlined once, so the file opens
offline. Every text from a user or a dataset is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

import pandas as pd
import plotly.graph_objects as go

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}h1{margin-bottom:0}.muted{color:#666}.finding{border-left:4px solid #d62728;padding:4px 12px;
margin:8px 0;background:#fff5f5}.ok{border-left-color:#2ca02c;background:#f5fff5}
.info{border-left-color:#1f77b4;background:#f5f9ff}.warn{color:#d62728;font-weight:600}"""


def html_report(title: str, summary: dict[str, str], figures: list[go.Figure], tables: dict[str, pd.DataFrame],
                findings: list[tuple] | None = None, warnings: list[str] | None = None) -> str:
    """``summary``: label -> value lines; ``findings``: (title, text) or (title, text, severity)
    tuples, shown as callouts (red for a warning, blue for a note); ``warnings``: lines shown in
    red under the summary (a cascade worse than its first pass); ``tables``: DataFrames, or pandas
    Stylers where some cells must stand out (a change for the worse)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>cascade-explorer report, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p><ul>"]
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in summary.items()]
    parts.append("</ul>")
    for line in warnings or []:
        parts.append(f"<div class='finding'><span class='warn'>Warning:</span> {html.escape(line)}</div>")
    if findings is not None:
        parts.append("<h2>Doctor</h2>")
        if not findings:
            parts.append("<div class='finding ok'>No known failure mode detected.</div>")
        for head, text, *severity in findings:
            cls = "finding" if (severity or ["warning"])[0] == "warning" else "finding info"
            parts.append(f"<div class='{cls}'><b>{html.escape(head)}</b><br>{html.escape(text)}</div>")
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    for name, df in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        if isinstance(df, pd.DataFrame):
            parts.append(df.to_html(float_format=lambda v: f"{v:.3f}", escape=True))
        else:   # a Styler: its own formats and colours (it escapes cell text itself)
            parts.append(df.set_table_attributes("border='1'").to_html())
    parts.append("</body></html>")
    return "\n".join(parts)
