"""Where a slider move's time goes on one page: the server's CPU and the browser's, per move.

``bench_dashboard.py`` times what a user waits for; this one says who does the work. It serves
the app (this checkout, or ``--app`` another one's ``app.py``: an A/B against an older commit)
on the bundled sample, runs the demo, opens ``--page``, moves the first stage's cut-off slider
``--moves`` times (after 4 moves not counted), and reports per move: p50/p95 of the move until
the redraw is finished (as ``bench_dashboard.py`` measures it), the server's CPU milliseconds
(the Streamlit process and its children) and Chromium's renderer processes' CPU milliseconds.
On a 2-core machine the two share the cores: a redraw is as fast as their sum allows.

    python benchmarks/bench_page_cpu.py --page Evaluate --moves 30
    git worktree add /tmp/old d5b5c5e && python benchmarks/bench_page_cpu.py --page Evaluate --app /tmp/old/app.py

Alternate the two checkouts a few times: a shared host's speed moves between runs (the CPU
probe, printed with each run, says by how much).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dashboard as bd  # noqa: E402 - the same browser, timer and probes

TICK = os.sysconf("SC_CLK_TCK")


def renderer_cpu_s() -> float:
    """CPU seconds of every Chromium renderer process running now (this benchmark's browser is
    the only one expected)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"--type=renderer" not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK   # utime stime
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", default="Evaluate", choices=bd.SLIDER_PAGES[:-1])
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--app", default=str(bd.REPO / "app.py"), help="the app.py to serve (another checkout's)")
    ap.add_argument("--home", help="data folder (default: a fresh temporary one; a second run there is faster)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    app = Path(args.app).resolve()
    home = args.home or tempfile.mkdtemp(prefix="cx-cpu-")
    server, url = bd.start_server(app, home, subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=bd.FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            timer = bd.Timer(page)
            demo = bd.first_page(page, timer, url)
            timer.time(None, demo.click, {"text": "Demo ready"}, changed=False, want={"text": True}, timeout_s=1800)
            bd.open_page(page, timer, args.page)
            bd.move_slider(page, timer, None, 4, plot=0)   # warm: the first moves pay one-off work
            server0, renderer0 = bd.tree_cpu_s(server.pid), renderer_cpu_s()
            bd.move_slider(page, timer, "move", args.moves, plot=0)
            server_s, renderer_s = bd.tree_cpu_s(server.pid) - server0, renderer_cpu_s() - renderer0
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    moves = timer.samples["move"]
    print(json.dumps({"app": str(app), "page": args.page, "moves": len(moves),
                      "p50_s": round(bd.percentile(moves, 50), 3), "p95_s": round(bd.percentile(moves, 95), 3),
                      "server_cpu_ms_per_move": round(server_s / len(moves) * 1000),
                      "renderer_cpu_ms_per_move": round(renderer_s / len(moves) * 1000),
                      "phases_p50": timer.phase_medians("move"), "cpu_probe_ms": bd.cpu_probe_ms()}))


if __name__ == "__main__":
    main()
