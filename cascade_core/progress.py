"""Progress reporting for long work: a callback that the CLI and the dashboard each render.

>>> events = []
>>> tracker = ProgressTracker("encode", total=100, callback=events.append)
>>> tracker.advance(50)
>>> events[-1].done, events[-1].total, events[-1].fraction
(50, 100, 0.5)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import ScoringCancelled
from .formats import duration


@dataclass(frozen=True)
class ProgressEvent:
    task: str          # what is being done, for people: "encoding documents (all-MiniLM-L6-v2)"
    done: int
    total: int
    elapsed_s: float
    unit: str = "items"
    detail: str = ""   # a count beside the main one: "3/40 units" of a job on a cluster

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None until there is a rate)."""
        if self.rate <= 0:
            return None
        return (self.total - self.done) / self.rate

    def describe(self) -> str:
        """The event in one line.

        >>> ProgressEvent("scoring", 400, 1000, 10.0, "pairs", detail="2/5 units").describe()
        'scoring: 400/1000 pairs, 2/5 units (40.0/s, 15 s left)'
        """
        eta = f", {duration(self.eta_s)} left" if self.eta_s is not None and self.done < self.total else ""
        detail = f", {self.detail}" if self.detail else ""
        return f"{self.task}: {self.done}/{self.total} {self.unit}{detail} ({self.rate:.1f}/s{eta})"


ProgressCallback = Callable[[ProgressEvent], None]


def cancellable(callback: Optional[ProgressCallback], cancelled: Callable[[], bool]) -> ProgressCallback:
    """``callback`` that first checks ``cancelled()`` and raises :class:`~cascade_core.errors.ScoringCancelled`
    when it is true: long work reports progress after storing each piece, so a cancel there loses
    nothing already computed (a dashboard's Cancel button sets the flag it reads).

    >>> flag = {"stop": False}
    >>> cb = cancellable(None, lambda: flag["stop"])
    >>> tracker = ProgressTracker("scoring", 10, cb); tracker.advance(5); flag["stop"] = True
    >>> tracker.advance(5)
    Traceback (most recent call last):
    ...
    cascade_core.errors.ScoringCancelled: scoring cancelled; what was scored is stored (scoring again resumes where it stopped)
    """
    def update(event: ProgressEvent) -> None:
        if cancelled():
            raise ScoringCancelled()
        if callback is not None:
            callback(event)

    return update


class ProgressTracker:
    """Counts work done and calls the callback (if any) with a :class:`ProgressEvent`."""

    def __init__(self, task: str, total: int, callback: Optional[ProgressCallback] = None, unit: str = "items"):
        self.task, self.total, self.callback, self.unit = task, total, callback, unit
        self.done = 0
        self.detail = ""   # shown beside the count from the next event on (ProgressEvent.detail)
        self.start = time.perf_counter()
        self._emit()

    def advance(self, n: int) -> None:
        self.done += n
        self._emit()

    def _emit(self) -> None:
        if self.callback is not None:
            self.callback(ProgressEvent(self.task, self.done, self.total,
                                        time.perf_counter() - self.start, self.unit, self.detail))


def terminal_progress(stream=sys.stderr) -> ProgressCallback:
    """A callback that draws a one-line progress bar on a terminal (plain lines when not a tty)."""
    last = {"t": 0.0, "task": None, "tenth": -1}

    def draw(event: ProgressEvent) -> None:
        now = time.perf_counter()
        finished = event.done >= event.total
        if not finished and now - last["t"] < 0.5 and last["task"] == event.task:
            return
        if last["task"] != event.task:
            last["tenth"] = -1
        last["t"], last["task"] = now, event.task
        width = 30
        filled = int(width * event.fraction)
        bar = "#" * filled + "-" * (width - filled)
        line = f"[{bar}] {event.describe()}"
        if stream.isatty():
            stream.write("\r" + line + ("\n" if finished else ""))
        else:  # a log, not a terminal: one line per tenth of the work
            tenth = int(event.fraction * 10)
            if tenth != last["tenth"] or finished:
                last["tenth"] = tenth
                stream.write(line + "\n")
        stream.flush()

    return draw
