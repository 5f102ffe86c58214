"""The Build page's distillation panel in Debian's Chromium: the estimate before any work, the
question before a long job, its progress in the background with Cancel, and Resume after a
refresh. Screenshots under ``test-artifacts/`` (looked at when the panel changes)."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS, demo_page

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                                   reason="Debian's chromium is not installed")]


def _fill(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(700)


def test_distillation_panel_in_chromium(app_server):
    from playwright.sync_api import expect, sync_playwright

    url, _ = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = demo_page(browser, url)
        page.goto(f"{url}/build")
        panel = page.get_by_text("Distil a cross-encoder from this cascade", exact=False)
        expect(panel).to_be_visible(timeout=60_000)
        panel.click()
        page.get_by_text("queries generated from documents").click()
        page.wait_for_timeout(700)
        _fill(page, "Queries to generate", 4)
        _fill(page, "Layers (of MiniLM's 6)", 1)
        _fill(page, "Tokens per pair (training)", 32)
        _fill(page, "Held-out queries (0: all)", 3)
        _fill(page, "Pairs to train on", 400000)

        page.get_by_role("button", name="Estimate the time").click()
        expect(page.get_by_text("Before any work, the estimate", exact=False)).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "distill-1-estimate.png"), full_page=True)

        page.get_by_role("button", name="Train the student").click()
        expect(page.get_by_text("This is a long job", exact=False)).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "distill-2-asks.png"), full_page=True)
        page.get_by_role("button", name=re.compile(r"^Yes, start it")).click()

        expect(page.get_by_text("Training a student in the background: training the student",
                                exact=False)).to_be_visible(timeout=180_000)
        page.screenshot(path=str(ARTIFACTS / "distill-3-running.png"), full_page=True)
        page.reload()   # a refresh: a new session finds the job still running
        panel = page.get_by_text("Distil a cross-encoder from this cascade", exact=False)
        expect(panel).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Training a student in the background", exact=False)).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(page.get_by_text("A training run was stopped", exact=False)).to_be_visible(timeout=120_000)
        expect(page.get_by_role("button", name="Resume")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "distill-4-stopped.png"), full_page=True)
        page.get_by_role("button", name="Discard this run").click()
        expect(page.get_by_text("cannot be resumed afterwards", exact=False)).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Yes, discard it").click()
        expect(page.get_by_text("The training run was discarded", exact=False)).to_be_visible(timeout=60_000)
        expect(page.get_by_text("A training run was stopped", exact=False)).to_have_count(0, timeout=60_000)
        browser.close()
