"""Judging in the browser: the demo's cascade, the Judge page's holes (documents of the final top 10
the sample's qrels never graded), three judged with the keyboard alone, and Evaluate's nDCG@10
moves. Debian's Chromium through Playwright (never a downloaded browser); screenshots under
``test-artifacts/``: judge-1-holes.png, judge-2-after-keys.png, judge-3-evaluate-after.png.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS, demo_page

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]


def ndcg_card(page, expect) -> str:
    """The headline nDCG@10 on Evaluate, once drawn."""
    page.get_by_role("link", name="Evaluate").click()
    expect(page.get_by_text("Metrics per stage")).to_be_visible(timeout=120_000)
    card = page.locator('[data-testid="stMetric"]').filter(has_text="nDCG@10").first
    return card.locator('[data-testid="stMetricValue"]').inner_text()


def test_judge_holes_with_the_keyboard_and_evaluate_moves(app_server):
    from playwright.sync_api import expect, sync_playwright

    app_url = app_server[0]

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = demo_page(browser, app_url, 1400, 1100)
        before = ndcg_card(page, expect)

        page.get_by_role("link", name="Judge").click()
        expect(page.get_by_text(re.compile(r"judged for this query"))).to_be_visible(timeout=120_000)
        page.get_by_text("unjudged documents in the final top 10").click()
        progress = page.get_by_text(re.compile(r"^0 of \d+ judged for this query; 0 queries judged$"))
        expect(progress).to_be_visible(timeout=60_000)
        n = int(progress.inner_text().split()[2])
        assert n >= 3, f"only {n} holes in the first query's top 10"
        page.screenshot(path=str(ARTIFACTS / "judge-1-holes.png"), full_page=True)

        # Keys alone: 2 (relevant), 1 (partly), 0 (not). Focus the page, not a widget, first.
        for done, key in enumerate("210", start=1):
            page.get_by_role("heading", name="Judge").click()
            page.keyboard.press(key)
            expect(page.get_by_text(re.compile(rf"^{done} of {n} judged for this query; 1 query judged$"))) \
                .to_be_visible(timeout=60_000)
            # The switch of whose judgments count always shows its choice (its label once changed
            # with every judgment, and every other rerun showed it with nothing selected).
            switch = page.locator('[data-testid="stRadio"]').filter(has_text="The metrics on every page use")
            expect(switch.get_by_role("radio", checked=True)).to_have_count(1, timeout=30_000)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "judge-2-after-keys.png"), full_page=True)

        after = ndcg_card(page, expect)
        page.screenshot(path=str(ARTIFACTS / "judge-3-evaluate-after.png"), full_page=True)
        browser.close()
    # A hole judged relevant was counted not relevant before: the number moves.
    assert after != before, (before, after)
