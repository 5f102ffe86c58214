"""Serving safely, against real servers: ``streamlit run app.py`` started here, read over HTTP
and in Debian's Chromium (Playwright; never a downloaded browser).

- Started as ``./run.sh demo`` starts it, with no address of its own, the server listens on
  127.0.0.1 only (the app's .streamlit/config.toml).
- Shared (``CASCADE_SHARE=1``), a visitor without the token sees the sign-in box and nothing
  else; with ``?token=...`` the dashboard; a typed path outside the data roots is refused.
- Bound to any other address than loopback, the app asks for a token even when nobody said
  "share" (one is made and printed in the server's log).

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import socket
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.test_dashboard_in_chromium import ARTIFACTS, CHROMIUM, FLAGS
from tests.helpers import REPO, dashboard

TOKEN = "browser-test-token-0123456789abcdef"
PAGE_TEXT = ("Data & index", "Run the demo", "Load a dataset", "Dataset:", "Vector index")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (./run.sh test installs it)")]



@contextmanager
def server(tmp: Path, tiny_beir: Path, *args: str, **env: str):
    """The dashboard (tests.helpers.dashboard); yields (url, port, log path)."""
    with dashboard(tmp, tiny_beir, *args, **env) as (url, port, _, log_path):
        yield url, port, log_path


def listening_addresses(port: int) -> set[str]:
    """The local addresses sockets LISTEN on for ``port`` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:   # 0A: LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:   # four little-endian 32-bit words
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def assert_sign_in_only(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_label("Access token")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    body = page.locator("body").inner_text()
    for text in PAGE_TEXT:
        assert text not in body, text
    assert page.locator('[data-testid="stSidebar"]').count() == 0 or not page.locator(
        '[data-testid="stSidebar"]').is_visible()


def test_by_default_the_server_listens_on_loopback_only(tiny_beir, tmp_path, browser):
    from playwright.sync_api import expect

    with server(tmp_path, tiny_beir) as (url, port, _):
        assert listening_addresses(port) <= {"127.0.0.1", "::1"} and listening_addresses(port)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)   # the person at the machine: no sign-in
        expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
        assert page.get_by_label("Access token").count() == 0
        page.close()


def test_shared_a_visitor_needs_the_token(tiny_beir, tmp_path, browser):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    with server(tmp_path, tiny_beir, "--server.address", "127.0.0.1", CASCADE_SHARE="1",
                CASCADE_TOKEN=TOKEN) as (url, _, log):
        # Streamlit serves the same HTML shell to everyone; what matters is what the app draws.
        shell = urllib.request.urlopen(url, timeout=10).read().decode()
        assert not any(text in shell for text in PAGE_TEXT)

        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for visit in (url, f"{url}/evaluate", f"{url}/?token=wrong-{TOKEN}"):
            page.goto(visit)
            assert_sign_in_only(page)
        expect(page.get_by_text("The token in this link is not right")).to_be_visible()
        page.goto(url)
        assert_sign_in_only(page)
        page.screenshot(path=str(ARTIFACTS / "sharing-1-sign-in.png"), full_page=True)
        page.get_by_label("Access token").fill("a guess")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("That token is not right.")).to_be_visible(timeout=30_000)
        assert_sign_in_only(page)

        page.get_by_label("Access token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
        page.reload()   # a reload after a typed token stays signed in (the token is in the address bar)
        expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
        page.close()

        # A link to a page, signed out: the sign-in box (never "Page not found"), then that page.
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/build")
        assert_sign_in_only(page)
        expect(page.get_by_text("Page not found")).to_have_count(0)
        page.get_by_label("Access token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Rerank stages").first).to_be_visible(timeout=60_000)
        page.close()

        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/?token={TOKEN}")
        expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
        expect(page.locator('[data-testid="stSidebar"]').get_by_text("Shared dashboard")).to_be_visible()
        page.get_by_text("Folder or file path").click()
        page.get_by_label("Path", exact=True).fill(str(REPO))
        page.get_by_label("Path", exact=True).press("Enter")
        page.get_by_role("button", name="Load and validate").click()
        refused = page.locator('[data-testid="stAlert"]').filter(has_text="opens folders under its data roots only")
        expect(refused).to_be_visible(timeout=30_000)
        message = refused.inner_text()
        assert "pyproject" not in message and "README" not in message and "Found:" not in message
        refused.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "sharing-2-refused-path.png"))
        page.close()
        assert TOKEN not in log.read_text()   # an operator's token is not printed again


def test_bound_to_another_address_the_app_asks_for_a_token_anyway(tiny_beir, tmp_path, browser):
    # 127.0.0.2 is not "127.0.0.1": the app treats it as the network (and the test exposes nothing).
    with server(tmp_path, tiny_beir, "--server.address", "127.0.0.2") as (url, _, log):
        page = browser.new_page()
        page.goto(url)
        assert_sign_in_only(page)
        made = re.search(r"\?token=([\w-]+)", log.read_text())
        assert made, "the app prints the token it made"
        page.goto(f"{url}/?token={made.group(1)}")
        from playwright.sync_api import expect

        expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
        page.close()
