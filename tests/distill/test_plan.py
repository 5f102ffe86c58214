"""Before a distillation: a teacher that would teach noise is refused (the stand-in; a stage the
doctor flags as harmful, judged on the teacher's own cut-offs and combinations even when its
experiment is shared with another spec of the same scorers); the training rate comes from what
this data folder measured, a run in progress included; too many pairs for the candidates is said."""

from types import SimpleNamespace

import numpy as np

from cascade_core.analysis.evaluation import Relevance
from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
from cascade_core.distill.job import new_job_folder, write_job
from cascade_core.distill.plan import DistillEstimate, teacher_problems, training_rate
from cascade_core.distill.train import DistillSettings


def _specs():
    base = {"first_pass": {"kind": "bm25"}, "pool_size": 4, "final_k": 4}
    replacing = CascadeSpec.from_dict({**base, "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 4}]})
    fused = CascadeSpec.from_dict({**base, "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 4,
                                                       "combine": "norm-sum", "weight": 0.1}]})
    return replacing, fused


def test_a_harmful_stage_is_found_on_the_teachers_own_spec_not_the_shared_experiments():
    # 3 queries: the first pass ranks the relevant document (column 0) first; the stage buries it.
    m = ScoreMatrix(["q1", "q2", "q3"], list("abcd"), np.tile(np.arange(4), (3, 1)),
                    np.tile([4.0, 3, 2, 1], (3, 1)), [np.tile([0.1, 0.9, 0.8, 0.7], (3, 1))])
    grades = np.zeros((3, 4))
    grades[:, 0] = 1
    rel = Relevance(grades, np.ones((3, 1)), np.array([1, 1, 1]))
    replacing, fused = _specs()
    # An experiment made for the fused spec (mostly BM25's order: not harmful), asked about the replacing one.
    shared = SimpleNamespace(spec=fused, relevance=rel,
                             estimate=lambda spec=None: SimpleNamespace(empty=True),
                             run=lambda spec=None: SimpleNamespace(run=simulate(spec or fused, m)))
    problems = teacher_problems(replacing, shared)
    assert len(problems) == 1 and "harmful" in problems[0] and "bi-encoder" in problems[0]
    assert teacher_problems(fused, shared) == []
    # nothing stored to check with: not checked, and nothing is scored to check
    unscored = SimpleNamespace(estimate=lambda spec=None: SimpleNamespace(empty=False))
    assert teacher_problems(replacing, unscored) == []


def test_the_stand_in_is_refused_without_an_experiment(tmp_path):
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 10, "final_k": 5, "stages": [
        {"scorer": {"kind": "cross-encoder", "model": str(tmp_path / "untrained-tiny-cross-encoder")}, "keep": 5}]})
    [problem] = teacher_problems(spec)
    assert "untrained stand-in" in problem


def test_a_run_in_progress_measures_the_training_rate(tmp_path):
    settings = DistillSettings(layers=2, max_length=64)
    rate, basis = training_rate(settings, home=tmp_path)
    assert "not measured here yet" in basis and rate > 0
    out = new_job_folder(tmp_path, "data")
    write_job(out, {"state": "running", "started": "2026-01-01T00:00:00",
                    "request": {"settings": settings.to_dict()},
                    "progress": {"task": "training the student", "done": 1000, "total": 16000, "elapsed_s": 200.0}})
    rate, basis = training_rate(settings, home=tmp_path)
    assert rate == 5.0 and out.name in basis
    other = DistillSettings(layers=6, max_length=128)   # another shape: that run says nothing about it
    assert "not measured here yet" in training_rate(other, home=tmp_path)[1]


def test_too_many_pairs_for_the_candidates_is_said():
    few = DistillEstimate([], 400_000, 4 * 100, 60.0, "x", 300, 9.0, "y")
    assert any("seen about 1000 times" in line for line in few.lines())
    enough = DistillEstimate([], 16_000, 807 * 100, 60.0, "x", 300, 9.0, "y")
    assert not any("times" in line for line in enough.lines())
