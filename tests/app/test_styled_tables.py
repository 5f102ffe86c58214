"""Issue 27: ``cascade_ui.styled.fast`` sends exactly what pandas' own Styler sends to
``st.dataframe`` (display text, cell CSS, table styles), on the table kinds the pages show."""

import numpy as np
import pandas as pd
import pytest
from streamlit.elements.lib.pandas_styler_utils import marshall_styler
from streamlit.proto.ArrowData_pb2 import ArrowData

from cascade_draw.tables import WORSE_STYLE, count_text, flag_unjudged, flag_worse
from cascade_ui.styled import fast


def sent(styler) -> ArrowData:
    proto = ArrowData()
    marshall_styler(proto, styler, "uuid")
    return proto


def per_query(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"query text": [f"query {i} [x](http://e.example) *b*" for i in range(n)],
                       "nDCG@10 first pass alone": rng.random(n), "change (points)": rng.normal(0, 10, n),
                       "ndcg@10": rng.random(n), "judged@10": rng.random(n), "wins": rng.integers(0, 9, n)},
                      index=pd.Index([f"q{i}" for i in range(n)], name="query"))
    df.loc["q3", "ndcg@10"] = np.nan
    df.loc["q5", "query text"] = None
    return df


TABLES = {
    "flag_worse": lambda: flag_worse(per_query(), {"ndcg@10": "{:.3f}", "change (points)": "{:+.1f}"},
                                     ["change (points)"]),
    "flag_worse, then unjudged": lambda: flag_unjudged(flag_worse(per_query(), {"ndcg@10": "{:.3f}"},
                                                                  ["change (points)"])),
    "default formats": lambda: per_query().style,
    "format and na_rep": lambda: per_query().style.format({"ndcg@10": "{:.3f}"}, na_rep="-"),
    "callable format, map": lambda: pd.DataFrame({"kept": [1813.0, 10.4, np.nan], "x": [-1.0, 0.0, 2.0]},
                                                 index=["BM25", "MiniLM", "final"]).style
    .format({"kept": count_text}).map(lambda v: WORSE_STYLE if v < 0 else "", subset=["x"]),
    "table styles and two rules": lambda: per_query(5).style.set_table_styles([{"selector": "th",
                                                                               "props": [("color", "red")]}])
    .map(lambda v: "color: blue" if isinstance(v, float) and v > 0.5 else "font-weight: 600",
         subset=["ndcg@10", "judged@10"]),
    "empty": lambda: pd.DataFrame({"a": []}).style,
}


@pytest.mark.parametrize("name", TABLES)
def test_sends_what_pandas_sends(name):
    styler = TABLES[name]()
    want, got = sent(styler), sent(fast(styler))
    assert got.styler.display_values == want.styler.display_values
    assert got.styler.styles == want.styler.styles
    assert (got.styler.uuid, got.styler.caption) == (want.styler.uuid, want.styler.caption)


def test_hidden_rows_take_pandas_path():
    styler = per_query(6).style.format({"ndcg@10": "{:.3f}"}).hide(["q1", "q2"])
    assert sent(fast(styler)).styler == sent(styler).styler


def test_the_styler_itself_is_unchanged():
    styler = per_query(3).style
    fast(styler)
    assert "_translate" not in vars(styler) and "<table" in styler.to_html()
