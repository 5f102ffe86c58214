"""Distillation: a real precision stage with no pretrained cross-encoder, trained here on CPU.

A *teacher* (any cascade: by default BM25 -> 100 -> MiniLM fused with BM25) ranks the first-pass
candidates of *training queries* (a split, a query file, or queries generated from documents;
never the evaluation queries); a *student* cross-encoder, started from the packaged MiniLM
weights, learns that ranking; the student is compared with its teacher on held-out queries and
written as a folder that works as ``cross:PATH`` in any cascade. Modules:

* :mod:`.queries`  where training queries come from, and the no-overlap rule
* :mod:`.teacher`  the teacher's ranking of each training query's candidates, as numbers
* :mod:`.student`  the student model and its folder
* :mod:`.train`    the training loop (losses, checkpoints and resume, time estimate)
* :mod:`.report`   teacher against student on held-out queries
* :mod:`cascade_core.models.students` the students kept under the data folder (and shipped with the
  sample), for the presets
* :mod:`.job`      a distillation run in the background, its state on disk: cancel, resume
* :mod:`.plan`     before any work: what a distillation will score and train, and how long it takes

>>> # training = split_queries("../shared/data/scifact", "train")
>>> # result = distill(load_dataset("../shared/data/scifact", split="test"), training,
>>> #                  CascadeSpec.from_dict(DEMO_SPEC), Workspace(), out=None)
>>> # print(result.comparison.table())     # first pass, teacher, student, student + first pass

Imports ``analysis`` (the teacher's experiment), ``scoring``, ``cascade``, ``data``, ``fusion``,
``latency``, ``models``, ``store`` and ``home`` (where students are kept).
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..cascade.spec import CascadeSpec
from ..data import QuerySet
from ..errors import CascadeError
from ..models.device import resolve_device
from ..models.students import INFO_FILE, StudentInfo, newest_student, read_student, registry, students
from ..progress import ProgressCallback
from ..readback import dumps
from ..store.provenance import machine
from .job import CANCEL_FILE, JOB_FILE
from .queries import (TrainingQueries, check_disjoint, exclude_held_out, file_queries, generated_queries,
                      split_queries)
from .report import Comparison, compare, student_spec
from .teacher import TrainingSet, build_training_set, teacher_scores
from .train import DistillSettings, TrainResult, checkpoint_path, estimate_seconds, run_key, train_student

__all__ = ["Comparison", "DistillResult", "DistillSettings", "StudentInfo", "TrainResult", "TrainingQueries",
           "TrainingSet", "build_training_set", "check_disjoint", "compare", "default_out", "distill",
           "estimate", "exclude_held_out", "file_queries", "generated_queries", "newest_student", "read_student",
           "registry", "split_queries", "student_spec", "students", "teacher_scores"]


@dataclass
class DistillResult:
    out: Path
    info: dict                        # what distilled.json holds
    comparison: Comparison | None     # None when no held-out queries were given
    trained: bool                     # False: the folder already held this very student

    @property
    def student(self) -> StudentInfo:
        return StudentInfo(self.out, self.info)


def default_out(dataset_name: str, key: str, home=None) -> Path:
    """``$CASCADE_HOME/models/distilled/<dataset>-<run key>``: the same command resumes the same folder."""
    return registry(home) / f"{dataset_name}-{key[:8]}"


def _check_out(out: Path, key: str) -> bool:
    """Whether ``out`` already holds this very student (True); refuse a folder holding anything
    else than this run's checkpoint or student."""
    done = read_student(out)
    if done is not None:
        if done.info.get("key") == key:
            return True
        raise CascadeError(f"{out} holds another distilled student (other settings, teacher or queries): "
                           "choose another output folder or delete it")
    if out.exists() and not out.is_dir():
        raise CascadeError(f"{out} is a file, not a folder")
    if out.is_dir() and any(p.name not in (".checkpoint", JOB_FILE, CANCEL_FILE) and not p.name.startswith(f"{JOB_FILE}.")
                            for p in out.iterdir()):   # a job's own files (.job) may be there
        raise CascadeError(f"{out} is not empty and holds no distilled student: choose an empty or new folder")
    return False


def estimate(training_set: TrainingSet, corpus, settings: DistillSettings, device: str = "auto") -> float:
    """Seconds training should take here on ``device`` (a setting; timed on a few steps of a
    throwaway student)."""
    return estimate_seconds(training_set, corpus, settings, device=resolve_device(device))


def distill(dataset, training: TrainingQueries, teacher: CascadeSpec, workspace, out: str | Path | None = None,
            settings: DistillSettings = DistillSettings(), held_out: QuerySet | None = None,
            evaluate: bool = True, signal: str = "final", depth: int | None = None,
            eval_depth: int | None = None, eval_max_length: int | None = None,
            progress: ProgressCallback | None = None, checkpoint_every_s: float = 120.0,
            held_out_label: str = "", training_set: TrainingSet | None = None) -> DistillResult:
    """Train a student of ``teacher`` on ``training`` and compare them on held-out queries.

    ``dataset`` gives the corpus and the held-out judgments; ``held_out`` defaults to its judged
    queries; training queries that are also held out are left out (a few) or refused (see
    :func:`exclude_held_out`). ``out`` defaults to
    :func:`default_out`; a checkpoint there of the same run is resumed, a finished student of
    the same run is not trained again (only compared).
    """
    held = held_out if held_out is not None else (dataset.judged_queries if evaluate else QuerySet({}))
    training = exclude_held_out(training, held)
    if evaluate and not len(held):
        raise CascadeError(f"dataset {dataset.name!r} has no judged queries to compare teacher and student on")
    ts = training_set or build_training_set(dataset, training, teacher, workspace, depth, signal, progress)
    # Where it trains is not what it learns: a checkpoint resumes on another device.
    key = run_key(ts, settings, {k: v for k, v in teacher.to_dict().items() if k != "device"})
    out = Path(out) if out is not None else default_out(dataset.name, key, workspace.home)
    trained = not _check_out(out, key)
    if trained:
        load1 = os.getloadavg()[0]
        result = train_student(ts, dataset.corpus, settings, out, key, progress, checkpoint_every_s,
                               device=resolve_device(teacher.device))
        info = _info(dataset, training, teacher, ts, settings, key, out, result, load1)
    else:
        info = read_student(out).info
    info["held_out"] = {"queries": len(held), "source": held_out_label or f"{len(held)} judged queries of "
                        f"{dataset.name}" + (f" split {dataset.split!r}" if dataset.split else "")}
    _write_info(out, info)
    comparison = None
    if evaluate:
        comparison = compare(dataset, held, teacher, str(out), workspace, eval_depth, eval_max_length, progress)
        info["report"] = comparison.to_dict()
        _write_info(out, info)
    return DistillResult(out, info, comparison, trained)


def _info(dataset, training, teacher, ts, settings, key, out, result, load1) -> dict:
    import torch

    return {
        "format": 1, "complete": True, "name": out.name, "key": key,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "dataset": {"name": dataset.name, "source": str(dataset.source), "corpus": dataset.corpus.fingerprint,
                    "documents": len(dataset.corpus)},
        "teacher": {"spec": teacher.to_dict(), "described": teacher.describe(), "signal": ts.signal},
        "training_queries": {**training.to_dict(), "used": len(ts), "candidates_per_query": ts.depth},
        "settings": settings.to_dict(),
        "training": {**result.to_dict(), "device": resolve_device(teacher.device)},
        "machine": {**machine(), "torch_threads": torch.get_num_threads(), "load_average_at_start": load1,
                    "load_average_at_end": os.getloadavg()[0]},
        "use_as": f"cross:{out}",
    }


def _write_info(out: Path, info: dict) -> None:
    tmp = out / f".{INFO_FILE}.tmp"   # hidden: never part of the model's content hash
    tmp.write_text(dumps(info, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, out / INFO_FILE)


def remove_student(path: str | Path) -> None:
    """Delete a student folder (only one this tool wrote: it holds distilled.json or a checkpoint)."""
    p = Path(path)
    if not ((p / INFO_FILE).exists() or checkpoint_path(p).exists()):
        raise CascadeError(f"{p} is not a distilled student folder: not deleting it")
    shutil.rmtree(p)
