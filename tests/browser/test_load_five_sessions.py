"""A load test: five browser sessions on one dashboard move their cut-off sliders at once.

Every session must end on its own settings (sessions never see each other's), no page may show
an exception, and the server's peak memory is recorded (test-artifacts/load-test.json) and kept
under a generous bound. Bounded in time: 3 s of slider moves after the demo (CASCADE_LOAD_SECONDS;
each press queues a rerun, so 20 s of pressing kept the server busy for minutes: set it higher
for a longer soak).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]

SESSIONS = 5
SECONDS = int(os.environ.get("CASCADE_LOAD_SECONDS", "3"))   # how long every session keeps moving
MAX_SERVER_MB = 6000   # the demo's server peaks near 1.3 GB on the full sample; this only catches a leak


def _server_peak_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_idle(page, settle_s: float = 0.5) -> None:
    """Until the page's rerun has finished (Streamlit's "running" widget gone), then a moment more."""
    from playwright.sync_api import expect

    time.sleep(settle_s)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=300_000)


def test_five_sessions_move_sliders_at_once(app_server):
    from playwright.sync_api import expect, sync_playwright

    url, pid = app_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 900}).new_page() for _ in range(SESSIONS)]

        def open_flow(page):
            expect(page.get_by_text("Demo ready", exact=False).first).to_be_visible(timeout=600_000)
            page.get_by_role("link", name="Flow").click()

        first, others = pages[0], pages[1:]
        first.goto(url)                      # the first computes the demo's scores ...
        first.get_by_role("button", name="Run the demo").click()
        open_flow(first)
        for page in others:                  # ... the others find them stored, all at once
            page.goto(url)
            page.get_by_role("button", name="Run the demo").click()
        for page in others:
            open_flow(page)
        for page in pages:
            expect(page.get_by_text("in -> 20 kept").first).to_be_visible(timeout=120_000)
        sliders = [pg.locator('[data-testid="stSidebar"] input[type="range"]').nth(1) for pg in pages]
        moves, start = 0, time.monotonic()
        while time.monotonic() - start < SECONDS:   # every session keeps moving: down, then up, ...
            for i, (page, slider) in enumerate(zip(pages, sliders)):
                page.bring_to_front()
                slider.focus()
                slider.press("ArrowLeft" if (moves // SESSIONS) % 8 < 4 else "ArrowRight")
                moves += 1
        targets = [20 - (i + 1) for i in range(SESSIONS)]              # each ends on its own: 19, 18, 17, 16, 15
        for _ in range(10):   # every session pressed to its target at once; a press during a rerun may be dropped:
            behind = []       # so when all are idle, read each again and press what is missing
            for page in pages:
                _wait_idle(page)
            for page, slider, target in zip(pages, sliders, targets):
                page.bring_to_front()
                now = int(slider.get_attribute("aria-valuenow") or slider.input_value())
                if now != target:
                    slider.focus()
                    for _ in range(abs(target - now)):
                        slider.press("ArrowRight" if now < target else "ArrowLeft")
                    behind.append(page)
            if not behind:
                break
        for page, slider, target in zip(pages, sliders, targets):   # each session shows its own cut-off
            page.bring_to_front()
            expect(page.get_by_text(f"in -> {target} kept").first).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        browser.close()
    peak = _server_peak_mb(pid)
    report = {"sessions": SESSIONS, "seconds": SECONDS, "slider_moves": moves, "server_peak_mb": round(peak)}
    (ARTIFACTS / "load-test.json").write_text(json.dumps(report, indent=2))
    print(f"\nload test: {report}")
    assert peak < MAX_SERVER_MB
