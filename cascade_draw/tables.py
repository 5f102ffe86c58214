"""Tables for people, shared by the pages and the HTML report (no Streamlit here): counts as
integers, changes for the worse in red, each stage against the list it received.

>>> import pandas as pd
>>> count_format([1813.0, 100.0]), count_format([99.5, 20.0])
('%d', '%.1f')
"""

from __future__ import annotations

import pandas as pd

from cascade_core.analysis.lift import metric_label, stage_changes
from cascade_core.metrics import MOSTLY_UNJUDGED_BELOW

WORSE_STYLE = "color: #D62728; font-weight: 600"   # the charts' "lost" red: a change for the worse


def flag_worse(df: pd.DataFrame, formats: dict[str, str], worse_when_negative: list[str], html: bool = False):
    """``df`` formatted (``formats``: column -> format string) with negative values of the named
    columns in the warning red: a quality change for the worse never looks neutral. ``html``: for
    a page written as HTML (the report), every cell escaped; ``st.dataframe`` shows text as text,
    where escaping would print "-&gt;" for "->"."""
    cols = [c for c in worse_when_negative if c in df.columns]
    base = _escaped(df) if html else df.style.format(na_rep="-")
    styler = base.format({c: f for c, f in formats.items() if c in df.columns}, na_rep="-",
                         escape="html" if html else None)
    return styler.map(lambda v: WORSE_STYLE if isinstance(v, (int, float)) and v < -1e-9 else "", subset=cols)


def flag_unjudged(styler, columns=("judged@10",), below: float = MOSTLY_UNJUDGED_BELOW):
    """``styler`` with the named judged@10 cells under ``below`` in the warning red: a top 10
    that is mostly unjudged makes every metric beside it a floor, and must never look neutral.

    >>> import pandas as pd
    >>> html = flag_unjudged(pd.DataFrame({"judged@10": [0.9, 0.2]}).style).to_html()
    >>> html.count("color: #D62728")
    1
    """
    cols = [c for c in columns if c in styler.data.columns]
    return styler.map(lambda v: WORSE_STYLE if isinstance(v, (int, float)) and v == v and v < below else "",
                      subset=cols)


def stage_changes_table(result):
    """What each rerank stage does to the list it receives: nDCG@10 and MRR@10 in and out."""
    rows = []
    for ch in stage_changes(result.run, result.evaluation, ("ndcg@10", "mrr@10")):
        row = {"stage": ch.stage, "combine": result.run.spec.stages[ch.index].fusion.label}
        for m, c in ch.changes.items():
            row[f"{metric_label(m)} in"] = c.before
            row[f"{metric_label(m)} out"] = c.after
            row[f"{metric_label(m)} change (points)"] = c.points
        row["Wilcoxon p (nDCG@10)"] = ch.changes["ndcg@10"].test.wilcoxon_p
        rows.append(row)
    return pd.DataFrame(rows).set_index("stage") if rows else None


def count_format(values) -> str:
    """A table column's number format for counts: whole numbers as integers ("1813", not "1813.0");
    means that are not whole (a per-query mean over short lists) keep one decimal."""
    vals = pd.Series(values, dtype=float).dropna()
    return "%d" if ((vals - vals.round()).abs() < 1e-9).all() else "%.1f"


def count_text(value) -> str:
    """One count as a person reads it: ``1,813`` for a whole number, ``10.4`` for a per-query mean
    (a column may hold both: a fixed stage's 100 above an adaptive stage's mean).

    >>> count_text(1813.0), count_text(10.43), count_text(float("nan"))
    ('1,813', '10.4', '-')
    """
    v = float(value)
    if v != v:
        return "-"
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def readable(df: pd.DataFrame):
    """``df`` as a person reads it (the HTML report): counts as integers with thousands separators,
    milliseconds to one decimal, changes in points signed, other numbers to three decimals,
    missing values as "-", and no 0, 1, 2... index column when the rows have no names."""
    formats = {}
    for col in df.columns:
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.isna().all() or df[col].dtype == bool:
            continue
        name = str(col)
        if "points" in name:
            formats[col] = "{:+.1f}"
        elif "ms" in name.split() or name.endswith("_ms") or " ms" in name:
            formats[col] = "{:.1f}"
        elif pd.api.types.is_integer_dtype(df[col]) or (
                ((vals.dropna() - vals.dropna().round()).abs() < 1e-9).all() and vals.abs().max() > 1):
            # a count, even when every value is 0 (a whole-number float column of 0s and 1s may be a metric)
            formats[col] = "{:,.0f}"
        else:
            formats[col] = "{:.3f}"
    styler = _escaped(df).format(formats, na_rep="-", escape="html")
    if isinstance(df.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    return styler


def _escaped(df: pd.DataFrame):
    """A Styler whose every cell and label is HTML-escaped: query texts, document titles and stage
    names come from users and datasets, and a report must never run them as markup."""
    return (df.style.format(escape="html", na_rep="-").format_index(escape="html", axis=0)
            .format_index(escape="html", axis=1))


def with_missing_said(df: pd.DataFrame, formats: dict[str, str], missing: str | dict[str, str] = "-") -> pd.DataFrame:
    """``df`` with the named columns written out as text: each value by its format, a missing one
    (None, NaN, <NA>) as ``missing`` ("-", or per column: "unjudged" for a grade nobody gave).
    A data grid draws a missing number as a grey "None" whatever a Styler asks, so the words must
    be in the data.

    >>> t = pd.DataFrame({"rank": pd.array([3, None], dtype="Int64"), "grade": pd.array([1, None], dtype="Int64")})
    >>> with_missing_said(t, {"rank": "{:d}", "grade": "{:d}"}, {"grade": "unjudged"}).values.tolist()
    [['3', '1'], ['-', 'unjudged']]
    """
    out = df.copy()
    for col, fmt in formats.items():
        if col not in out.columns:
            continue
        gap = missing.get(col, "-") if isinstance(missing, dict) else missing
        out[col] = [gap if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                    else fmt.format(int(v) if "d}" in fmt else v) for v in out[col].tolist()]
    return out
