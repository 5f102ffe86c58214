"""Plotly figures for the dashboard. They draw what cascade_core computed; they compute nothing.

Colours are fixed per step position (first pass, stage 1, ...) so a stage looks the same on
every page.

Every text from data (step and spec names, query ids, experiment names, labels) passes through
:func:`~cascade_draw.text.plain` where a function receives it, before it reaches a figure: Plotly
would draw ``<a href=...>``, ``<b>`` or ``<br>`` in it as markup, and fill in ``%{...}`` in a
hovertemplate. Lookups by name (cut-offs, measured times) use the names as given.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .text import plain

# No red or green among the steps: red and green mean "lost" and "kept" in every chart.
STEP_COLORS = ["#636EFA", "#FFA15A", "#AB63FA", "#17BECF", "#8C564B", "#E377C2"]
KEPT_COLOR = "#2CA02C"
LOST_COLOR = "#D62728"
BUDGET_COLOR = "#222222"
# Ways of combining on the tuner's chart: neither red nor green, and apart from the step colours.
COMBINE_COLORS = ["#1F77B4", "#BCBD22", "#9467BD", "#FF7F0E", "#17BECF", "#8C564B", "#E377C2"]
FINAL_COLOR = "#888888"


def step_color(i: int) -> str:
    return STEP_COLORS[i % len(STEP_COLORS)]


def row_color(i: int, name: str) -> str:
    """A table row's colour: its step's, or grey for the final cut (no scorer of its own)."""
    return FINAL_COLOR if name == "final" else step_color(i)


# Plotly's tool buttons, shown on hover, in a column down the right edge: laid out in a row they
# covered the right end of a long title in a half-width chart (Flow's funnel, Inspect's losses).
MODEBAR = {"orientation": "v"}


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=-0.2), modebar=MODEBAR)
    # Room for tick labels and axis titles inside the figure: plotly.js does not make it by itself
    # (Streamlit's theme did, so the dashboard looked right while the HTML report clipped them).
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _figure(data: list[dict], layout: dict, title: str, height: int = 380) -> go.Figure:
    """The figure :func:`_layout` makes of ``data`` (traces as dicts, ``type`` named) and ``layout``,
    built in one go: a Figure validates each trace and setting once, where ``add_trace`` and
    ``update_*`` calls validate and merge again at every call (five times the time; the charts a
    slider redraws are built on every move)."""
    merged = dict(layout)
    merged.update(title={"text": title}, height=height, margin=dict(l=10, r=10, t=50, b=10),
                  legend={**layout.get("legend", {}), "orientation": "h", "y": -0.2}, modebar=MODEBAR)
    for axis in ("xaxis", "yaxis"):
        merged[axis] = {**layout.get(axis, {}), "automargin": True}
    return go.Figure({"data": data, "layout": merged})


def _vline(x: float, line: dict) -> dict:
    """The shape ``fig.add_vline(x=x, line=line)`` adds: a line across the plot at ``x``."""
    return {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain", "line": line}


def candidate_funnel(flow: pd.DataFrame, per_query: bool = True) -> go.Figure:
    """Candidates kept at each step (first the corpus), with in -> out in the labels."""
    labels = ["corpus"] + [plain(s) for s in flow["step"]]
    values = [flow["candidates_in"].iloc[0]] + list(flow["kept"])
    text = [f"{values[0]:,.0f} documents"] + [
        f"{r.candidates_in:,.0f} in -> {r.kept:,.0f} kept" for r in flow.itertuples()]
    trace = dict(type="funnel", y=labels, x=values, text=text, textinfo="text",
                 marker=dict(color=["#BBBBBB"] + [row_color(i, n) for i, n in enumerate(flow["step"])]))
    layout = {"xaxis": {"title": {"text": "documents" + (" per query (mean)" if per_query else "")}}}
    return _figure([trace], layout, "Candidates through the cascade" + (" (mean per query)" if per_query else ""))


def relevant_sankey(flow: pd.DataFrame, whole_set: bool = True) -> go.Figure:
    """Judged-relevant documents: kept by each step (green links) or lost there (red).

    Node labels are short counts ("kept 322", "lost 14"); the step names stand above their
    columns, because Plotly puts a node's label beside it, where long labels of neighbouring
    columns run into each other.
    """
    steps = [plain(s) for s in flow["step"]]
    kept, lost = list(flow["relevant_kept"]), list(flow["relevant_lost"])
    total = flow["relevant_in"].iloc[0]
    n = len(steps)
    # Node labels stay empty: Plotly draws them beside the nodes, where neighbouring columns' labels
    # and the links run into each other ("kept 294" over "lost 14"). The counts go in the headings.
    labels = [""] * (1 + 2 * n)
    hover = [f"judged relevant: {total:,.0f}"] + [f"{s}: kept {v:,.0f}" for s, v in zip(steps, kept)] + [
        f"{s}: lost {v:,.0f}" for s, v in zip(steps, lost)]
    colors = ["#888888"] + [row_color(i, name) for i, name in enumerate(steps)] + [LOST_COLOR] * n
    # Fixed positions: step i's "kept" and "lost" nodes share column i+1 (left to itself, Plotly
    # pushes every sink to the last column, so the first pass's losses stood beside the last stage's).
    # y is a node's centre, from the top, in shares of the tallest column (the judged relevant).
    share = [v / total if total else 0.0 for v in kept], [v / total if total else 0.0 for v in lost]
    xs = [0.001] + [(i + 1) / n * 0.998 for i in range(n)] * 2
    ys = ([0.5] + [max(k / 2, 0.001) for k in share[0]]
          + [min(k + lv / 2 + 0.04, 0.999) for k, lv in zip(*share)])
    src, dst, val, col = [], [], [], []
    for i, r in enumerate(flow.itertuples()):
        origin = 0 if i == 0 else i  # node i is "kept by step i-1"
        if r.relevant_kept > 0:
            src.append(origin); dst.append(1 + i); val.append(r.relevant_kept); col.append("rgba(44,160,44,0.45)")
        if r.relevant_lost > 0:
            src.append(origin); dst.append(1 + n + i); val.append(r.relevant_lost)
            col.append("rgba(214,39,40,0.45)")
    trace = dict(type="sankey", arrangement="fixed",
                 node=dict(label=labels, color=colors, pad=18, thickness=16, x=xs, y=ys,
                           customdata=hover, hovertemplate="%{customdata}<extra></extra>"),
                 link=dict(source=src, target=dst, value=val, color=col))
    columns = [f"<b>judged relevant</b><br>{total:,.0f}"] + [
        f"<b>{name}</b><br><span style='color:{KEPT_COLOR}'>kept {k:,.0f}</span> · "
        f"<span style='color:{LOST_COLOR}'>lost {v:,.0f}</span>" for name, k, v in zip(steps, kept, lost)]
    annotations = [dict(x=i / max(len(columns) - 1, 1), y=1.13, xref="paper", yref="paper", text=text,
                        showarrow=False, align="center",
                        xanchor=["left", "center", "right"][min(i, 1) + (i == len(columns) - 1)])
                   for i, text in enumerate(columns)]
    scope = "totals" if whole_set else "this query"
    fig = _figure([trace], {"annotations": annotations},
                  f"Relevant documents kept and lost ({scope})")   # short: the chart has half a page
    fig.layout.margin.t = 105   # room for the column headings
    return fig


def latency_bars(latency, measured: dict | None = None) -> go.Figure:
    """Each step's predicted ms per query stacked against the budget line; the step that crosses
    the budget is marked. ``measured`` (step -> p50 ms) adds a measured bar beside it."""
    traces = []
    rows = ["predicted"] + (["measured p50"] if measured else [])
    for i, st in enumerate(latency.stages):
        ms = 0.0 if math.isnan(st.predicted_ms) else st.predicted_ms
        xs = [ms] + ([measured.get(st.name, 0.0)] if measured else [])
        shown = plain(st.name)
        name = shown + ("  (OVER BUDGET)" if st.over_budget and latency.first_over_budget == st.name else "")
        # Where each figure comes from (a user-set or scaled profile is named in the legend), its
        # spread, calls and what the tool distrusts about it (in the hover).
        source = getattr(st, "source", "measured here")
        if source != "measured here":
            name += f" [{plain(source)}]"
        hover = plain(_latency_hover(st))
        # The over-budget hatch is drawn faintly, with dark text on a white box: the label must stay
        # readable on it (a full-strength hatch hid it).
        traces.append(dict(type="bar", y=rows, x=xs, orientation="h", name=name,
                           marker=dict(color=step_color(i),
                                       pattern=dict(shape="x" if st.over_budget else "",
                                                    fgcolor="rgba(255,255,255,0.45)", size=8,
                                                    fillmode="overlay")),  # the step's colour under the hatch
                           text=[f"{x:.1f} ms" for x in xs], textposition="inside", insidetextanchor="middle",
                           textfont=dict(color="black" if st.over_budget else "white"),
                           hovertemplate=f"{shown}: %{{x:.1f}} ms<br>{hover}<extra></extra>"))
    # A stacked horizontal bar lists its legend bottom-up by default: keep the steps' order.
    layout = {"barmode": "stack", "uniformtext": dict(minsize=9, mode="hide"), "legend": {"traceorder": "normal"},
              "xaxis": {"title": {"text": "ms per query"}}, "yaxis": {"title": {"text": ""}}}
    if latency.budget_ms is not None:
        # The budget's label above the plot, not on the bars (it sat on a value label).
        layout["shapes"] = [_vline(latency.budget_ms, dict(color=BUDGET_COLOR, dash="dash", width=2))]
        layout["annotations"] = [dict(x=latency.budget_ms, y=1.0, yref="paper", yanchor="bottom",
                                      text=f"budget {latency.budget_ms:g} ms", showarrow=False,
                                      font=dict(color=BUDGET_COLOR))]
    verdict = ""
    if latency.within_budget is not None:
        over = plain(latency.first_over_budget)
        verdict = " - within budget" if latency.within_budget else f" - over budget from {over}"
    if not getattr(latency, "trusted", True):   # never a budget verdict the tool distrusts without saying so
        verdict += " (figures distrusted: see each step's hover)"
    return _figure(traces, layout, f"Latency budget: {latency.total_ms:.1f} ms predicted{verdict}", height=260)


def _latency_hover(st) -> str:
    """A step's latency in the hover: its source, p10-p90 spread, timed calls, and any doubt."""
    parts = [getattr(st, "source", "measured here")]
    lo, hi = getattr(st, "low_ms", float("nan")), getattr(st, "high_ms", float("nan"))
    if lo == lo and hi == hi and lo != hi:
        parts.append(f"p10-p90 {lo:.1f}-{hi:.1f} ms")
    if getattr(st, "n_calls", 0):
        parts.append(f"{st.n_calls} timed calls")
    note = getattr(st, "note", None)
    if note:
        parts.append(note)
    return ", ".join(parts)


def recall_funnel(per_step_recall: dict[str, np.ndarray], means: list[float]) -> go.Figure:
    """The share of judged-relevant documents still present after each step (the library's
    funnel, ``means``; the final cut included when the caller passes it), as bars a stakeholder
    reads at a glance, and beside each bar the spread over queries: the share of queries that
    still hold *every* judged-relevant document (a mean can hide a few queries losing all)."""
    names = list(per_step_recall)
    whole = []
    for name in names:
        vals = np.asarray(per_step_recall[name], dtype=float)
        vals = vals[~np.isnan(vals)]
        whole.append(float((vals >= 1 - 1e-9).mean()) if len(vals) else float("nan"))
    # The bars carry the steps' colours, so they stay out of the legend (one swatch could not match
    # them all); the axis says what they are. The value sits mid-bar, clear of the markers on top.
    labels = [plain(n) for n in names]
    traces = [
        dict(type="bar", x=labels, y=means, name="relevant documents kept (mean over queries)", showlegend=False,
             marker=dict(color=[row_color(i, n) for i, n in enumerate(names)]),
             text=[f"{m:.1%}" for m in means], textposition="inside", insidetextanchor="middle",
             textfont=dict(color="white", size=16),
             hovertemplate="%{x}: %{y:.1%} of the judged-relevant documents kept<extra></extra>"),
        dict(type="scatter", x=labels, y=whole, mode="markers+lines", name="queries keeping all of theirs",
             marker=dict(symbol="diamond", size=11, color=BUDGET_COLOR),
             line=dict(color=BUDGET_COLOR, dash="dot", width=1),
             hovertemplate="%{x}: %{y:.1%} of the queries keep every relevant document<extra></extra>")]
    layout = {"showlegend": True, "xaxis": {"title": {"text": "after step"}},
              "yaxis": {"title": {"text": "relevant kept (mean)"}, "tickformat": ".0%", "range": [0, 1.05]}}
    return _figure(traces, layout, "Recall funnel: judged-relevant documents still present after each step",
                   height=400)


def recall_curves(curves: pd.DataFrame, plateaus: dict[str, int], cutoffs: dict[str, int] | None = None) -> go.Figure:
    """recall@k per step (conditional on the steps before), its plateau and, given ``cutoffs``, the
    cut-offs as dotted lines. The dashboard leaves them out: a figure that does not change is not
    drawn again, and a step's own cut-off does not change its curve (a slider move costs the
    browser ~100 ms less); it says the cut-offs in text beside the chart instead."""
    traces = []
    for i, (name, df) in enumerate(curves.groupby("step", sort=False)):
        color, shown = step_color(i), plain(name)
        traces.append(dict(type="scatter", x=df["k"], y=df["recall"], mode="lines", name=shown, line=dict(color=color),
                           hovertemplate=f"{shown}: recall@%{{x}} = %{{y:.3f}}<extra></extra>"))
        k_plateau = plateaus.get(name)
        if k_plateau is not None:
            y = float(df.loc[df["k"] == k_plateau, "recall"].iloc[0])
            # Right of the point unless it lies in the right half of the log axis (clipped there).
            right_half = math.log10(max(k_plateau, 1)) > 0.5 * math.log10(max(float(df["k"].max()), 10))
            traces.append(dict(type="scatter", x=[k_plateau], y=[y], mode="markers+text",
                               marker=dict(size=11, color=color, symbol="diamond"), text=[f"plateau k={k_plateau}"],
                               textposition="bottom left" if right_half else "bottom right",
                               name=f"{shown}: recall stops rising", showlegend=False))
        if cutoffs and name in cutoffs:
            # A trace, not add_vline: on a log axis a shape's x is read as log10(x) (k=100 drew
            # at 10^100 and squashed every curve to the left edge).
            k = cutoffs[name]
            traces.append(dict(type="scatter", x=[k, k], y=[0, 1.0], mode="lines+text",
                               line=dict(color=color, dash="dot"), text=["", f"{shown} keeps {k}"],
                               textposition="top left", name=f"{shown}: cut-off", showlegend=False,
                               hovertemplate=f"{shown} keeps {k}<extra></extra>"))
    top = float(curves["k"].max()) if len(curves) else 10.0
    ticks = _log_ticks(1, top)
    layout = {"xaxis": {"title": {"text": "cut-off k (candidates kept)"}, "type": "log", "tickvals": ticks,
                        "ticktext": [f"{t:,}" for t in ticks]},
              "yaxis": {"title": {"text": "recall@k"}, "tickformat": ".0%", "range": [0, 1.08]}}
    return _figure(traces, layout, "Recall@k of each step over the candidates it receives", height=420)


def live_latency(steps, predicted: dict[str, float]) -> go.Figure:
    """Measured ms of a live run next to the predicted ms, per step: both the time the work ran
    (quiet-equivalent), the wall clock written on the measured bars."""
    names = [s.name for s in steps]
    labels = [plain(n) for n in names]
    fig = go.Figure([
        # One colour per series, so the legend's swatches match the bars (per-step colours did not).
        go.Bar(x=labels, y=[s.quiet_ms for s in steps], name="measured (this run; time the work ran)",
               marker_color="#444444", text=[f"{s.quiet_ms:.1f} ms (wall {s.ms:.1f} ms)" for s in steps],
               textposition="outside"),
        go.Bar(x=labels, y=[predicted.get(n, float("nan")) for n in names], name="predicted (cost model)",
               marker_color="#A6A6A6",
               text=[f"{predicted.get(n, float('nan')):.1f} ms" for n in names], textposition="outside"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="ms")
    return _layout(fig, "Live run: measured vs predicted latency per step")


def pareto_figure(table: pd.DataFrame, front: list[int], current: int | None, chosen: int | None,
                  budget_ms: float | None, current_name: str = "current spec", chosen_name: str = "recommended",
                  others_name: str | None = None,
                  title: str = "Quality vs latency of every combination (cut-offs and how stages combine)") -> go.Figure:
    """Every tuned combination (latency vs nDCG@10), coloured by how its last stage combines, the
    Pareto frontier, the first pass alone, the current spec, the recommended one, the budget line."""
    covered = table[table["covered"]]
    choice_cols = [c for c in table.columns if c == "pool_size" or c.startswith(("keep ", "cutoff ", "combine "))]
    if choice_cols:   # "100 / 20 / rrf k=60": each choice as text, "-" where a column does not apply
        parts = [covered[c].map(lambda v: "-" if pd.isna(v) else str(v)) for c in choice_cols]
        label = parts[0].str.cat(parts[1:], sep=" / ").map(plain) if len(parts) > 1 else parts[0].map(plain)
    else:
        label = covered[choice_cols].apply(lambda col: col.map(lambda v: "-" if pd.isna(v) else str(v))).agg(
            " / ".join, axis=1).map(plain)
    combine_cols = [c for c in table.columns if c.startswith("combine ")]
    way = covered[combine_cols[-1]] if combine_cols else pd.Series("cut-offs", index=covered.index)
    if others_name is not None:   # one legend entry for every alternative (a stakeholder's chart)
        way, combine_cols = pd.Series(others_name, index=covered.index), []
    traces = []
    for i, (name, rows) in enumerate(covered[~covered.get("first_pass_only", False)].groupby(way, sort=True)):
        trace = dict(type="scatter", x=rows["latency_ms"], y=rows["ndcg@10"], mode="markers", name=plain(name),
                     marker=dict(color=COMBINE_COLORS[i % len(COMBINE_COLORS)], size=7, opacity=0.75),
                     text=label[rows.index], legendgroup="ways",
                     hovertemplate=f"{plain(' / '.join(choice_cols))}: %{{text}}<br>%{{x:.1f}} ms, "
                                   "nDCG@10 %{y:.3f}<extra></extra>")
        if combine_cols:
            trace["legendgrouptitle"] = {"text": plain(combine_cols[-1])}
        traces.append(trace)
    first = covered[covered["first_pass_only"]] if "first_pass_only" in covered else covered.iloc[0:0]
    if len(first):
        traces.append(dict(type="scatter", x=first["latency_ms"], y=first["ndcg@10"], mode="markers+text",
                           name="first pass alone", text=["first pass alone"] * len(first),
                           textposition="top right",   # at the left edge: centred text would be cut
                           marker=dict(color=FINAL_COLOR, size=14, symbol="square"),
                           hovertemplate="first pass alone: %{x:.1f} ms, nDCG@10 %{y:.3f}<extra></extra>"))
    f = table.loc[front]
    traces.append(dict(type="scatter", x=f["latency_ms"], y=f["ndcg@10"], mode="lines", name="Pareto frontier",
                       line=dict(color=step_color(0), shape="hv", width=2)))
    for idx, name, color, symbol in ((current, current_name, BUDGET_COLOR, "x"),
                                     (chosen, chosen_name, KEPT_COLOR, "star")):
        if idx is not None and bool(table.loc[idx, "covered"]):
            traces.append(dict(type="scatter", x=[table.loc[idx, "latency_ms"]], y=[table.loc[idx, "ndcg@10"]],
                               mode="markers", name=name, marker=dict(color=color, size=16, symbol=symbol,
                                                                      line=dict(color="white", width=1))))
    layout: dict = {"xaxis": {"title": {"text": "predicted latency (ms per query)"}},
                    "yaxis": {"title": {"text": "nDCG@10"}}}
    top = float(covered["latency_ms"].max()) if len(covered) else float("nan")
    if budget_ms is not None and top == top and budget_ms > 3 * top:
        # A budget far beyond every point would squeeze them into a strip at the left: fit the axis to
        # the points and say where the budget is instead of drawing it.
        layout["xaxis"]["range"] = [0, top * 1.15]
        layout["annotations"] = [dict(x=1, y=1.0, xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                                      showarrow=False, text=f"budget {budget_ms:.0f} ms (off the right edge: every "
                                      "point fits)", font=dict(color=BUDGET_COLOR))]
    elif budget_ms is not None:
        layout["shapes"] = [_vline(budget_ms, dict(color=BUDGET_COLOR, dash="dash"))]
        layout["annotations"] = [dict(showarrow=False, text=f"budget {budget_ms:.0f} ms", x=budget_ms, xanchor="left",
                                      xref="x", y=1, yanchor="top", yref="y domain")]
    return _figure(traces, layout, title, height=460)


def lost_by_stage_bars(by_stage: pd.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """Judged-relevant documents lost at each step (a row per step, index = step name, columns
    ``lost``, ``share``, ``queries``), coloured like the step everywhere else; the final cut grey.
    ``labels``: words to show for some steps (the Present page's "keyword search")."""
    names = list(by_stage.index)
    colors = [row_color(i, n) for i, n in enumerate(names)]
    trace = dict(type="bar", x=[plain((labels or {}).get(n, n)) for n in names], y=by_stage["lost"],
                 marker=dict(color=colors),
                 text=[f"{n:,} ({s:.1%})" for n, s in zip(by_stage["lost"], by_stage["share"])],
                 textposition="outside", customdata=by_stage["queries"],
                 hovertemplate="%{x}: %{y} relevant lost, in %{customdata} queries<extra></extra>")
    # With nothing lost Plotly would centre the axis on 0 (-1..1): keep it from 0 up.
    yaxis = {"title": {"text": "judged-relevant documents lost"}, "rangemode": "tozero"}
    if not by_stage["lost"].max() > 0:
        yaxis["range"] = [0, 1]
    layout = {"xaxis": {"title": {"text": "lost at"}}, "yaxis": yaxis}
    return _figure([trace], layout, "Where the relevant documents are lost (all queries)", height=360)


def score_distributions(dists, scale: str = "raw") -> go.Figure:
    """Each step's scores, relevant (green) vs non-relevant (red), as a share of each group per bin
    (from :func:`cascade_core.doctor.score_distributions`): one panel per step, own x axis."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=max(len(dists), 1), subplot_titles=[plain(d.step) for d in dists])
    for i, d in enumerate(dists, start=1):
        centres = (d.edges[:-1] + d.edges[1:]) / 2
        width = float(d.edges[1] - d.edges[0])
        for label, share, count, color in (("non-relevant", d.non_relevant_share, len(d.non_relevant), LOST_COLOR),
                                           ("relevant", d.relevant_share, len(d.relevant), KEPT_COLOR)):
            fig.add_trace(go.Bar(x=centres, y=share, width=width, name=f"{label}", legendgroup=label,
                                 showlegend=i == 1, marker_color=color, opacity=0.55,
                                 hovertemplate=f"{plain(d.step)}, {label} (n={count}): %{{y:.1%}} near %{{x:.3g}}"
                                               "<extra></extra>"),
                          row=1, col=i)
        fig.update_xaxes(title_text=f"{plain(scale)} score", row=1, col=i)
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(tickformat=".0%")   # every panel in per cent, not only the first
    fig.update_yaxes(title_text="share of the group", row=1, col=1)
    return _layout(fig, f"Score distributions per step, judged relevant vs not ({plain(scale)})", height=380)


def paired_differences(diffs: pd.Series, metric: str, a: str = "A", b: str = "B") -> go.Figure:
    """Per-query ``metric`` difference A - B, sorted: wins above zero (green), losses below (red)."""
    d = diffs.sort_values()
    metric, a, b = plain(metric), plain(a), plain(b)
    colors = [KEPT_COLOR if v > 0 else LOST_COLOR if v < 0 else "#BBBBBB" for v in d]
    fig = go.Figure(go.Bar(x=list(range(1, len(d) + 1)), y=d.to_numpy(), marker_color=colors,
                           customdata=[plain(q) for q in d.index],
                           hovertemplate="query %{customdata}: %{y:+.3f}<extra></extra>"))
    fig.update_xaxes(title="queries, sorted by difference")
    fig.update_yaxes(title=f"{metric}: {a} - {b}")
    return _layout(fig, f"Per-query {metric}: {a} vs {b}", height=320)


def _log_ticks(lo: float, hi: float) -> list[int]:
    """Readable ticks for a log axis from ``lo`` to ``hi``: 1, 2, 5, 10, 20, 50, ... (plotly's own
    log ticks label the minor ones "2" and "5" without their decade).

    >>> _log_ticks(10, 1000), _log_ticks(12, 18)
    ([10, 20, 50, 100, 200, 500, 1000], [12, 18])
    """
    ticks = [t for t in (m * 10 ** e for e in range(0, 7) for m in (1, 2, 5)) if lo <= t <= hi]
    # A narrow range holds one round number or none: label its ends too.
    return ticks if len(ticks) >= 2 else sorted({int(lo), *ticks, int(hi)})


def depth_quality(curves: dict[str, pd.DataFrame], verdicts: dict | None = None) -> go.Figure:
    """Final nDCG@10 against each rerank stage's input depth (log x), the stage's input recall
    (dashed, right axis), its current depth and peak, and the "phantom" depths where quality falls
    while recall rises (red). ``curves``: stage name -> :func:`cascade_core.tuning.depth_curve`;
    ``verdicts``: stage name -> :func:`cascade_core.tuning.phantom_depths` (optional). Depths
    without stored scores are left out."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    verdicts = verdicts or {}
    depths, ndcgs, recalls = [], [], []
    for i, (name, curve) in enumerate(curves.items()):
        df = curve[curve["covered"].astype(bool)].sort_values("depth")
        if df.empty:
            continue
        # The step's colour on every page: its position among the steps (first pass 0).
        pos = int(df["step_index"].iloc[0]) if "step_index" in df else i + 1
        color = step_color(pos)
        x, y, r = df["depth"].to_numpy(), df["ndcg@10"].to_numpy(float), df["recall_in"].to_numpy(float)
        depths += list(x); ndcgs += list(y); recalls += list(r)
        v, name = verdicts.get(name), plain(name)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{name}: final nDCG@10",
                                 line=dict(color=color), marker=dict(size=6), customdata=r,
                                 hovertemplate=f"{name} handed %{{x}}: nDCG@10 %{{y:.3f}}, "
                                               "recall in %{customdata:.1%}<extra></extra>"), secondary_y=False)
        fig.add_trace(go.Scatter(x=x, y=r, mode="lines", name=f"{name}: recall into the stage",
                                 line=dict(color=color, dash="dash", width=1.5),
                                 hovertemplate=f"{name} handed %{{x}}: recall in %{{y:.1%}}<extra></extra>"),
                      secondary_y=True)
        phantom = [d for d in (v.phantom if v is not None else []) if d in set(x.tolist())]
        if phantom:
            at = df.set_index("depth").loc[phantom, "ndcg@10"]
            fig.add_trace(go.Scatter(x=phantom, y=at.to_numpy(), mode="markers",
                                     name=f"{name}: quality falls while recall rises",
                                     marker=dict(color=LOST_COLOR, size=11, symbol="circle-open", line=dict(width=2.5)),
                                     hovertemplate=f"{name} handed %{{x}}: nDCG@10 %{{y:.3f}}, below its peak while "
                                                   "recall rises<extra></extra>"), secondary_y=False)
        if v is not None and v.peak_depth is not None:
            fig.add_trace(go.Scatter(x=[v.peak_depth], y=[v.peak_ndcg], mode="markers+text",
                                     name=f"{name}: peak ({v.peak_depth})", text=[f"peak {v.peak_depth}"],
                                     textposition="top left" if v.peak_depth >= int(x.max()) else "top center",
                                     textfont=dict(color=color),
                                     marker=dict(color=color, size=14, symbol="star"),
                                     hovertemplate=f"{name}: peak nDCG@10 %{{y:.3f}} at %{{x}}<extra></extra>"),
                          secondary_y=False)
        current = df[df["current"].astype(bool)]
        if len(current):
            d = int(current["depth"].iloc[0])
            bad = d in phantom
            fig.add_trace(go.Scatter(x=[d], y=[float(current["ndcg@10"].iloc[0])], mode="markers+text",
                                     name=f"{name}: current depth ({d})", text=[f"now {d}"],
                                     # at the deepest depth a centred label runs into the right axis
                                     textposition="bottom left" if d >= int(x.max()) else "bottom center",
                                     textfont=dict(color=LOST_COLOR if bad else color),
                                     marker=dict(color=LOST_COLOR if bad else color, size=14, symbol="x"),
                                     hovertemplate=f"{name} now handed %{{x}}: nDCG@10 %{{y:.3f}}<extra></extra>"),
                          secondary_y=False)
    if depths:
        lo, hi = min(depths), max(depths)
        ticks = _log_ticks(lo, hi)
        fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{t:,}" for t in ticks],
                         range=[math.log10(lo) - 0.05, math.log10(hi) + 0.05])
        y_lo, y_hi = float(np.nanmin(ndcgs)), float(np.nanmax(ndcgs))
        pad = max(0.02, 0.12 * (y_hi - y_lo))     # room for the "peak" and "now" labels
        fig.update_yaxes(range=[max(0.0, y_lo - pad), min(1.0, y_hi + pad) + 0.01], secondary_y=False)
        r_lo, r_hi = float(np.nanmin(recalls)), float(np.nanmax(recalls))
        r_pad = max(0.02, 0.1 * (r_hi - r_lo))
        # Never past 100% (a tick read "101%"); a handful of ticks, not one every 2.5 points.
        fig.update_yaxes(range=[max(0.0, r_lo - r_pad), min(1.0, r_hi + r_pad)], nticks=6, secondary_y=True)
    fig.update_xaxes(title="input depth: candidates the stage is handed (log scale)")
    fig.update_yaxes(title="final nDCG@10 (lines)", tickformat=".2f", secondary_y=False)
    fig.update_yaxes(title="recall into the stage (dashed)", tickformat=".0%", showgrid=False, automargin=True,
                     secondary_y=True)
    fig = _layout(fig, "Final quality against each stage's input depth", height=460)
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return fig


def kept_count_histogram(counts: dict, summary: pd.DataFrame) -> go.Figure:
    """Per-query kept counts of each adaptive stage (``{stage: [Q] counts}``, from
    :func:`cascade_core.cascade.simulate.kept_counts`), one histogram each in its step colour,
    with the mean and p95 (``summary``: :func:`cascade_core.analysis.flow.kept_count_summary`) marked."""
    fig = go.Figure()
    names = list(counts)
    for i, name in enumerate(names):
        c = np.asarray(counts[name])
        row = summary.loc[name]
        fig.add_trace(go.Histogram(x=c, name=plain(f"{name}: {row['cut-off']}"),
                                   xbins=dict(size=1 if c.max() <= 60 else None),
                                   marker_color=step_color(i + 1), opacity=0.75 if len(names) > 1 else 0.9,
                                   hovertemplate="%{x} kept: %{y} queries<extra></extra>"))
        # labels right of their lines, p95's lower: at close values they would overlap
        for stat, dash, shift in (("mean", "solid", 0), ("p95", "dash", -18)):
            fig.add_vline(x=float(row[stat]), line=dict(color=BUDGET_COLOR, dash=dash, width=1.5),
                          annotation=dict(text=f"{stat} {row[stat]:.1f}", yshift=shift, bgcolor="rgba(255,255,255,0.8)"),
                          annotation_position="top right")
    fig.update_layout(barmode="overlay", showlegend=True)
    fig.update_xaxes(title="candidates kept (per query)", rangemode="tozero")
    fig.update_yaxes(title="queries")
    return _layout(fig, "Per-query cut-offs: how many candidates each query keeps", height=360)


def experiments_scatter(table: pd.DataFrame, baseline: str) -> go.Figure:
    """Saved experiments on the quality/latency plane (``table``: :class:`ManyComparison.table`):
    predicted mean ms per query (whisker to the predicted p95) against nDCG@10, the baseline a square."""
    fig = go.Figure()
    for i, (name, row) in enumerate(table.iterrows()):
        mean, p95 = row["predicted ms"], row["predicted p95 ms"]
        whisker = [max(p95 - mean, 0.0)] if p95 == p95 and mean == mean else None
        fig.add_trace(go.Scatter(
            x=[mean], y=[row["ndcg@10"]], mode="markers",
            name=plain(name) + (" (baseline)" if name == baseline else ""),
            error_x=dict(type="data", array=whisker, arrayminus=[0], visible=True,
                                                    thickness=1.2, width=4) if whisker else None,
            marker=dict(size=14 if name == baseline else 11, symbol="square" if name == baseline else "circle",
                        color=FINAL_COLOR if name == baseline else COMBINE_COLORS[i % len(COMBINE_COLORS)]),
            hovertemplate=f"{plain(name)}<br>{plain(row['cascade'])}<br>%{{x:.1f}} ms mean, p95 {p95:.1f} ms<br>"
                          "nDCG@10 %{y:.4f}<extra></extra>"))
    fig.update_xaxes(title="predicted latency (ms per query; whisker to p95)", rangemode="tozero")
    fig.update_yaxes(title="nDCG@10")
    fig = _layout(fig, "Quality vs latency of the saved experiments", height=420)
    # names in a legend under the plot: text labels beside the points collide and clip at the edges
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def wins_losses_bars(table: pd.DataFrame, baseline: str, metric: str) -> go.Figure:
    """Per experiment, the queries it wins, ties and loses against ``baseline`` on ``metric`` (the
    ``wins``/``ties``/``losses`` columns of :class:`ManyComparison.table`), Holm p in the label."""
    rows = table.drop(index=baseline)
    labels = [plain(n) + (f"  (Holm p {p:.2g})" if p == p else "") for n, p in zip(rows.index, rows["Holm p"])]
    fig = go.Figure()
    for col, color in (("wins", KEPT_COLOR), ("ties", "#BBBBBB"), ("losses", LOST_COLOR)):
        fig.add_trace(go.Bar(y=labels, x=rows[col].astype(float), name=col, orientation="h", marker_color=color,
                             text=rows[col].astype(int), textposition="inside",
                             hovertemplate=f"%{{y}}: %{{x}} queries {col}<extra></extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=f"queries ({plain(metric)})")   # the baseline is in the title: a long name squeezed the bars
    fig.update_yaxes(autorange="reversed")
    fig = _layout(fig, f"Per-query wins and losses against {plain(baseline)}", height=max(300, 150 + 60 * len(rows)))
    # the legend under the axis title, in reading order (the default place covers the title)
    fig.update_layout(legend=dict(orientation="h", y=-0.3, x=0, yanchor="top", traceorder="normal"))
    return fig


def cascade_diagram(boxes, final_k: int) -> go.Figure:
    """The cascade as a reader draws it on a whiteboard: one box per step (what it is, its model),
    the count it hands on written on the arrow to the next, then the final list.

    ``boxes``: :class:`cascade_core.present.StageBox` (role, kind, model, keeps, fused).

    >>> from cascade_core.present import StageBox
    >>> fig = cascade_diagram([StageBox("first pass", "bm25", "", "1,000", ""),
    ...                        StageBox("stage 1", "cross-encoder", "student", "20", "fused")], 10)
    >>> [a.text for a in fig.layout.annotations if "keeps" in a.text]
    ['keeps 1,000', 'keeps 20']
    """
    n = len(boxes) + 1                      # the final list is a box too
    width, gap = 1.0, 0.55
    fig = go.Figure()
    for i in range(n):
        x0 = i * (width + gap)
        last = i == len(boxes)
        color = FINAL_COLOR if last else step_color(i)
        fig.add_shape(type="rect", x0=x0, x1=x0 + width, y0=0, y1=1, line=dict(color=color, width=2),
                      fillcolor=color, opacity=0.15, layer="below")
        if last:
            title, lines = "results shown", [f"top {final_k}"]
        else:
            b = boxes[i]
            title = plain(getattr(b, "plain", b.kind))   # in everyday words, the kind's own name beneath
            lines = [f"<span style='color:#666666'>{plain(b.kind)}" + (f": {plain(b.model)}" if b.model else "")
                     + "</span>"]
            lines += ["+ earlier score"] if b.fused else []
        fig.add_annotation(x=x0 + width / 2, y=0.5, showarrow=False, align="center",
                           text=f"<b>{title}</b><br>" + "<br>".join(lines), font=dict(size=13))
        if not last:   # the arrow to the next box, with what this step keeps
            fig.add_annotation(x=x0 + width + gap - 0.02, y=0.5, ax=x0 + width + 0.02, ay=0.5, xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=2,
                               arrowcolor=BUDGET_COLOR, text="")
            fig.add_annotation(x=x0 + width + gap / 2, y=0.62, showarrow=False, yanchor="bottom",
                               text=f"keeps {plain(boxes[i].keeps)}", font=dict(size=12))
    fig.update_xaxes(visible=False, range=[-0.05, n * (width + gap) - gap + 0.05])
    fig.update_yaxes(visible=False, range=[-0.05, 1.05])
    fig.update_layout(height=170, margin=dict(l=5, r=5, t=5, b=5), showlegend=False,
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig
