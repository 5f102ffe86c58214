"""Issue 24, point 4, in the real dashboard: a crafted link, hostile ids, titles, stage and spec names
and a typed query show as typed on every page, and nothing reaches another host.

``streamlit run app.py`` on 127.0.0.1 with tests/hostile.py's dataset as its sample, opened in
Debian's Chromium (Playwright; never a downloaded browser) through a ``?view=`` link whose label
is a fake "Session expired" link, an image from elsewhere, coloured text and LaTeX. On each page:
the visible text holds the hostile strings literally; no link or image points at evil.example; no
coloured text, LaTeX or bold made from them; and, over the whole visit, no request leaves 127.0.0.1
(the page icon included: a file of ours, not Google's font server).
Screenshots go to ``test-artifacts/hostile-*.png``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cascade_core.cascade import CascadeSpec
from cascade_ui import view_link
from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS
from tests.browser.test_sharing_in_chromium import server
from tests.hostile import EVIL, HOSTILE, LABEL, QUERY, SPEC, write_hostile_beir

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]

STAGES = [s["name"] for s in SPEC["stages"]]
# (link in the sidebar, text that shows once the page is drawn, texts it must show as typed)
PAGES = [
    ("Data & index", "Vector index", [f"Validation report: {LABEL}"]),
    ("Build", "Save and load", [CascadeSpec.from_dict(SPEC).describe()]),
    ("Judge", "Judgments, conflicts, export", ["Document "]),
    ("Flow", "Per stage", [f"{stage} keeps" for stage in STAGES]),
    ("Evaluate", "Metrics per stage", [f"{stage} keeps" for stage in STAGES]),
    ("Inspect", "Relevant documents lost, by stage", ["Dropped: "]),
    ("Tune", "Where recall stops rising", [f"{stage} keeps" for stage in STAGES]),
    ("Compare & doctor", "Cascade doctor", [f"{stage} keeps" for stage in STAGES]),
    ("Experiments", "Save the current cascade", []),
    ("Live", "Runs the real first pass", []),
]
# What the hostile strings would become as Markdown: links and images to evil.example, coloured
# text (:red[...]), LaTeX ($...$), bold (**...**).
MARKUP = {"link": f'a[href*="{EVIL}"]', "image": f'img[src*="{EVIL}"]', "coloured text": ".stMarkdownColoredText",
          "LaTeX": ".katex", "bold": 'strong:text-is("bold")'}


def settled(page, ready: str) -> None:
    """Wait for ``ready`` on the page, then for the script run to end (what follows it is drawn)."""
    from playwright.sync_api import expect

    expect(page.get_by_text(ready).first).to_be_visible(timeout=120_000)
    page.wait_for_function("document.querySelector('[data-test-script-state]')"
                           "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=120_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def assert_no_markup(page, where: str) -> None:
    for what, selector in MARKUP.items():
        assert page.locator(selector).count() == 0, f"{where}: {what} ({selector})"


def test_hostile_text_shows_as_typed_on_every_page(tiny_beir, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    data = write_hostile_beir(tmp_path / "hostile", tiny_beir)
    link = view_link.encode({"path": str(data), "split": "test", "fmt": "auto", "label": LABEL}, SPEC, 50.0)
    seen_text, requests = [], []
    with server(tmp_path, data) as (url, port, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2600})   # a screenshot holds a whole page
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{url}/?{view_link.PARAM}={link}")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Dataset:")).to_be_visible(timeout=120_000)
        for name, ready, expected in PAGES:
            page.get_by_role("link", name=name, exact=True).click()
            settled(page, ready)
            if name == "Live":
                page.get_by_label("Query", exact=True).fill(QUERY)
                page.get_by_role("button", name="Run", exact=True).click()
                settled(page, "Total measured")
                expected = [f"Query: {QUERY}.", *(f"{stage} (" for stage in STAGES)]
            shown = page.locator("body").inner_text()
            assert f"Dataset: {LABEL}" in sidebar.inner_text(), name
            for text in expected:
                assert text in shown, (name, text)
            assert_no_markup(page, name)
            page.screenshot(path=str(ARTIFACTS / f"hostile-{name.split()[0].lower()}.png"), full_page=True)
            seen_text.append(shown)
        browser.close()
    everything = "\n".join(seen_text)
    for text in HOSTILE:   # each one somewhere, as typed (in ids without their spaces)
        assert text in everything or text.replace(" ", "_") in everything, text
    assert not [u for u in requests if EVIL in u]
    elsewhere = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                 and urlsplit(u).hostname != "127.0.0.1"]
    assert elsewhere == []
