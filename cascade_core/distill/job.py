"""A distillation as a job that outlives the page that started it: run in a background thread,
its state kept on disk beside the student, cancelled by a file, resumed from its checkpoint.

A dashboard cannot train a student inside a page run: a refresh or Streamlit's Stop ends the run
and leaves a spinner turning over nothing. So the page writes a :class:`JobRequest` (everything
needed to start the same run again: dataset, training queries, teacher, settings, held-out
queries) and :func:`start_job` runs :func:`cascade_core.distill.distill` in a thread. The thread
writes ``OUT/.job.json`` (state, progress with time left, a heartbeat every few seconds); any page
of any session reads it back with :func:`read_job` and :func:`jobs`:

* ``running``   the heartbeat is fresh;
* ``stopped``   cancelled (:func:`cancel_job` writes ``OUT/.cancel``; the run checkpoints the
  step it stopped at, :class:`~cascade_core.errors.TrainingCancelled`);
* ``interrupted`` it said running but its heartbeat stopped (the server was killed): the last
  periodic checkpoint is on disk;
* ``failed`` (with the one-line reason) and ``finished`` (the student and its report).

Stopped and interrupted jobs resume with :func:`start_job` on the same folder and request: the
training set is rebuilt from stored teacher scores and the checkpoint of the same run is loaded.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "student"
>>> write_job(out, {"state": "stopped", "request": {"label": "x"}})
>>> job = read_job(out); job.state, job.resumable
('stopped', True)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import CascadeError, ScoringCancelled, TrainingCancelled
from ..formats import duration
from ..models.students import registry
from ..progress import ProgressEvent
from ..readback import Unreadable, read_record

JOB_FILE = ".job.json"
CANCEL_FILE = ".cancel"
HEARTBEAT_S = 5.0          # how often a running job says it is alive
STALE_AFTER_S = 60.0       # a "running" job silent this long was interrupted (its process died)
WRITE_EVERY_S = 1.0        # progress is written at most this often
STATES = ("running", "stopped", "interrupted", "failed", "finished")

_RUNNING: dict[str, threading.Thread] = {}   # folder -> thread, in this process
_LOCK = threading.RLock()   # start_job reads the previous record while holding it


@dataclass
class JobRequest:
    """All a run needs to start again: the dataset's source (``path``, ``split``, ``fmt``,
    ``files``), the training queries (``kind`` split|file|generated with ``split``, ``file`` or
    ``n`` and ``seed``), the teacher spec, the settings, how many held-out queries (0: all)."""

    dataset: dict
    training: dict
    teacher: dict
    settings: dict
    held_out: int = 0
    label: str = ""            # the dataset as people know it ("SciFact sample (bundled)")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class JobStatus:
    out: Path
    state: str                 # running | stopped | interrupted | failed | finished
    request: dict = field(default_factory=dict)
    progress: dict = field(default_factory=dict)   # task, done, total, unit, elapsed_s, eta_s
    message: str = ""
    started: str = ""
    updated: float = 0.0

    @property
    def resumable(self) -> bool:
        return self.state in ("stopped", "interrupted")

    @property
    def active(self) -> bool:
        return self.state == "running"

    def describe_progress(self) -> str:
        """``training the student: 2,400 of 16,000 pairs, 1 h 5 min left`` (or the state)."""
        p = self.progress
        if not p:
            return self.state
        left = p.get("eta_s")
        tail = f", {duration(left)} left" if left is not None and self.active else ""
        return f"{p.get('task', '?')}: {p.get('done', 0):,} of {p.get('total', 0):,} {p.get('unit', '')}{tail}"


def write_job(out: Path, record: dict) -> None:
    """Write ``OUT/.job.json`` atomically (a reader never sees half a file)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{JOB_FILE}.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps({**record, "updated": time.time()}, default=str), encoding="utf-8")
    os.replace(tmp, out / JOB_FILE)


def read_job(out: str | Path) -> JobStatus | None:
    """The job whose folder is ``out``, with its state as it stands now (None: no job there)."""
    out = Path(out)
    try:
        rec = read_record(out / JOB_FILE, non_finite="unknown")
    except Unreadable:
        return None
    # Every field checked: a hand-edited or torn record shows as a failed job, never a traceback.
    state = rec.get("state") if rec.get("state") in STATES else "failed"
    updated = rec.get("updated") if _number(rec.get("updated")) else 0.0
    with _LOCK:
        alive = str(out) in _RUNNING and _RUNNING[str(out)].is_alive()
    if state == "running" and not alive and time.time() - updated > STALE_AFTER_S:
        state = "interrupted"
    progress = rec.get("progress") if isinstance(rec.get("progress"), dict) else {}
    if not all(_number(progress.get(k)) for k in ("done", "total")) or \
            not all(progress.get(k) is None or _number(progress[k]) for k in ("elapsed_s", "eta_s")):
        progress = {}
    text = lambda key: rec.get(key) if isinstance(rec.get(key), str) else ""   # noqa: E731
    return JobStatus(out, state, rec.get("request") if isinstance(rec.get("request"), dict) else {}, progress,
                     text("message"), text("started"), float(updated))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def jobs(home: str | Path | None = None) -> list[JobStatus]:
    """Every job in the data folder's student registry, the newest first."""
    root = registry(home)
    found = [j for j in (read_job(p) for p in root.iterdir() if p.is_dir()) if j is not None] if root.is_dir() else []
    return sorted(found, key=lambda j: j.started, reverse=True)


def new_job_folder(home: str | Path | None, dataset_name: str) -> Path:
    """A fresh folder for a job's student: ``<registry>/<dataset>-<time>``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in dataset_name)[:40] or "dataset"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = registry(home) / f"{safe}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = registry(home) / f"{safe}-{stamp}-{n}"
    return out


def cancel_job(out: str | Path) -> None:
    """Ask the job in ``out`` to stop at its next progress report (a file: any process may ask)."""
    Path(out, CANCEL_FILE).write_text("cancel\n", encoding="utf-8")


def running_here(out: str | Path) -> bool:
    with _LOCK:
        thread = _RUNNING.get(str(Path(out)))
        return thread is not None and thread.is_alive()


def start_job(out: str | Path, request: JobRequest | dict, workspace, slot=None) -> threading.Thread:
    """Run (or resume) the job in a daemon thread with ``workspace`` (the process's one: the
    dashboard's, shared with its sessions); ``slot``: a context manager held while it runs (a
    dashboard's job slot). Refused while the same folder's job runs in this process."""
    out = Path(out)
    req = request.to_dict() if isinstance(request, JobRequest) else dict(request)
    with _LOCK:
        if str(out) in _RUNNING and _RUNNING[str(out)].is_alive():
            raise CascadeError(f"the job in {out} is already running")
        Path(out, CANCEL_FILE).unlink(missing_ok=True)
        previous = read_job(out) if (out / JOB_FILE).exists() else None
        started = previous.started if previous is not None and previous.started else \
            _dt.datetime.now().isoformat(timespec="seconds")
        write_job(out, {"state": "running", "request": req, "started": started, "progress": {}})
        thread = threading.Thread(target=_run, args=(out, req, workspace, slot, started), daemon=True,
                                  name=f"distill {out.name}")
        _RUNNING[str(out)] = thread
    thread.start()
    return thread


def _run(out: Path, req: dict, workspace, slot, started: str) -> None:
    record = {"state": "running", "request": req, "started": started, "progress": {}}
    lock = threading.Lock()
    stop_beat = threading.Event()
    last = [0.0]

    def save(**changes) -> None:
        with lock:
            record.update(changes)
            write_job(out, record)

    def beat() -> None:   # alive even while a model loads or a checkpoint is written
        while not stop_beat.wait(HEARTBEAT_S):
            save()

    def progress(event: ProgressEvent) -> None:
        if (out / CANCEL_FILE).exists():
            raise ScoringCancelled()
        now = time.perf_counter()
        if now - last[0] >= WRITE_EVERY_S or event.done >= event.total:
            last[0] = now
            task = event.task.split(";")[0]   # "training the student" without the checkpoint's path
            save(progress={"task": task, "done": event.done, "total": event.total, "unit": event.unit,
                           "elapsed_s": round(event.elapsed_s, 1), "eta_s": event.eta_s})

    heart = threading.Thread(target=beat, daemon=True, name=f"heartbeat {out.name}")
    heart.start()
    try:
        with slot() if slot is not None else nullcontext():
            result = run_request(out, req, workspace, progress)
        save(state="finished", message=f"trained in {duration(result.info.get('training', {}).get('train_s'))}",
             progress={**record["progress"], "eta_s": None})
    except TrainingCancelled as exc:   # said for the page: the CLI's message names a command
        save(state="stopped", message=f"training cancelled at {exc.pairs_done:,} of {exc.pairs_total:,} pairs; "
                                      "a checkpoint there keeps them")
    except ScoringCancelled:
        save(state="stopped", message="cancelled while scoring the teacher or comparing; what was scored is "
                                      "stored")
    except CascadeError as exc:
        save(state="failed", message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a thread's failure must reach the page, in one line
        save(state="failed", message=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        stop_beat.set()
        (out / CANCEL_FILE).unlink(missing_ok=True)


def run_request(out: Path, req: dict, workspace, progress):
    """The distillation a request describes, into ``out`` (resumed from its checkpoint if any)."""
    from ..cascade.spec import CascadeSpec
    from ..data import load_dataset
    from . import distill
    from .queries import exclude_held_out, file_queries, generated_queries, split_queries
    from .train import DistillSettings

    src, tr = req["dataset"], req["training"]
    dataset = load_dataset(src["path"], split=src.get("split"), fmt=src.get("fmt", "auto"), **(src.get("files") or {}))
    if tr["kind"] == "split":
        training = split_queries(src["path"], tr["split"], src.get("fmt", "auto"))
    elif tr["kind"] == "file":
        training = file_queries(tr["file"])
    else:
        training = generated_queries(dataset.corpus, int(tr["n"]), seed=int(tr.get("seed", 0)))
    held = dataset.judged_queries
    if req.get("held_out"):
        held = held.subset(held.ids[: int(req["held_out"])])
    training = exclude_held_out(training, held)
    teacher = CascadeSpec.from_dict(req["teacher"])
    label = req.get("label") or dataset.name
    return distill(dataset, training, teacher, workspace, out, DistillSettings(**req["settings"]), held_out=held,
                   progress=progress, held_out_label=f"{len(held)} judged queries of {label}")
