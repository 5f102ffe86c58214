"""The dashboard as a user meets it: first page, the demo, slider release -> redraw, memory.

Serves the app on localhost with the real bundled sample (1,813 documents, 300 queries), drives
Debian's Chromium with Playwright, and reports:

* seconds until the first page is usable;
* seconds for "Run the demo" (fresh data folder: indexing + scoring; or warm with --home);
* slider release -> redraw on the Flow and Evaluate pages, over N moves (median, max);
* the server's peak resident memory (VmHWM).

    python benchmarks/bench_dashboard.py [--moves 10] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--home", help="data folder (default: a fresh temporary one)")
    args = ap.parse_args()
    from playwright.sync_api import expect, sync_playwright

    home = args.home or tempfile.mkdtemp(prefix="cx-dash-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CASCADE_HOME": home, "HF_HUB_OFFLINE": "1"}
    env.pop("CASCADE_SAMPLE_DATA", None)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless",
                               "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        t_start = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            expect(page.get_by_role("button", name="Run the demo")).to_be_visible(timeout=60_000)
            first_page = time.perf_counter() - t_start
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run the demo").click()
            expect(page.get_by_text("Demo ready").first).to_be_visible(timeout=1_800_000)
            demo = time.perf_counter() - t0
            results = {}
            # What shows the new cut-off once redrawn: the Flow table's "in -> k kept", and the
            # sidebar's cascade line (Streamlit's markdown draws "->" as an arrow).
            for name, ready in (("Flow", r"in -> {k} kept"), ("Evaluate", r"(->|\u2192) {k} (->|\u2192) final")):
                page.get_by_role("link", name=name).click()
                expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=120_000)
                slider = page.locator('[data-testid="stSidebar"] input[type="range"]').nth(1)
                k = int(slider.get_attribute("value"))
                times = []
                for i in range(args.moves):
                    key, k = ("ArrowLeft", k - 1) if i % 2 == 0 else ("ArrowRight", k + 1)
                    slider.focus()
                    t0 = time.perf_counter()
                    slider.press(key)
                    expect(page.get_by_text(re.compile(ready.format(k=k))).first).to_be_visible(timeout=60_000)
                    # and the app has finished its run (no "running" indicator)
                    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                           timeout=60_000)
                    times.append(time.perf_counter() - t0)
                results[name] = times
            browser.close()
        print(f"first page usable: {first_page:.1f} s (server start included)")
        print(f"demo: {demo:.1f} s ({'fresh' if not args.home else 'given'} data folder {home})")
        for name, times in results.items():
            print(f"{name}: slider release -> redraw over {len(times)} moves: median {statistics.median(times):.2f} s, "
                  f"max {max(times):.2f} s")
        print(f"server peak memory (VmHWM): {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
