"""Before a distillation does any work: what it will score and train, and about how long that
takes here; and whether the teacher is fit to teach.

:func:`estimate_distillation` is a dry run (no model call, no training step): the teacher's
scoring on the training queries and on the held-out queries comes from the scoring estimate
(:func:`cascade_core.scoring.estimate.estimate_scoring`: stored scores and recorded costs), the
training from the throughput of students trained on this machine before (their
``distilled.json``), and the student's held-out scoring from their measured cost per pair. Where
this machine never trained or ran a student, a stated default is used and said.

:func:`teacher_problems` refuses a teacher that would teach noise: a stage with the untrained
stand-in cross-encoder, or a stage the doctor finds harmful on the stored scores
(:mod:`cascade_core.doctor.harm`).

>>> est = DistillEstimate([], 16000, 80700, 2000.0, "default", 30000, 600.0, "default")
>>> est.needs_confirmation, round(est.seconds)
(True, 2600)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..formats import duration
from ..models.students import StudentInfo, students
from ..scoring.estimate import CONFIRM_ABOVE_S, DEFAULT_RATES, StepEstimate
from ..store.provenance import machine
from .job import jobs
from .train import DistillSettings

# A 6-layer MiniLM student at 128 tokens trained at 14.4 pairs/s on a quiet 2-core machine
# (README, "Distilling"); per core, and scaled by layers and tokens, for a machine never measured.
DEFAULT_TRAIN_PAIRS_PER_S_PER_CORE = 7.0
DEFAULT_STUDENT_MS_PER_PAIR = DEFAULT_RATES["per-pair"][1]
SMALLER_AT_MOST = 3.0         # a smaller student's default speed-up, at most
REPEATS_WARNING = 5.0         # each training candidate seen more often than this: say so


@dataclass
class DistillEstimate:
    """Teacher scoring (training and held-out queries), training, and the student's held-out
    scoring: units, seconds and where each rate comes from."""

    teacher: list[StepEstimate]   # steps with something to score (training queries, then held out)
    train_pairs: int
    candidates: int               # training queries x the teacher's pool: the distinct pairs at most
    train_s: float
    train_basis: str
    student_pairs: int
    student_s: float
    student_basis: str

    @property
    def teacher_s(self) -> float:
        return float(sum(s.seconds for s in self.teacher))

    @property
    def teacher_pairs(self) -> int:
        return int(sum(s.units for s in self.teacher if not s.first_pass))

    @property
    def seconds(self) -> float:
        return self.teacher_s + self.train_s + self.student_s

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_ABOVE_S

    def lines(self) -> list[str]:
        """What will happen, one line per part, with its time and where the rate comes from."""
        out = []
        if self.teacher:
            parts = "; ".join(s.describe() for s in self.teacher)
            out.append(f"Teacher scoring first (not stored yet): {parts}.")
        else:
            out.append("Teacher: every score it needs is stored (no scoring).")
        out.append(f"Training: {self.train_pairs:,} pairs, ~{duration(self.train_s)} ({self.train_basis}).")
        if self.candidates and self.train_pairs > REPEATS_WARNING * self.candidates:
            out.append(f"Few training candidates for that many pairs: at most {self.candidates:,} distinct pairs, "
                       f"so each is seen about {self.train_pairs / self.candidates:.0f} times and the student may "
                       "learn them by heart: more training queries, or fewer pairs.")
        out.append(f"Comparing on the held-out queries: the student scores {self.student_pairs:,} pairs, "
                   f"~{duration(self.student_s)} ({self.student_basis}).")
        out.append(f"About {duration(self.seconds)} in all.")
        return out


def training_rate(settings: DistillSettings, device: str = "cpu", home=None) -> tuple[float, str]:
    """Training pairs per second here for ``settings``: the newest student trained on this
    machine and device with the same layers and tokens, else the newest job of the data folder
    with them that has trained (a run in progress or stopped measures it too), else a default per
    core; and where the figure comes from."""
    here = machine().get("id")
    for s in students(home):
        rate = _measured_rate(s, settings, device, here)
        if rate is not None:
            return rate, f"{rate:.1f} pairs/s, measured here training {s.name}"
    for job in jobs(home):
        shape, p = job.request.get("settings") or {}, job.progress
        if shape.get("layers") == settings.layers and shape.get("max_length") == settings.max_length \
                and str(p.get("task", "")).startswith("training") and p.get("done") and p.get("elapsed_s"):
            rate = p["done"] / p["elapsed_s"]
            return rate, f"{rate:.1f} pairs/s, measured here by the run in {job.out.name}"
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # Fewer layers and tokens are cheaper, but the optimiser, the tokenizer and the loss are not:
    # the saving is capped, so a small student is not promised a speed it will not reach.
    rate = DEFAULT_TRAIN_PAIRS_PER_S_PER_CORE * cores * min(SMALLER_AT_MOST, (6 / settings.layers)
                                                            * (128 / settings.max_length))
    return rate, (f"{rate:.1f} pairs/s: not measured here yet, a default for {cores} CPU cores "
                  "(the first run measures it)")


def _measured_rate(student: StudentInfo, settings: DistillSettings, device: str, here) -> float | None:
    info, s = student.info, student.info.get("settings", {})
    tr = info.get("training") or {}
    if (info.get("machine") or {}).get("id") != here or s.get("layers") != settings.layers \
            or s.get("max_length") != settings.max_length or (tr.get("device") or "cpu") != device:
        return None
    pairs, secs = tr.get("pairs"), tr.get("train_s")
    if not pairs or not secs or not math.isfinite(secs) or secs <= 0:
        return None
    return pairs / secs


def student_pair_ms(settings: DistillSettings, home=None) -> tuple[float, str]:
    """The student's scoring cost per pair here: a student of the same shape measured on this
    machine's held-out comparison, else the scoring estimate's default for a cross-encoder."""
    here = machine().get("id")
    for s in students(home):
        shape = s.info.get("settings", {})
        if (s.info.get("machine") or {}).get("id") != here or shape.get("layers") != settings.layers \
                or shape.get("serve_length") != settings.serve_length:
            continue
        rows = {r.get("name"): r for r in (s.info.get("report") or {}).get("rows", [])}
        ms = (rows.get("student") or {}).get("ms_per_pair")
        if ms is not None and math.isfinite(ms) and ms > 0:
            return ms, f"{ms:.1f} ms a pair, measured here for {s.name}"
    return DEFAULT_STUDENT_MS_PER_PAIR, f"not measured here yet: default {DEFAULT_STUDENT_MS_PER_PAIR:g} ms a pair"


def estimate_distillation(dataset, training, teacher, workspace, settings: DistillSettings, held_out,
                          device: str = "cpu") -> DistillEstimate:
    """The whole distillation's work and time, before any of it (see the module)."""
    from ..analysis.experiment import Experiment

    steps = []
    for queries, where in ((training.queries, "training queries"), (held_out, "held-out queries")):
        est = Experiment(dataset, teacher, workspace, queries=queries).estimate()
        steps += [StepEstimate(f"{s.step} ({where})", s.scorer_id, s.queries, s.units, s.seconds, s.basis, s.exact,
                               s.first_pass) for s in est.steps if s.units]
    rate, train_basis = training_rate(settings, device, workspace.home)
    ms, student_basis = student_pair_ms(settings, workspace.home)
    pairs = len(held_out) * teacher.pool_size
    return DistillEstimate(steps, settings.pairs, len(training.queries) * teacher.pool_size, settings.pairs / rate,
                           train_basis, pairs, pairs * ms / 1000, student_basis)


def teacher_problems(teacher, experiment=None) -> list[str]:
    """Why ``teacher`` must not teach, one line each (empty: fit). ``experiment``: the teacher's
    experiment on the dataset's judged queries, for the doctor's harm check when its scores are
    stored (skipped otherwise: nothing is scored to check a teacher)."""
    from ..cascade.presets import is_stand_in

    out = [f"stage {s.name!r} is the untrained stand-in cross-encoder: its ranking is random, and a student "
           "would learn noise" for s in teacher.stages if is_stand_in(s.scorer.model)]
    # The spec passed on: an experiment is shared by every spec of the same scorers (a fused and
    # a replacing cascade alike), and its own spec may be the other one.
    if experiment is not None and experiment.estimate(teacher).empty:
        from ..doctor.harm import check_harmful_stages

        result = experiment.run(teacher)
        for check in check_harmful_stages(result.run, experiment.relevance):
            if check.status == "flagged":
                out.append(f"the doctor flags a harmful stage: {check.summary}")
    return out


def best_stored_teacher(dataset, workspace, candidates: dict) -> tuple[str, object, float] | None:
    """Of ``candidates`` (label -> spec or spec dict), the fit teacher with the best nDCG@10 on the
    dataset's judged queries, simulated from stored scores only (one with a score missing is
    skipped: nothing is scored to choose): ``(label, spec, nDCG@10)``, or None."""
    from ..analysis.experiment import Experiment
    from ..cascade.spec import CascadeSpec

    best = None
    for label, raw in candidates.items():
        spec = raw if isinstance(raw, CascadeSpec) else CascadeSpec.from_dict(raw)
        if teacher_problems(spec):   # the stand-in: not even simulated
            continue
        exp = Experiment(dataset, spec, workspace)
        if not exp.estimate(spec).empty or teacher_problems(spec, exp):
            continue
        evaluation = exp.run().evaluation
        if evaluation is None:
            continue
        ndcg = float(evaluation.final.means["ndcg@10"])
        if best is None or ndcg > best[2]:
            best = (label, spec, ndcg)
    return best
