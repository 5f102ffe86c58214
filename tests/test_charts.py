"""Chart builders: what a figure shows, checked on its data (not on pixels)."""

import pandas as pd

from cascade_ui import charts


def test_recall_curve_cut_offs_sit_at_k_on_the_log_axis():
    """A cut-off is a trace at x=k: a shape (add_vline) on a log axis is placed at 10^k."""
    curves = pd.DataFrame({"step": ["first pass"] * 4 + ["bi-encoder"] * 3,
                           "k": [1, 10, 100, 1000, 1, 10, 100], "recall": [.2, .6, .9, .95, .3, .7, .9]})
    fig = charts.recall_curves(curves, {"first pass": 100, "bi-encoder": 10}, {"first pass": 100, "bi-encoder": 20})
    assert not fig.layout.shapes and fig.layout.xaxis.type == "log"
    cut = {t.name: list(t.x) for t in fig.data if t.name.endswith(": cut-off")}
    assert cut == {"first pass: cut-off": [100, 100], "bi-encoder: cut-off": [20, 20]}
    assert list(fig.layout.yaxis.range) == [0, 1.08]
