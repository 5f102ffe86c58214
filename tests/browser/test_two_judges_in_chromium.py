"""Two visitors judging on a shared dashboard (``CASCADE_SHARE=1``), both without a name (both
"anonymous"), then one typing the other's: Undo by one never touches the other's judgments.

A judgment belongs to the browser session that made it (cascade_ui.judging); the name is a label.
Real server (``streamlit run app.py``), Debian's Chromium, the judgment log read back from the
data folder. Screenshot: ``test-artifacts/two-judges.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cascade_core.judgments import JudgmentStore
from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS
from tests.browser.test_sharing_in_chromium import TOKEN, server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]

PROGRESS = re.compile(r"^(\d+) of \d+ judged for this query; \d+ quer(y|ies) judged$")


def open_judge(browser, url, expect):
    """A visitor of their own (a browser context: cookies and session apart), signed in by the
    link, on the Judge page of the demo's cascade."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{url}/?token={TOKEN}")
    page.get_by_role("button", name="Run the demo").click()
    expect(page.get_by_text("Demo ready", exact=False).first).to_be_visible(timeout=600_000)
    page.get_by_role("link", name="Judge").click()
    expect(page.get_by_text(PROGRESS)).to_be_visible(timeout=180_000)
    return page


def press(page, key: str, expect) -> None:
    """A judging key on the page (focus off any text box first), once the rerun has drawn."""
    before = page.get_by_text(PROGRESS).inner_text()
    page.get_by_role("heading", name="Judge").click()
    page.keyboard.press(key)
    expect(page.get_by_text(PROGRESS)).not_to_have_text(before, timeout=60_000)


def judgments(home: Path) -> list:
    [log] = (home / "judgments").glob("*.jsonl")
    return JudgmentStore(log).history()


def test_undo_by_one_visitor_never_touches_anothers_judgments(tiny_beir, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with server(tmp_path, tiny_beir, "--server.address", "127.0.0.1", CASCADE_SHARE="1",
                CASCADE_TOKEN=TOKEN) as (url, _, _log), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        ana, bo = open_judge(browser, url, expect), open_judge(browser, url, expect)
        press(ana, "2", expect)
        press(ana, "0", expect)
        ana_docs = {j.doc for j in judgments(tmp_path / "home")}
        assert len(ana_docs) == 2 and {j.who for j in judgments(tmp_path / "home")} == {"anonymous"}

        # Bo (also "anonymous") presses Undo: nothing of his to take back; Ana's two stand.
        bo.get_by_role("button", name="Undo").click()
        expect(bo.get_by_text("Nothing to undo").first).to_be_visible(timeout=60_000)
        assert {j.doc for j in judgments(tmp_path / "home")} == ana_docs

        # He judges one, types Ana's name, and presses Undo twice: only his own goes.
        press(bo, "1", expect)
        mine = {j.doc for j in judgments(tmp_path / "home")} - ana_docs
        assert len(mine) == 1
        name = bo.get_by_label("Judge's name (saved with each judgment)")
        name.fill("anonymous")
        name.press("Enter")
        for _ in range(2):
            bo.get_by_role("button", name="Undo").click()
            bo.wait_for_timeout(1500)
        assert {j.doc for j in judgments(tmp_path / "home")} == ana_docs
        bo.screenshot(path=str(ARTIFACTS / "two-judges.png"), full_page=True)

        # Ana's own Undo takes back her last one, and only hers.
        ana.get_by_role("button", name="Undo").click()
        expect(ana.get_by_text("Undone:").first).to_be_visible(timeout=60_000)
        left = judgments(tmp_path / "home")
        assert len(left) == 1 and left[0].doc in ana_docs and left[0].grade == 2
        expect(ana.locator('[data-testid="stException"]')).to_have_count(0)
        expect(bo.locator('[data-testid="stException"]')).to_have_count(0)
        browser.close()
