"""Timing a call on a shared machine: wall time, CPU time, and the time it waited for a core.

Wall-clock time on a busy CPU measures the neighbours as much as the model. So every timed call
records, beside its wall time, the CPU time the process spent on it (all threads: the model's
intra-op threads too), the parallelism it ran with, the load average, and the time the calling
thread spent *runnable but not running*: waiting for a core (Linux reports it per thread, in
``/proc/thread-self/schedstat``). What the call would take on a quiet machine, its
*quiet-equivalent* time, is its wall time less that wait; predictions are made from it, and the
wall-clock figures stay beside them.

Why the wait and not CPU time divided by the threads: measured on this 2-core machine, quiet and
with two ``while True: pass`` processes beside it (``python /tmp/x27/probe.py``, 40 live queries,
medians):

=========================  ========  =======  ==========  ===========
step                       wall      CPU      wall-wait   CPU/threads
=========================  ========  =======  ==========  ===========
bi-encoder, quiet          5.2 ms    9.2 ms   5.1 ms      4.6 ms
bi-encoder, 2 busy procs   14.7 ms   14.8 ms  6.1 ms      7.4 ms
cross-encoder, quiet       429 ms    853 ms   ~429 ms     427 ms
cross-encoder, 2 busy      942 ms    928 ms   459 ms      464 ms
=========================  ========  =======  ==========  ===========

ONNX Runtime's and torch's thread pools spin while they wait for each other, and a busy machine
makes them spin longer: CPU time grew x1.6 for the bi-encoder's short calls; wall less the wait
moved by 7-18%. So our ONNX Runtime sessions do not spin (:func:`cascade_core.models.fast_encoder`;
then CPU time moved 2%), and the quiet-equivalent is the wall less the wait, floored at the CPU
time spread over the threads: while the calling thread waited, the others may have worked, and
under a heavy load subtracting the whole wait undercounted (a live p50 of 2.8 ms for a 6 ms
step). Where the system does not report waits (not Linux), the quiet-equivalent is unknown and
the wall clock is used, said as such.

>>> with timed() as t:
...     _ = sum(range(10_000))
>>> t.timing.wall_s > 0, t.timing.quiet_s <= t.timing.wall_s
(True, True)
>>> Timing(0.010, 0.012, 0.006, 2, 3.5).waited_share
0.6
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEDSTAT = Path("/proc/thread-self/schedstat")
BUSY_SHARE = 0.25      # the work waited for a core this share of its time or more: timed on a busy CPU
NAN = float("nan")


@dataclass(frozen=True)
class Timing:
    """One timed call: wall and process CPU seconds, the calling thread's wait for a core (NaN
    where the system does not say), the parallelism it ran with, and the 1-minute load average."""

    wall_s: float
    cpu_s: float = NAN
    wait_s: float = NAN
    threads: int = 1
    load: float = NAN

    @property
    def quiet_s(self) -> float:
        """The quiet-equivalent seconds: wall less the wait for a core, but never less than the
        CPU time spread over the threads (while the calling thread waited, the others may have
        worked: subtracting the whole wait would then undercount); the wall clock when the wait
        is unknown.

        >>> round(Timing(0.030, 0.012, 0.020, 2).quiet_s, 3)   # 30 ms less a 20 ms wait
        0.01
        >>> round(Timing(0.030, 0.040, 0.025, 2).quiet_s, 3)   # 5 ms left, but 40 ms of CPU on 2 threads
        0.02
        """
        if not math.isfinite(self.wait_s):
            return self.wall_s
        floor = self.cpu_s / max(self.threads, 1) if math.isfinite(self.cpu_s) else 0.0
        return min(self.wall_s, max(self.wall_s - self.wait_s, floor))

    @property
    def waited_share(self) -> float:
        """The share of the wall time the work waited for a core (NaN when unknown)."""
        return self.wait_s / self.wall_s if math.isfinite(self.wait_s) and self.wall_s > 0 else NAN

    @classmethod
    def stated(cls, seconds: float) -> "Timing":
        """A time read, not measured here (a run file's ``latency_ms``): no CPU, no wait."""
        return cls(float(seconds), wait_s=0.0)


QUIET_CALL_SHARE = 0.05   # a call that waited for a core less than this share of its time ran as on a quiet machine
MIN_QUIET_CALLS = 5


def quiet_parallelism(wall_s: np.ndarray, wait_s: np.ndarray, cpu_s: np.ndarray) -> float:
    """How many cores a step's calls keep busy when nothing else runs: the median CPU time over
    wall time of its calls that hardly waited for a core (at least :data:`MIN_QUIET_CALLS` of
    them); NaN when too few such calls are known.

    >>> quiet_parallelism(np.array([5.0, 5.0, 5.0, 5.0, 5.0, 6.5]), np.array([0, 0, 0, 0, 0.1, 2.7]),
    ...                   np.array([7.5, 7.6, 7.4, 7.5, 7.7, 6.6]))
    1.5
    """
    wall_s, wait_s, cpu_s = (np.asarray(a, dtype=float) for a in (wall_s, wait_s, cpu_s))
    ok = np.isfinite(wall_s) & np.isfinite(wait_s) & np.isfinite(cpu_s) & (wall_s > 0) & (cpu_s > 0)
    quiet = ok & (wait_s < QUIET_CALL_SHARE * np.where(ok, wall_s, 1.0))
    if quiet.sum() < MIN_QUIET_CALLS:
        return NAN
    return float(np.median(cpu_s[quiet] / wall_s[quiet]))


def quiet_equivalent_s(wall_s: np.ndarray, wait_s: np.ndarray, cpu_s: np.ndarray, parallelism: float,
                       n_cores: int | None = None) -> np.ndarray:
    """Each call's quiet-equivalent seconds with the step's :func:`quiet_parallelism` known: its
    wall time less its wait for a core, but never less than its CPU time over that parallelism.
    A pool thread works on while the calling thread waits for a core, so on a busy machine the
    wall less the calling thread's wait undercounts (measured here, the bi-encoder beside two
    busy processes: 3.8 ms for a call that takes 4.8 ms quiet; its CPU time, 6.6 ms against 7.4
    quiet, hardly moves, and over the quiet parallelism 1.54 gives 4.3 ms). Unknown parallelism
    (no quiet call recorded yet): the most this machine allows, ``n_cores``, so that a call that
    waited nearly all its time is not read as taking nothing (a first pass shown as "0 ms").

    >>> quiet_equivalent_s(np.array([6.5]), np.array([2.7]), np.array([6.6]), 1.5).round(2).tolist()
    [4.4]
    >>> quiet_equivalent_s(np.array([6.5, 0.2]), np.array([2.7, 0.2]), np.array([6.6, 0.17]), float("nan"), 2).round(3).tolist()
    [3.8, 0.085]
    >>> quiet_equivalent_s(np.array([6.5]), np.array([float("nan")]), np.array([6.6]), 1.5).tolist()   # wait not recorded
    [nan]
    """
    wall_s, wait_s, cpu_s = (np.asarray(a, dtype=float) for a in (wall_s, wait_s, cpu_s))
    if not (math.isfinite(parallelism) and parallelism > 0):
        parallelism = float(n_cores or cores())
    # fmax: a NaN CPU time (a stated figure) leaves the wall less the wait; an unknown wait (an
    # old row, a system that does not report it) leaves the quiet-equivalent unknown.
    quiet = np.fmin(wall_s, np.fmax(wall_s - wait_s, cpu_s / parallelism))
    return np.where(np.isfinite(wait_s), quiet, np.nan)


def thread_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a core (NaN: not reported)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return NAN


def waits_reported() -> bool:
    """Whether this system reports a thread's wait for a core (Linux does)."""
    return math.isfinite(thread_wait_s())


def load_average() -> float:
    """The 1-minute load average (NaN where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return NAN


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class timed:
    """A context manager timing its block: ``.timing`` after it ends (``threads``: the
    parallelism the work runs with, recorded beside it).

    >>> with timed(threads=2) as t:
    ...     pass
    >>> t.timing.threads
    2
    """

    def __init__(self, threads: int = 1):
        self.threads = threads
        self.timing: Timing | None = None

    def __enter__(self) -> "timed":
        self._wait, self._cpu, self._wall = thread_wait_s(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall, cpu, wait = time.perf_counter(), time.process_time(), thread_wait_s()
        waited = max(0.0, wait - self._wait) if math.isfinite(wait) and math.isfinite(self._wait) else NAN
        wall_s = wall - self._wall
        self.timing = Timing(wall_s, cpu - self._cpu, min(waited, wall_s), self.threads, load_average())


def step_threads(step) -> int:
    """The parallelism a step's calls run with: a local model's intra-op threads (ONNX Runtime's
    sessions take torch's count, :func:`cascade_core.models.fast_encoder`), else 1 (BM25, a run
    file, a remote call: one thread waiting)."""
    if not getattr(step, "uses_device", False):
        return 1
    import sys

    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else 1


def busy_note(waited_share: float, load: float = NAN, n_cores: int | None = None) -> str | None:
    """The line for timings whose work waited for a core ``waited_share`` of the time, or None
    when that is below :data:`BUSY_SHARE` and the load average (when known) is within the cores.

    >>> busy_note(0.48, 4.1, 2)
    'timed on a busy CPU (the work waited for a core 48% of the time; load average 4.1 on 2 cores): the figure is its quiet-equivalent'
    >>> busy_note(0.02, 0.4, 2) is None
    True
    >>> busy_note(0.0, 2.1, 2)
    'timed on a busy CPU (load average 2.1 on 2 cores; the work itself waited for a core only 0% of the time): the figure is its quiet-equivalent'
    """
    n_cores = n_cores or cores()
    waited = math.isfinite(waited_share) and waited_share >= BUSY_SHARE
    loaded = math.isfinite(load) and load > n_cores
    if not (waited or loaded):
        return None
    parts = ([f"the work waited for a core {waited_share:.0%} of the time"] if math.isfinite(waited_share) else []) + \
        ([f"load average {load:.1f} on {n_cores} cores"] if math.isfinite(load) else [])
    if loaded and not waited and math.isfinite(waited_share):
        # Busy by the load alone: the load first, the small wait said as small ("busy" beside "0%" reads as a slip).
        parts = [f"load average {load:.1f} on {n_cores} cores", f"the work itself waited for a core only {waited_share:.0%} "
                 "of the time"]
    return f"timed on a busy CPU ({'; '.join(parts)}): the figure is its quiet-equivalent"


def run_load_line(waited_share: float, load: tuple[float, float], n_cores: int, subject: str = "The machine") -> str:
    """How busy the machine was while a run was timed, in one sentence: the share of the time the
    work waited for a core, and the load average at its start and end. Busy by either (as
    :func:`busy_note`); busy by the load alone, the sentence says so rather than pair "busy" with a
    wait near zero.

    >>> run_load_line(0.46, (3.8, 4.1), 2)
    'The machine was busy: the work waited for a core 46% of the time (load average 3.8 -> 4.1 on 2 cores).'
    >>> run_load_line(0.0, (2.1, 2.1), 2)
    'The machine was busy (load average 2.1 -> 2.1 on 2 cores: other work was runnable), though this work waited for a core only 0% of the time.'
    >>> run_load_line(0.01, (0.3, 0.5), 2)
    'The machine was quiet: the work waited for a core 1% of the time (load average 0.3 -> 0.5 on 2 cores).'
    """
    where = f"load average {load[0]:.1f} -> {load[1]:.1f} on {n_cores} cores"
    if not math.isfinite(waited_share):
        return f"This system does not report waits for a core: the figures are wall clock ({where})."
    if busy_note(waited_share, max(load), n_cores) is None:
        return f"{subject} was quiet: the work waited for a core {waited_share:.0%} of the time ({where})."
    if waited_share < BUSY_SHARE:
        return (f"{subject} was busy ({where}: other work was runnable), though this work waited for a core only "
                f"{waited_share:.0%} of the time.")
    return f"{subject} was busy: the work waited for a core {waited_share:.0%} of the time ({where})."


def load_note(load: float | None = None, n_cores: int | None = None) -> str:
    """How busy the machine is now, from the load average against the cores: "busy" while the
    load exceeds the cores (more work runnable than cores to run it).

    >>> load_note(12.0, 2)
    'the machine is busy now: load average 12.0 on 2 cores: live wall-clock timings will be slower (the comparison uses quiet-equivalent times)'
    >>> load_note(0.3, 2)
    'the machine is quiet now: load average 0.3 on 2 cores'
    """
    load = load_average() if load is None else load
    n_cores = n_cores or cores()
    if not math.isfinite(load):
        return f"the load average is not reported here ({n_cores} cores)"
    if load > n_cores:
        return (f"the machine is busy now: load average {load:.1f} on {n_cores} cores: live wall-clock timings will "
                "be slower (the comparison uses quiet-equivalent times)")
    return f"the machine is quiet now: load average {load:.1f} on {n_cores} cores"


CALIBRATION_QUERIES = 8   # per scoring run: enough calls of two sizes for a stable fit, few extra calls


def calibration_parts(need: list[str], i: int, n_queries: int,
                      n_calibrate: int = CALIBRATION_QUERIES) -> list[list[str]]:
    """How to split the ``i``-th of ``n_queries`` queries' pairs into timed calls.

    A stage usually receives the same number of candidates for every query (the whole pool), so
    its timed calls would all have one size, and the cost model could not tell a per-query cost
    (encoding the query) from a per-pair one (encoding each candidate). ``n_calibrate`` queries,
    spread evenly over the run, are therefore scored in two calls, a quarter and three quarters
    of their pairs. The scorers are pointwise, so the scores are the same; it costs a few extra
    calls once. Spread, not the first few: a burst of other work on the machine (another process
    encoding) then slows a few calibration calls, not all of them, and the fit drops those.

    >>> [len(p) for p in calibration_parts(list("abcdefgh"), 0, 80)]
    [2, 6]
    >>> [len(p) for p in calibration_parts(list("abcdefgh"), 10, 80)], [len(p) for p in calibration_parts(list("abcdefgh"), 5, 80)]
    ([2, 6], [8])
    """
    stride = max(1, n_queries // n_calibrate)
    if len(need) < 4 or i % stride or i // stride >= n_calibrate:
        return [need]
    cut = len(need) // 4
    return [need[:cut], need[cut:]]


def stated_or(step, text: str, measured: Timing, share: float = 1.0) -> Timing:
    """The timing to record for a call: what the step's data states for the query (a run file's
    ``latency_ms``: the engine's time, not the reading of the file) times ``share`` (the call's
    part of the query's candidates), else the call as ``measured`` here."""
    stated = step.stated_seconds(text)
    return measured if stated is None else Timing.stated(stated * share)
