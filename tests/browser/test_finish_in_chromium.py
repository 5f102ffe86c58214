"""The finish of every page (issue 28, part 4), in Chromium at 1280 and 1600 px with the network
off (every request outside the app's own server refused):

* no table is wider than its container; a data grid that scrolls sideways keeps its first column
  pinned (scrolled to the far right, column 1 is still drawn);
* no cell shows ``None``, ``nan``, ``NaN`` or ``<NA>``;
* no chart runs past the page's content;
* the browser console shows no error (an offline dashboard serves everything it uses);
* the Present page renders the demo with no warning box (screenshots in ``test-artifacts/``).
"""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS, demo_page

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                                   reason="Debian's chromium is not installed")]

# (link name, a text shown once the page has drawn)
PAGES = [("Present", "Caveats"), ("Data & index", "Data & index"), ("Build", "Rerank stages"),
         ("Flow", "Per stage"), ("Evaluate", "Metrics per stage"), ("Inspect", "Relevant documents lost, by stage"),
         ("Tune", "Where recall stops rising"), ("Compare & doctor", "Cascade doctor"),
         ("Experiments", "Saved experiments, compared"), ("Judge", "Judge"), ("Live", "Live run")]
# A missing value is drawn as a grey "None" on the canvas and read back as "" from the grid's
# accessible table: an empty cell fails too (a table says "-" or why, never nothing).
EMPTY = {"", "None", "nan", "NaN", "<NA>", "NaT"}

# One data grid: is it inside its container, does it scroll sideways, and which cell texts does it
# draw (the grid keeps an accessible table of the cells on screen only: it is scrolled into view first).
GRID = """(i) => { const e = document.querySelectorAll('[data-testid="stDataFrame"]')[i];
  const s = e.querySelector('.dvn-scroller'), box = e.getBoundingClientRect();
  const main = document.querySelector('[data-testid="stMainBlockContainer"]').getBoundingClientRect();
  return {right: box.right, limit: main.right, scrolls: s ? s.scrollWidth > s.clientWidth + 1 : false,
          cells: [...e.querySelectorAll('td[role="gridcell"]')].map(c => [c.textContent.trim(),
            e.querySelector('th[aria-colindex="' + c.getAttribute('aria-colindex') + '"]')?.textContent])}; }"""
SCROLL_RIGHT = """(i) => { const s = document.querySelectorAll('[data-testid="stDataFrame"]')[i]
  .querySelector('.dvn-scroller'); s.scrollLeft = s.scrollWidth; }"""
PINNED = """(i) => { const e = document.querySelectorAll('[data-testid="stDataFrame"]')[i];
  return {first: !!e.querySelector('th[aria-colindex="1"]'),
          cells: [...e.querySelectorAll('td[role="gridcell"]')].map(c => [c.textContent.trim(),
            e.querySelector('th[aria-colindex="' + c.getAttribute('aria-colindex') + '"]')?.textContent])}; }"""
WIDE = """() => { const main = document.querySelector('[data-testid="stMainBlockContainer"]').getBoundingClientRect();
  const out = [];
  for (const t of document.querySelectorAll('[data-testid="stMain"] table:not([role="grid"])')) {
    if (t.getBoundingClientRect().right > main.right + 1) out.push('table: ' + t.innerText.slice(0, 60)); }
  for (const p of document.querySelectorAll('.js-plotly-plot')) {
    if (p.getBoundingClientRect().right > main.right + 1) out.push('chart'); }
  return out; }"""


def check_page(page, name: str, seen: dict) -> list[str]:
    """What is wrong with the page on screen now, as lines (empty: nothing); ``seen`` counts the
    grids and cells read, so a check that found nothing to read cannot pass for one that looked."""
    problems = []
    closed = page.locator('[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) summary')
    for _ in range(20):   # the tables inside expanders too (each click re-draws: ask again each time)
        if not closed.count():
            break
        closed.first.click()
        page.wait_for_timeout(300)
    grids = page.locator('[data-testid="stDataFrame"]')
    for i in range(grids.count()):
        grids.nth(i).scroll_into_view_if_needed()
        page.wait_for_timeout(150)
        grid = page.evaluate(GRID, i)
        seen["grids"] += 1
        seen["cells"] += len(grid["cells"])
        seen["scrolling"] += grid["scrolls"]
        if grid["right"] > grid["limit"] + 1:
            problems.append(f"{name}: table {i} runs {grid['right'] - grid['limit']:.0f} px past its container")
        cells = grid["cells"]
        if grid["scrolls"]:
            page.evaluate(SCROLL_RIGHT, i)
            page.wait_for_timeout(300)
            pinned = page.evaluate(PINNED, i)
            if not pinned["first"]:
                problems.append(f"{name}: table {i} scrolls sideways without its first column pinned")
            cells = cells + pinned["cells"]
        if cells and all(text == "" for text, _ in cells):
            continue   # an empty table: the grid draws one blank row under its headers
        bad = sorted({f"{column}: {text!r}" for text, column in cells if text in EMPTY})
        if bad:
            problems.append(f"{name}: table {i} shows {bad}")
    problems += [f"{name}: {w} wider than the page" for w in page.evaluate(WIDE)]
    return problems


WIDTHS = (1600, 1280)


def test_every_page_fits_shows_no_empty_cell_and_logs_no_error_offline(app_server):
    """One browser, one demo, every page at each width (the viewport resized between rounds)."""
    from playwright.sync_api import expect, sync_playwright

    url, _ = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    errors, outside, problems = [], [], []
    seen = {w: {"grids": 0, "cells": 0, "scrolling": 0} for w in WIDTHS}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000})

        def route(r):   # the network is off: only the app's own server answers
            if r.request.url.startswith(url):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        context.on("weberror", lambda e: errors.append(str(e.error)))
        page = demo_page(context, url)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            for name, ready in PAGES:
                page.get_by_role("link", name=name, exact=True).click()
                expect(page.get_by_text(ready, exact=False).first).to_be_visible(timeout=180_000)
                page.wait_for_timeout(500)   # charts and grids draw after the text
                expect(page.locator('[data-testid="stException"]')).to_have_count(0)
                if name == "Present":
                    expect(page.locator('[data-testid="stAlertContentWarning"]')).to_have_count(0)
                    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
                    page.screenshot(path=str(ARTIFACTS / f"present-{width}.png"))
                problems += [f"{width} px, {line}" for line in check_page(page, name, seen[width])]
        browser.close()
    print(f"\nread: {seen}")
    for width in WIDTHS:   # it read the tables it checks
        assert seen[width]["grids"] >= 10 and seen[width]["cells"] >= 100, seen
    assert not problems, problems
    assert not outside, f"requests outside the app: {sorted(set(outside))[:5]}"
    assert not errors, errors[:5]
