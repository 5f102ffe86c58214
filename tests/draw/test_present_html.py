"""The Present story as one HTML file: every text from data escaped, every panel in order, one
printed sheet each, nothing fetched (``cascade report --present``; the real run is in tests/cli)."""

import re

import pandas as pd

from cascade_core.present import Caveat, LostExample, StageBox, Story
from cascade_draw.present import present_report

LINK = '<a href="https://evil.example/x">click</a>'


def hostile_story() -> Story:
    lost = pd.DataFrame({"lost": [3, 1], "share": [0.3, 0.1], "queries": [2, 1]}, index=["first pass", "final"])
    return Story(title=f"{LINK} cascade", dataset="<b>data</b>", queries=12,
                 stages=[StageBox("first pass", "bm25", "", "100", ""),
                         StageBox("stage 1", "cross-encoder", "<script>alert(1)</script>", "20", "fused")],
                 final_k=10, change=None, others=[], p50_ms=12.0, p95_ms=30.0, first_pass_ms=0.4, budget_ms=20.0,
                 within_budget=True, usd_per_1k=0.0, cost_basis="user-set: <i>my GPU</i>", frontier=None,
                 lost=lost, step_words={"first pass": "keyword search", "final": "below the top 10"},
                 lost_example=LostExample("q1", f"why {LINK}?", "d1", "<img src=x onerror=alert(1)>", "keyword search",
                                          12, 10),
                 relevant_total=10, relevant_final=6, caveats=[Caveat(f"note {LINK}", "Flow")])


def test_present_html_escapes_every_text_and_prints_one_panel_a_sheet():
    html = present_report(hostile_story())
    assert LINK not in html and "&lt;a href=" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>data</b>" not in html
    heads = re.findall(r"<h2>(.*?)</h2>", html)
    assert heads == ["1. The cascade", "2. What it buys", "3. What it costs", "5. What it still loses", "Caveats"]
    # the budget said once, the tail beside it: p95 30 ms over a 20 ms budget met on the mean
    assert "within the budget on average; 1 query in 20 takes longer" in html
    assert "break-after:page" in html and "<script src=" not in html
