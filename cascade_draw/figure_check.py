"""The known craft errors of a Plotly figure, found from its definition (no pixels): a test runs
every chart the dashboard draws through :func:`craft_problems`.

Each rule is a defect once seen in a screenshot of this dashboard:

* **float counts**: text labels such as ``1813.0`` or ``kept 294.0`` (counts are integers);
* **legend that misses or misleads**: a trace in the legend without a name, or a bar trace in the
  legend whose bars have several colours (one swatch cannot match them);
* **unreadable log axis**: a log axis without explicit tick values (Plotly labels the minor ticks
  "2" and "5" without their decade: "1 2 5 10 2 5 100");
* **shapes on a log axis**: a line shape on a log x axis (its x is read as log10(x));
* **labels outside the plot**: paper-positioned annotations far outside the figure;
* **overlapping annotations**: two annotations at (nearly) the same place;
* **clipped axis titles**: a cartesian axis with a title but no ``automargin`` (plotly.js does
  not make room for it by itself, and the HTML report clipped them).

>>> import plotly.graph_objects as go
>>> craft_problems(go.Figure(go.Bar(x=["a"], y=[3], text=["3.0 kept"])))
['trace 0 (unnamed): a count shown as a float: 3.0 kept']
"""

from __future__ import annotations

import re

import plotly.graph_objects as go

# A whole number with ".0": a count shown as a float, unless it is a measurement (ms, s, %).
FLOAT_COUNT = re.compile(r"(?<![\d.,])\d[\d,]*\.0(?![\d%])(?!\s*(?:ms|s)\b)")


def craft_problems(fig: go.Figure) -> list[str]:
    """Every craft error of ``fig`` in words (empty: none found)."""
    problems = []
    layout = fig.layout
    for i, trace in enumerate(fig.data):
        label = f"trace {i} ({trace.name or 'unnamed'})"
        for text in _texts(trace):
            if FLOAT_COUNT.search(text):
                problems.append(f"{label}: a count shown as a float: {text}")
        in_legend = getattr(trace, "showlegend", None)
        shown = in_legend is not False and layout.showlegend is not False
        if shown and len(fig.data) > 1 and not trace.name and trace.type not in ("sankey", "funnel"):
            problems.append(f"{label}: in the legend without a name")
        colors = getattr(getattr(trace, "marker", None), "color", None)
        if (trace.type == "bar" and shown and in_legend is not None and in_legend
                and isinstance(colors, (list, tuple)) and len(set(map(str, colors))) > 1):
            problems.append(f"{label}: a legend swatch for bars of several colours")
    for name in _axes(layout):
        axis = layout[name]
        if axis.type == "log" and axis.tickvals is None:
            problems.append(f"{name}: a log axis without explicit ticks (minor ones read '2 5' without a decade)")
        if axis.title.text and axis.automargin is None and not name.endswith(tuple("23456789")):
            problems.append(f"{name}: titled '{axis.title.text}' without automargin (clipped outside the dashboard)")
    if layout.xaxis.type == "log":
        for shape in layout.shapes or ():
            if shape.type == "line" and shape.xref in (None, "x") and shape.x0 == shape.x1:
                problems.append("a vertical line shape on a log x axis (drawn at 10^x)")
    notes = [a for a in (layout.annotations or ()) if a.xref == "paper" and a.yref == "paper"]
    for a in notes:
        if a.x is not None and not -0.1 <= a.x <= 1.1 or a.y is not None and not -0.35 <= a.y <= 1.35:
            problems.append(f"annotation {a.text!r} placed outside the figure ({a.x}, {a.y})")
    for j, a in enumerate(notes):
        for b in notes[j + 1:]:
            if a.x is not None and b.x is not None and abs(a.x - b.x) < 0.03 and abs((a.y or 0) - (b.y or 0)) < 0.03:
                problems.append(f"annotations {a.text!r} and {b.text!r} overlap")
    return problems


def _texts(trace) -> list[str]:
    text = getattr(trace, "text", None)
    if text is None:
        return []
    if isinstance(text, str):
        return [text]
    return [str(t) for t in text if t is not None]


def _axes(layout) -> list[str]:
    return [k for k in layout.to_plotly_json() if re.fullmatch(r"[xy]axis\d*", k)]
