"""The dashboard as a user meets it, timed in a real browser: what a hand on the mouse waits for.

Serves the app on localhost with the real bundled sample (1,813 documents, 300 queries) and a
fresh data folder (or ``--home``), drives Debian's Chromium with Playwright, and times:

* ``server start``: the server started until the first page is usable;
* ``demo``: the click on "Run the demo" until "Demo ready" shows and the run has finished (the
  click as soon as the first page is usable, or ``--read-s`` seconds later: a user reading it);
* ``paint/<page>``: a click on a page in the menu until that page is drawn (its title, every
  chart drawn, Streamlit's run finished), ``--rounds`` visits of every page; the first visit of a
  page is kept apart too (``cold``);
* ``slider/<page>`` on Flow, Evaluate, Inspect and Tune: the first stage's cut-off slider moved one
  step with the keyboard, each time to a position not shown before, until the redraw has finished: Streamlit's run is over and the element
  that depends on the cut-off (the sidebar's cascade line, and the page's first chart on Flow,
  Evaluate and Inspect, the Pareto chart on Tune after one press of Tune) shows the new value;
* ``judge/grade`` (keys 0, 1, 2), ``judge/undo`` (U: the same judgments taken back) and
  ``judge/skip`` (S) on the Judge page: the key press until the next document's card is drawn;
* ``slider/Flow after a pause``: Flow's slider again after 3 s without input on Build, when the
  work the dashboard leaves for a pause runs beside it (after the demo in a fresh data folder: the
  three-stage preset's shipped scores, checked and imported).

Every time is taken in the page's own clock, from the key or mouse event (``keydown`` or
``mousedown``, caught before the app sees it) to the first animation frame after the condition
holds, so it includes the browser's work and the server's; "finished" is Streamlit's own
``data-test-script-state`` going back to ``notRunning`` after a run that began after the event
(its running icon shows only after 500 ms, so its absence alone says nothing for a short run).

``--busy N`` starts N ``python3 -c "while True: pass"`` processes before the server and stops
them after; the load averages before and after are reported with the figures, and the share of
the cores that other work (anything but this benchmark, its server, browser and busy processes)
used meanwhile: above a few per cent, the run was disturbed.

    python benchmarks/bench_dashboard.py [--moves 20] [--presses 12] [--rounds 3] [--busy 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# The menu's pages, as their links read, and the title each page draws.
PAGES = {"Data & index": "Data & index", "Present": "Present", "Build": "Build a cascade", "Judge": "Judge",
         "Flow": "Flow", "Evaluate": "Evaluate", "Inspect": "Inspect", "Tune": "Tune",
         "Compare & doctor": "Compare & doctor", "Experiments": "Saved experiments, compared", "Live": "Live run"}
SLIDER_PAGES = ("Flow", "Evaluate", "Inspect", "Tune")

# Installed once per document: the script's run state as it changes, and the time of the last
# key or mouse press (capture phase: before any handler of the app's).
TRACK = """() => {
  if (window.__cx) return;
  const app = document.querySelector('[data-testid="stApp"]');
  const cx = window.__cx = {states: [], input: null};
  const note = () => cx.states.push([app.getAttribute('data-test-script-state'), performance.now()]);
  new MutationObserver(note).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  note();
  for (const kind of ['keydown', 'mousedown']) addEventListener(kind, () => { cx.input = performance.now(); }, true);
}"""

# What a probe reads (the element that must change): a JSON string.
PROBE = """(probe) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const side = document.querySelector('[data-testid="stSidebar"]');
  const out = {};
  if (probe.cascade && side) {
    const line = [...side.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .map(e => e.innerText).find(t => t.startsWith('Cascade:'));
    out.cascade = line || null;
  }
  if (probe.plot !== undefined && main) {
    const plot = main.querySelectorAll('.js-plotly-plot')[probe.plot];
    try { out.plot = plot && plot.data ? JSON.stringify(plot.data) : null; } catch (e) { out.plot = 'unreadable'; }
  }
  if (probe.card && main) {
    out.card = [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .map(e => e.innerText).find(t => t.startsWith('Document ')) || null;
  }
  if (probe.title && main) {
    const h1 = main.querySelector('h1');
    out.title = h1 ? h1.innerText.trim() : null;
    // every chart drawn (Plotly has made its SVG), no element left over from the page before
    out.charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'));
  }
  if (probe.text && main) out.text = main.innerText.includes(probe.text);
  return JSON.stringify(out);
}"""

# Resolves with {t0, done, ran, started, over} once the run that began after the last input is
# finished and the probe changed (``before``) and reads ``want``; ``done`` is the animation frame
# after that (drawn on screen).
WAIT = """async ([probe, before, want, timeoutMs]) => {
  const readProbe = %s;
  const cx = window.__cx;
  const start = performance.now();
  const app = document.querySelector('[data-testid="stApp"]');
  const frame = () => new Promise(r => requestAnimationFrame(() => r(performance.now())));
  while (true) {
    const t0 = cx.input;
    const now = JSON.parse(readProbe(probe));
    const ran = t0 !== null && cx.states.some(([s, t]) => s === 'running' && t >= t0);
    const idle = app.getAttribute('data-test-script-state') === 'notRunning';
    // Over: the app is idle again, and what the run draws is there (a run so short that its start
    // and end reach the page together never shows 'running': the drawn result says it ran).
    let ok = idle && (ran || before !== null || want);
    if (ok && before !== null) ok = JSON.stringify(now) !== before;
    if (ok && want) ok = Object.entries(want).every(([k, v]) => now[k] === v);
    if (ok) {
      const done = await frame();
      // the phases: input -> run starts -> run over (the server's part) -> drawn (the browser's)
      const started = cx.states.find(([s, t]) => s === 'running' && t >= t0);
      const over = started && cx.states.find(([s, t]) => s === 'notRunning' && t >= started[1]);
      return {t0, done, ran, started: started ? started[1] : null, over: over ? over[1] : null};
    }
    if (performance.now() - start > timeoutMs) return {t0, done: null, ran, probe: now};
    await frame();
  }
}""" % PROBE


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(samples: list[float]) -> dict:
    return {"n": len(samples), "p50": round(percentile(samples, 50), 3), "p95": round(percentile(samples, 95), 3),
            "max": round(max(samples), 3) if samples else None, "samples": [round(s, 3) for s in samples]}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Timer:
    """Times one action at a time in the page's clock (see the module's docstring)."""

    def __init__(self, page):
        self.page = page
        self.samples: dict[str, list[float]] = {}
        self.phases: dict[str, list[tuple[float, float, float]]] = {}

    def phase_medians(self, label: str) -> dict:
        """Medians of input -> the run starts, the run itself (the server's part), and the run's
        end -> drawn (the browser's part)."""
        got = self.phases.get(label)
        if not got:
            return {}
        return {k: round(percentile([g[i] for g in got], 50), 3) for i, k in enumerate(("to run", "run", "draw"))}

    def install(self) -> None:
        self.page.evaluate(TRACK)

    def probe(self, probe: dict) -> str:
        return self.page.evaluate(PROBE, probe)

    def time(self, label: str | None, action, probe: dict, changed: bool = True, want: dict | None = None,
             timeout_s: float = 120.0) -> float:
        """Seconds from the input ``action()`` makes until the run is over and the probe changed
        (``changed``) and reads ``want``."""
        self.install()
        before = self.probe(probe) if changed else None
        self.page.evaluate("() => { window.__cx.input = null; }")
        action()
        got = self.page.evaluate(WAIT, [probe, before, want, timeout_s * 1000])
        if got["done"] is None:
            raise TimeoutError(f"no finished redraw within {timeout_s:.0f} s (probe {probe}: {got})")
        seconds = (got["done"] - got["t0"]) / 1000
        if label is not None:
            self.samples.setdefault(label, []).append(seconds)
            if got["started"] is not None and got["over"] is not None:
                self.phases.setdefault(label, []).append(
                    ((got["started"] - got["t0"]) / 1000, (got["over"] - got["started"]) / 1000,
                     (got["done"] - got["over"]) / 1000))
        return seconds


def open_page(page, timer: Timer, name: str, label: str | None = None) -> float:
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True)
    return timer.time(label, link.click, {"title": True}, changed=False, want={"title": PAGES[name], "charts": True})


def move_slider(page, timer: Timer, label: str, moves: int, plot: int | None) -> None:
    """Move the first stage's keep slider one step ``moves`` times, to the right until its end
    (then back): each move asks for cut-offs never shown before in this session, so nothing the
    app may keep from an earlier position is reused (a hand moving on, not back and forth)."""
    slider = page.locator('[data-testid="stSidebar"] input[type="range"]').nth(1)
    probe = {"cascade": True} | ({"plot": plot} if plot is not None else {})
    for _ in range(moves):
        at_end = int(slider.get_attribute("value")) >= int(slider.get_attribute("max"))
        slider.focus()
        timer.time(label, lambda: slider.press("ArrowLeft" if at_end else "ArrowRight"), probe)


def judge_keys(page, timer: Timer, label: str, keys: list[str]) -> None:
    for key in keys:
        page.locator('[data-testid="stMain"] h1').click()   # the keyboard to the page, not a text box
        timer.time(label, lambda: page.keyboard.press(key), {"card": True})


def machine_cpu_s() -> float:
    """CPU seconds every process on this machine has used since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")   # all but idle and iowait


def tree_cpu_s(root: int) -> float:
    """CPU seconds used by ``root`` and its descendants still running (children already waited
    for count in their parent's)."""
    tick = os.sysconf("SC_CLK_TCK")
    kids: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            kids.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(x) for x in stats[pid][11:15]) / tick   # utime stime cutime cstime
        todo.extend(kids.get(pid, []))
    return total


def cpu_probe_ms() -> float:
    """A fixed pure-Python loop's best time of three: how fast a core is now (a shared or throttled
    host reads slower; compare runs with it)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def start_busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["python3", "-c", "while True: pass"]) for _ in range(n)]


def start_server(app: Path, home: str, log) -> tuple[subprocess.Popen, str]:
    """Serve ``app`` (an app.py: this checkout's or another's) on a free localhost port with the
    data folder ``home`` and the bundled sample, offline; return the server once it answers, and
    its URL (the caller terminates it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CASCADE_HOME": home, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("CASCADE_SAMPLE_DATA", None)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"],
                              cwd=app.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return server, url
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with status {server.returncode} before answering")
            time.sleep(0.1)


def first_page(page, timer: Timer, url: str):
    """Open the app's first page and wait until it is usable (its run over); its "Run the demo"
    button."""
    page.goto(url)
    demo = page.get_by_role("button", name="Run the demo")
    demo.wait_for(timeout=120_000)
    timer.install()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stApp\"]')"
                           ".getAttribute('data-test-script-state') === 'notRunning'", timeout=120_000)
    return demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=20, help="slider moves per page")
    ap.add_argument("--presses", type=int, default=12, help="Judge key presses of each kind")
    ap.add_argument("--rounds", type=int, default=3, help="visits of every page for first paint")
    ap.add_argument("--busy", type=int, default=0, help="busy processes beside the dashboard during the run")
    ap.add_argument("--home", help="data folder (default: a fresh temporary one)")
    ap.add_argument("--read-s", type=float, default=0.0,
                    help="seconds on the first page before the click on Run the demo (a user reading it first)")
    ap.add_argument("--json", action="store_true", help="print one JSON object (p50/p95 per measurement)")
    ap.add_argument("--screenshots", help="a folder for a screenshot of each page after its slider moves")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    probe_before = cpu_probe_ms()
    load_before = os.getloadavg()
    wall0, machine0, ours0 = time.perf_counter(), machine_cpu_s(), tree_cpu_s(os.getpid())
    busy = start_busy(args.busy)
    home = args.home or tempfile.mkdtemp(prefix="cx-dash-")
    t_start = time.perf_counter()
    server = None
    cold: dict[str, float] = {}
    try:
        server, url = start_server(REPO / "app.py", home, open(Path(home) / "bench-streamlit.log", "w"))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            timer = Timer(page)
            demo = first_page(page, timer, url)
            timer.samples["server start"] = [time.perf_counter() - t_start]
            time.sleep(args.read_s)
            timer.time("demo", demo.click, {"text": "Demo ready"}, changed=False, want={"text": True}, timeout_s=1800)
            for r in range(args.rounds):
                for name in PAGES:
                    t = open_page(page, timer, name, f"paint/{name}")
                    if r == 0:
                        cold[name] = t
            for name in SLIDER_PAGES:
                open_page(page, timer, name)
                if name == "Tune":   # the Pareto chart shows the current cut-offs once tuned
                    timer.time("tune click", page.get_by_role("button", name="Tune", exact=True).click, {"plot": 0},
                               changed=False, timeout_s=600)
                move_slider(page, timer, f"slider/{name}", args.moves, plot=0)
                if args.screenshots:
                    Path(args.screenshots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(args.screenshots) / f"{name}.png"))
            open_page(page, timer, "Judge")
            grades = [str(i % 3) for i in range(args.presses)]
            judge_keys(page, timer, "judge/grade", grades)
            judge_keys(page, timer, "judge/undo", ["u"] * len(grades))   # the log as it was
            judge_keys(page, timer, "judge/skip", ["s"] * args.presses)
            if args.screenshots:
                page.screenshot(path=str(Path(args.screenshots) / "Judge.png"))
            # Last, after a pause on Build: the work the dashboard leaves for a pause (after the demo,
            # the three-stage preset's shipped scores, checked and imported; in a fresh data folder)
            # runs beside the next slider moves.
            open_page(page, timer, "Build")
            time.sleep(3)
            open_page(page, timer, "Flow")
            move_slider(page, timer, "slider/Flow after a pause", min(args.moves, 10), plot=0)
            # What other work used the machine meanwhile: every process's CPU but this benchmark's
            # own (itself, the server, the browser, the busy processes), taken while all of them
            # still run (a browser's processes that exit are not all counted in their parent's).
            others = machine_cpu_s() - machine0 - (tree_cpu_s(os.getpid()) - ours0)
            others_share = max(others, 0.0) / ((time.perf_counter() - wall0) * (os.cpu_count() or 1))
            browser.close()
        peak = peak_rss_mb(server.pid)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        for proc in busy:
            proc.terminate()
            proc.wait()
    out = {"command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
           "busy": args.busy, "data_folder": "given" if args.home else "fresh", "read_s": args.read_s,
           "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
           "cpus": os.cpu_count(), "server_peak_mb": round(peak),
           "cpu_probe_ms": [probe_before, cpu_probe_ms()],   # before and after: the host's speed
           # above a few per cent, other work shared the cores: the figures are not quiet ones
           "others_cpu_share": round(others_share, 3),
           "seconds": {k: summary(v) | {"phases p50": timer.phase_medians(k)} for k, v in timer.samples.items()},
           "cold_paint": {k: round(v, 3) for k, v in cold.items()}}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{out['command']}  (load before {out['load_before']}, after {out['load_after']}, "
          f"{args.busy} busy process(es); other work used {others_share:.0%} of the cores meanwhile; "
          f"CPU probe {out['cpu_probe_ms'][0]} / {out['cpu_probe_ms'][1]} ms before / after)")
    for name, s in out["seconds"].items():
        extra = f"  first visit {cold[name[6:]]:.2f}" if name.startswith("paint/") else ""
        phases = ", ".join(f"{k} {v:.3f}" for k, v in s["phases p50"].items())
        print(f"{name:24} n={s['n']:3}  p50 {s['p50']:.3f} s  p95 {s['p95']:.3f} s  max {s['max']:.3f} s{extra}"
              + (f"  (p50 {phases})" if phases else ""))
    print(f"server peak memory (VmHWM): {peak:.0f} MB")


if __name__ == "__main__":
    main()
