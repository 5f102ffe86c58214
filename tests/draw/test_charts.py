"""Chart builders: what a figure shows, checked on its data (not on pixels)."""

import pandas as pd

from cascade_draw import charts


def test_recall_curve_cut_offs_sit_at_k_on_the_log_axis():
    """A cut-off is a trace at x=k: a shape (add_vline) on a log axis is placed at 10^k."""
    curves = pd.DataFrame({"step": ["first pass"] * 4 + ["bi-encoder"] * 3,
                           "k": [1, 10, 100, 1000, 1, 10, 100], "recall": [.2, .6, .9, .95, .3, .7, .9]})
    fig = charts.recall_curves(curves, {"first pass": 100, "bi-encoder": 10}, {"first pass": 100, "bi-encoder": 20})
    assert not fig.layout.shapes and fig.layout.xaxis.type == "log"
    cut = {t.name: list(t.x) for t in fig.data if t.name.endswith(": cut-off")}
    assert cut == {"first pass: cut-off": [100, 100], "bi-encoder: cut-off": [20, 20]}
    assert list(fig.layout.yaxis.range) == [0, 1.08]


def test_depth_quality_marks_peak_current_and_phantom_depths_on_a_readable_log_axis():
    from cascade_core.tuning import phantom_depths

    curve = pd.DataFrame({"stage": "ce", "step_index": 1, "depth": [10, 20, 50, 100, 200, 500, 1000],
                          "ndcg@10": [.60, .66, .65, .62, .61, None, None],
                          "recall_in": [.5, .6, .7, .8, .9, None, None],
                          "covered": [True] * 5 + [False] * 2,
                          "current": [False, False, False, True, False, False, False]})
    verdict = phantom_depths(curve)
    assert verdict.phantom == [50, 100, 200] and verdict.peak_depth == 20
    fig = charts.depth_quality({"ce": curve}, {"ce": verdict})
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"ce: final nDCG@10", "ce: recall into the stage", "ce: peak (20)",
                            "ce: current depth (100)", "ce: quality falls while recall rises"}
    line = by_name["ce: final nDCG@10"]
    assert list(line.x) == [10, 20, 50, 100, 200]                       # depths without scores left out
    assert line.line.color == charts.step_color(1)
    recall = by_name["ce: recall into the stage"]
    assert recall.yaxis == "y2" and recall.line.dash == "dash" and list(recall.y) == [.5, .6, .7, .8, .9]
    bad = by_name["ce: quality falls while recall rises"]
    assert list(bad.x) == [50, 100, 200] and bad.marker.line.width and bad.marker.color == charts.LOST_COLOR
    assert list(by_name["ce: peak (20)"].x) == [20]
    now = by_name["ce: current depth (100)"]
    assert list(now.x) == [100] and now.marker.color == charts.LOST_COLOR   # the current depth is a phantom
    # log x with decade-and-a-half ticks (not plotly's bare "2" and "5"), no shapes (they misplace on log axes)
    assert fig.layout.xaxis.type == "log" and not fig.layout.shapes
    assert list(fig.layout.xaxis.tickvals) == [10, 20, 50, 100, 200]
    assert list(fig.layout.xaxis.ticktext) == ["10", "20", "50", "100", "200"]
    # y ranges follow the data, not a fixed 0..1
    lo, hi = fig.layout.yaxis.range
    assert 0.4 < lo < .60 and .66 < hi < .8
    assert fig.layout.yaxis.title.text and fig.layout.yaxis2.title.text and fig.layout.xaxis.title.text
    assert fig.layout.yaxis2.tickformat == ".0%"
