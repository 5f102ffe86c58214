"""Styled tables that ``st.dataframe`` sends in a few milliseconds instead of tens.

``st.dataframe`` sends a pandas Styler as its display text and cell CSS. It reads them from the
Styler's ``_translate()``, where pandas builds a full HTML render model (one dict of a dozen keys
per cell, with its classes and attributes), and then writes each cell's text, one cell at a time,
into a copy of the table (``_use_display_values``): in pure Python, some 40 ms for the Evaluate
page's per-query table (300 rows by 11 columns) on this machine, the largest part of a slider
move. :func:`fast` returns the same Styler whose render model holds only what Streamlit reads
(each cell's id and display text, the cells' CSS grouped by rule, the table styles), built column
by column with the Styler's own formatters and styles, and carries the display text as whole
columns, which Streamlit's copy then takes column by column: the same bytes sent, the same text
and colours on the page (``tests/app/test_styled_tables.py`` compares the two on every table
kind the pages show, so that a Streamlit or pandas upgrade that changes either side fails there).

Anything this shortcut does not cover (hidden rows or columns, concatenated Stylers, a table large
enough for pandas to trim) takes pandas' and Streamlit's own path. For ``st.dataframe`` only: the
HTML report renders its Stylers with ``to_html``, untouched.

>>> import pandas as pd
>>> styler = fast(pd.DataFrame({"a": [0.5, -1.25]}).style.format("{:+.1f}"))
>>> [[cell["display_value"] for cell in row] for row in styler._translate(False, False)["body"]]
[['+0.5'], ['-1.2']]
"""

from __future__ import annotations

from enum import Enum
from types import MethodType

import pandas as pd
from pandas.io.formats.style import Styler
from pandas.io.formats.style_render import format_table_styles
from streamlit.elements.lib import pandas_styler_utils

SHOWN = "cascade-shown"   # in a render model from fast(): each column's display text, whole



def _sent_translate(self: Styler, sparse_index: bool, sparse_cols: bool, max_rows=None, max_cols=None,
                    blank="&nbsp;", dxs=None, trim=True) -> dict:
    """Styler._translate, reduced to what ``st.dataframe`` reads (see the module)."""
    data = self.data
    small = (data.size <= pd.get_option("styler.render.max_elements")
             and not pd.get_option("styler.render.max_rows") and not pd.get_option("styler.render.max_columns"))
    if dxs or self.concatenated or len(self.hidden_rows) or len(self.hidden_columns) or not small:
        return Styler._translate(self, sparse_index, sparse_cols, max_rows, max_cols, blank, dxs, trim)
    row, col = self.css["row"], self.css["col"]
    funcs = self._display_funcs
    default = funcs.default_factory()   # the format of a cell no .format() named
    # As pandas reads them (itertuples): Python scalars, which its default format tells apart.
    shown = []
    for c in range(data.shape[1]):
        values = data.iloc[:, c].tolist()
        shown.append([funcs.get((r, c), default)(v) for r, v in enumerate(values)])
    body = [[{"id": f"{row}{r}_{col}{c}", "display_value": shown[c][r]} for c in range(data.shape[1])]
            for r in range(data.shape[0])]
    # The cells' CSS, one rule per distinct style, its cells in pandas' order (row by row).
    rules: dict[tuple, list[str]] = {}
    for r, c in sorted(key for key, props in self.ctx.items() if props):
        rules.setdefault(tuple(self.ctx[r, c]), []).append(f"{row}{r}_{col}{c}")
    return {"uuid": self.uuid, "caption": self.caption, "head": [], "body": body, SHOWN: shown,
            "table_styles": format_table_styles(self.table_styles or []),
            "cellstyle": [{"props": list(p), "selectors": s} for p, s in rules.items()],
            "cellstyle_index": [], "cellstyle_columns": []}


def fast(styler: Styler) -> Styler:
    """``styler`` as ``st.dataframe`` shows it, sent in a few milliseconds (see the module).

    A copy that shares the styler's settings, still a Styler (Streamlit recognises one by its
    exact type), with the reduced render model; the styler itself is unchanged."""
    out = Styler.__new__(Styler)
    out.__dict__.update(styler.__dict__)
    out._translate = MethodType(_sent_translate, out)
    return out


_streamlit_display_values = pandas_styler_utils._use_display_values
_TEXT = pd.Series([0.5]).astype(str).dtype   # what astype(str) makes of a column (pandas 3: "str")


def _display_values(df: pd.DataFrame, styles) -> pd.DataFrame:
    """Streamlit's ``_use_display_values`` (the table as text, each cell's display text in its
    place), a column at a time for a render model from :func:`fast` (every cell is in it)."""
    shown = styles.get(SHOWN) if isinstance(styles, dict) else None
    if shown is None:
        return _streamlit_display_values(df, styles)
    # The frame Streamlit makes (df.astype(str), every cell then replaced), made from the text.
    out = pd.DataFrame({c: pd.array([str(v.value) if isinstance(v, Enum) else str(v) for v in values], dtype=_TEXT)
                        for c, values in enumerate(shown)}, index=df.index)
    out.columns = df.columns
    return out


pandas_styler_utils._use_display_values = _display_values
