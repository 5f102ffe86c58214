"""A CPU probe: a short fixed workload timed beside every cost recording, and again now.

Timings taken while something else keeps the CPU busy (another process encoding, a test suite)
overprice every step, and nothing in the timings themselves says so. So each scoring run times
this fixed workload (a small fp32 matrix-multiply loop, a few ms on a quiet machine, run by
torch on the threads the models use) while it records costs, and stores the median with the costs
(:meth:`ScoreStore.record_costs`); a prediction compares it with the quietest probe seen (timed in
this process now, or recorded with any cost). Recorded ``BUSY_RATIO`` times slower than that: the
figure is flagged ("measured while the CPU was busy: x2.3 slower than when quiet"), and
``cascade calibrate`` re-times it.

>>> ms = probe_ms()
>>> 0 < ms < 10_000
True
>>> slowdown_note(2.34), slowdown_note(1.1) is None
('measured while the CPU was busy: x2.3 slower than when quiet', True)
"""

from __future__ import annotations

import threading
import time

import numpy as np

# Why torch, on its own thread pool: that is how the models run, and how they suffer. Measured on
# a 2-vCPU machine shared with 3 busy processes: a single-threaded loop ran x1.7 slower, the
# bi-encoder's calls x10, and torch's matmuls, each one waiting at a barrier for its preempted
# other half, ~24 ms per product whatever its size: so a few large products (like a model's
# layers), not many small ones (x50). A numpy BLAS matmul would fight torch's spinning pool
# instead (x100 right after a torch call, quiet or not). Without torch, a numpy loop stands in.
SIZE = 512          # two 512 x 512 fp32 products: ~0.5 GFLOP
LOOPS = 2           # ~ 5-10 ms on a quiet 2-core machine
REPEATS = 3         # median: one context switch does not decide it
MAX_S = 0.3         # ... but on a very busy machine stop repeating after this long
BUSY_RATIO = 1.5    # recorded this many times slower than when quiet: flagged
NOW_MAX_AGE_S = 60.0

_lock = threading.Lock()
_work: list = []      # the workload, built once: a function that runs it
_now: dict = {"t": -1e18, "ms": float("nan")}


def _workload():
    """The fixed workload as a function (built once per process, then warmed up)."""
    if not _work:
        rng = np.random.default_rng(0)
        try:
            import torch

            a, b = (torch.from_numpy(rng.standard_normal((SIZE, SIZE)).astype(np.float32)) for _ in range(2))
            c = torch.empty(SIZE, SIZE)

            def run():
                for _ in range(LOOPS):   # the same product each time: no drift into slow denormals
                    torch.mm(a, b, out=c)
        except ImportError:  # pragma: no cover - sentence-transformers brings torch
            x, y = (rng.standard_normal(32_768).astype(np.float32) for _ in range(2))
            z = np.empty_like(x)

            def run():
                for _ in range(LOOPS * 200):
                    np.multiply(x, y, out=z)
                    np.add(z, x, out=z)
        run()   # the first run in a process starts thread pools and pages memory in: not the CPU's speed
        _work.append(run)
    return _work[0]


def probe_ms(repeats: int = REPEATS) -> float:
    """Milliseconds the fixed workload takes now (median of ``repeats``, fewer past ``MAX_S``)."""
    run = _workload()
    times, start = [], time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
        if time.perf_counter() - start > MAX_S:
            break
    return float(np.median(times))


def probe_now(max_age_s: float = NOW_MAX_AGE_S) -> float:
    """The probe timed in this process within the last ``max_age_s`` seconds (timed again when
    older): the reference every recorded probe is compared with."""
    with _lock:
        if time.monotonic() - _now["t"] > max_age_s:
            _now["ms"], _now["t"] = probe_ms(), time.monotonic()
        return _now["ms"]


class ProbeSampler:
    """Probe samples taken while a long scoring run records costs: at the start, then at most
    every ``interval_s`` as the run calls :meth:`tick`. Cheap: ~15 ms every 10 s when quiet.

    >>> s = ProbeSampler(interval_s=0); s.tick(); len(s.samples), s.median() > 0
    (2, True)
    """

    def __init__(self, interval_s: float = 10.0):
        self.interval_s = interval_s
        self.samples = [probe_ms()]
        self._last = time.monotonic()

    def tick(self) -> None:
        if time.monotonic() - self._last >= self.interval_s:
            self.samples.append(probe_ms())
            self._last = time.monotonic()

    def median(self) -> float:
        return float(np.median(self.samples))


def busy_now_note(now_ms: float, quietest_ms: float, ratio: float = BUSY_RATIO) -> str:
    """How busy the CPU is now against the quietest probe recorded, in words.

    >>> busy_now_note(72.0, 6.0)
    'the CPU is busy now: the probe takes x12.0 its quietest recorded time (72.0 ms, quietest 6.0 ms): live timings will be slower'
    >>> busy_now_note(6.3, 6.0)
    'the CPU is quiet now: the probe takes x1.05 its quietest recorded time (6.3 ms, quietest 6.0 ms)'
    """
    if not (now_ms == now_ms and quietest_ms == quietest_ms and quietest_ms > 0):
        return f"CPU probe now {now_ms:.1f} ms (no quieter reference recorded yet)"
    x = now_ms / quietest_ms
    if x >= ratio:
        return (f"the CPU is busy now: the probe takes x{x:.1f} its quietest recorded time ({now_ms:.1f} ms, "
                f"quietest {quietest_ms:.1f} ms): live timings will be slower")
    return f"the CPU is quiet now: the probe takes x{x:.2f} its quietest recorded time ({now_ms:.1f} ms, quietest {quietest_ms:.1f} ms)"


def slowdown_note(slowdown: float, ratio: float = BUSY_RATIO) -> str | None:
    """The warning for timings recorded ``slowdown`` times slower than when quiet, or None."""
    if not slowdown == slowdown or slowdown < ratio:   # NaN (no probe recorded) or close enough
        return None
    return f"measured while the CPU was busy: x{slowdown:.1f} slower than when quiet"
