"""Issue 24 in what Plotly draws: every chart of cascade_draw and the HTML report, built from stage,
spec, query and experiment names that are HTML (a link to evil.example, bold, a line break, red
text, ``%{...}`` placeholders, ``&lt;``, ``</script>``), opened in Debian's Chromium (Playwright;
never a downloaded browser) from a file:// URL with plotly.js inlined.

Checked: no link and no element pointing at evil.example; no bold, red or broken line made from a
name; each name's characters shown as typed in the SVG text (tick labels, legend, titles,
annotations) and in a hover label; no dialog (the ``<script>`` in a name never runs); and no
request leaves the file. Screenshots go to ``test-artifacts/hostile-plotly-*.png``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import plotly.io as pio
import pytest

from cascade_draw.text import plain
from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS
from tests.draw import test_hostile_text_in_report as report_case
from tests.draw.test_hostile_text_in_charts import LINK, SPEC_NAME, STAGE_A, STAGE_B, figures, hostile_case, qid

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]

# What the names would become if Plotly read them as HTML. Plotly writes <a> as an SVG link, <b> as a
# bold tspan, a colour as a tspan's fill, and <br> as a new tspan.line. (It keeps each text as it
# was given, escaped, in a data-unformatted attribute: not a link, nor anything a browser fetches.)
PAGE_STATE = """() => ({
  evil: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.value.includes('evil.example')
          && a.name !== 'data-unformatted')).map(e => e.outerHTML.slice(0, 200)),
  links: document.querySelectorAll('svg a').length,
  bold: [...document.querySelectorAll('svg tspan')].filter(t => /bold/.test(t.getAttribute('style') || '')
          && t.textContent === 'bold').length,
  red: [...document.querySelectorAll('svg [style]')].filter(t => /fill:\\s*red/.test(t.getAttribute('style'))).length,
  broken: [...document.querySelectorAll('svg tspan.line')].filter(t => t.textContent.startsWith('break')).length,
  texts: [...document.querySelectorAll('svg text')].map(t => t.textContent),
  plots: [...document.querySelectorAll('.js-plotly-plot')].filter(d => d._fullLayout).length,
})"""


def opened(page, url: str, plots: int) -> dict:
    """The page at ``url`` once its ``plots`` figures are drawn, and what its SVG holds."""
    page.goto(url)
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {plots}",
                           timeout=60_000)
    state = page.evaluate(PAGE_STATE)
    assert state["plots"] == plots
    return state


def assert_plain(state: dict, where: str) -> None:
    assert state["evil"] == [], where
    assert (state["links"], state["bold"], state["red"], state["broken"]) == (0, 0, 0, 0), where


def hover_text(page, div: str, trace: int, point: int, starts: str) -> str:
    """The hover label Plotly draws for one point (as a visitor's mouse would make it), once it
    starts with ``starts`` (Plotly throttles hovers: the previous label may still be up)."""
    page.evaluate(f"Plotly.Fx.hover(document.getElementById('{div}'), [{{curveNumber: {trace}, pointNumber: {point}}}])")
    page.wait_for_function("([div, starts]) => [...document.querySelectorAll(`#${div} .hovertext`)]"
                           ".some(h => h.textContent.startsWith(starts))", arg=[div, starts], timeout=10_000)
    return page.locator(f"#{div} .hovertext").first.text_content()


def local(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]


@contextmanager
def watched_page():
    """A Chromium page whose requests and dialogs are recorded; yields (page, requests, dialogs),
    and after the block checks that no dialog opened and no request left the file."""
    from playwright.sync_api import sync_playwright

    requests, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield page, requests, dialogs
        browser.close()
    assert dialogs == []
    assert local(requests) == []


def test_every_chart_shows_hostile_names_as_typed(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    drawn = figures(hostile_case())
    # plotly.js once (the plotly package's own copy, inlined), then each figure in its own div
    parts = [pio.to_html(fig, include_plotlyjs=i == 0, full_html=False, div_id=f"chart-{i}")
             for i, fig in enumerate(drawn.values())]
    page_file = tmp_path / "charts.html"
    page_file.write_text("<!doctype html><html><head><meta charset='utf-8'></head><body>"
                         + "".join(parts) + "</body></html>", encoding="utf-8")
    names = list(drawn)
    with watched_page() as (page, requests, dialogs):
        state = opened(page, page_file.as_uri(), len(drawn))
        assert_plain(state, "charts")
        shown = "\n".join(state["texts"])
        # tick labels, legend entries, titles and annotations show the names' characters as typed:
        # "&lt;" as those four characters, "<" as one, so the two stages stay two
        for text in (STAGE_A, STAGE_B, LINK, SPEC_NAME, "line<br>break", "</script>"):
            assert text in shown, text
        latency = f"chart-{names.index('latency bars')}"
        trace = page.evaluate(f"document.getElementById('{latency}').data.findIndex(t => t.name.startsWith("
                              f"{plain(STAGE_A)!r}))")
        hover = hover_text(page, latency, trace, 0, f"{STAGE_A}: ")     # %{meta} shown, not filled in
        assert " ms" in hover, hover
        paired = f"chart-{names.index('paired differences')}"
        ids = page.evaluate(f"document.getElementById('{paired}').data[0].customdata")
        for query in (qid(3), qid(4)):     # "pct %{x} here q3", "x &lt; y q4": in a hover, as typed
            hover_text(page, paired, 0, ids.index(plain(query)), f"query {query}: ")
        assert_plain(page.evaluate(PAGE_STATE), "charts, hovered")
        page.screenshot(path=str(ARTIFACTS / "hostile-plotly-charts.png"), full_page=True)


def test_the_html_report_shows_hostile_names_as_typed(tiny_beir, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    report = tmp_path / "report.html"
    report.write_text(report_case.hostile_report(tiny_beir, tmp_path), encoding="utf-8")
    with watched_page() as (page, requests, dialogs):
        state = opened(page, report.as_uri(), 6)
        assert_plain(state, "report")
        svg = "\n".join(state["texts"])
        body = page.locator("body").inner_text()
        for stage in (report_case.STAGE_A, report_case.STAGE_B):
            assert stage in svg and stage in body, stage
        assert f"name: {report_case.SPEC_NAME}" in body
        assert page.locator("script").count() == 7       # the plotly loader and six figures: none from a name
        page.screenshot(path=str(ARTIFACTS / "hostile-plotly-report.png"), full_page=True)
