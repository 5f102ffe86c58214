"""The distillation library on small inputs: the teacher's numbers follow its ranking, training
lists and losses behave, query sources and the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cascade_core.cascade.simulate import simulate
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.data import QuerySet, load_dataset
from cascade_core.distill import DistillSettings, build_training_set, file_queries, generated_queries, split_queries
from cascade_core.distill.teacher import TrainingSet
from cascade_core.distill.train import list_loss, sample_list, step_lists
from cascade_core.errors import CascadeError

TEACHER = {"first_pass": {"kind": "bm25"}, "pool_size": 20,
           "stages": [{"scorer": {"kind": "bm25", "params": {"k1": 1.5}}, "keep": 5, "combine": "norm-sum"}],
           "final_k": 5}


def test_the_teacher_scores_order_the_candidates_as_the_cascade_does(split_beir, workspace):
    dataset = load_dataset(split_beir, split="test")
    training = split_queries(split_beir, "train")
    teacher = CascadeSpec.from_dict(TEACHER)
    ts = build_training_set(dataset, training, teacher, workspace)
    assert len(ts) == 12 and ts.depth == 20
    from cascade_core.analysis.experiment import Experiment

    exp = Experiment(dataset, teacher, workspace, queries=training.queries)
    run = simulate(teacher, exp.matrix)
    for q, qid in enumerate(ts.query_ids):
        by_teacher = [ts.docs[q][i] for i in np.argsort(-ts.teacher[q], kind="stable")]
        assert by_teacher[:5] == run.final_doc_ids(run.matrix.query_ids.index(qid))   # the final list on top
        relevant = training.qrels.relevant(qid)
        assert [d for d, g in zip(ts.docs[q], ts.grades[q]) if g > 0] == [d for d in ts.docs[q] if d in relevant]


def _toy(n_queries=3, n_docs=30) -> TrainingSet:
    rng = np.random.default_rng(0)
    return TrainingSet([f"q{i}" for i in range(n_queries)], ["text"] * n_queries,
                       [[f"d{j}" for j in range(n_docs)] for _ in range(n_queries)],
                       [rng.random(n_docs).astype(np.float32) for _ in range(n_queries)],
                       [np.eye(n_docs, dtype=np.float32)[n_docs - 1] for _ in range(n_queries)])


def test_a_list_takes_half_from_the_teachers_top_and_the_judged_relevant_first():
    ts = _toy()
    s = DistillSettings(per_query=8, top=5, labels=1.0)
    chosen = sample_list(ts, 0, s, np.random.default_rng(1))
    top5 = set(np.argsort(-ts.teacher[0])[:5])
    assert len(set(chosen)) == 8 and chosen[0] == 29          # the judged-relevant one (last, low teacher score)
    assert len(top5 & set(chosen)) == 3                       # half the list (4) less the judged one: 3 from the top
    assert len(sample_list(ts, 0, DistillSettings(per_query=8), np.random.default_rng(1))) == 8


def test_which_lists_a_step_sees_depends_on_seed_and_step_only():
    ts = _toy(n_queries=5)
    s = DistillSettings(batch_queries=2, per_query=4)
    a, b = step_lists(ts, s, 3), step_lists(ts, s, 3)
    assert [(q, c.tolist()) for q, c in a] == [(q, c.tolist()) for q, c in b]
    epoch = [q for step in range(5) for q, _ in step_lists(ts, DistillSettings(batch_queries=1, per_query=4), step)]
    assert sorted(epoch) == list(range(5))                    # every query once per epoch


def test_losses_are_lowest_when_the_student_agrees_with_the_teacher():
    import torch

    target = torch.tensor([[1.0, 0.5, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    for loss in ("listwise", "margin-mse"):
        s = DistillSettings(loss=loss, temperature=0.1)
        agree = list_loss(target / 0.1, target, mask, s)
        reverse = list_loss(-target / 0.1, target, mask, s)
        assert float(agree) < float(reverse)
    assert float(list_loss(target / 0.1 + 3.0, target, mask, DistillSettings(loss="margin-mse"))) < 1e-9


def test_settings_refuse_what_cannot_train():
    with pytest.raises(CascadeError, match="unknown loss 'hinge'"):
        DistillSettings(loss="hinge")
    with pytest.raises(CascadeError, match="per_query must be at least 2"):
        DistillSettings(per_query=1)
    assert DistillSettings.from_dict({**DistillSettings().to_dict(), "future": 1}) == DistillSettings()


def test_query_files_and_generated_queries(tmp_path, tiny_dataset):
    f = tmp_path / "q.jsonl"
    f.write_text('{"_id": "a", "text": "cells divide"}\n{"_id": "b", "text": "  "}\n')
    tq = file_queries(f)
    assert tq.queries.ids == ["a"] and tq.kind == "file" and "q.jsonl (1 queries)" in tq.source
    gen = generated_queries(tiny_dataset.corpus, 5, seed=3)
    assert len(gen.queries) == 5 and gen.queries.ids == generated_queries(tiny_dataset.corpus, 5, seed=3).queries.ids
    for qid in gen.queries.ids:
        (doc,) = gen.qrels.relevant(qid)
        assert gen.queries.text_of(qid) in tiny_dataset.corpus[doc].text
    with pytest.raises(CascadeError, match="no such file"):
        file_queries(tmp_path / "none.jsonl")


def test_the_overlap_rule_compares_texts_too():
    from cascade_core.distill import check_disjoint

    with pytest.raises(CascadeError, match="1 shared"):
        check_disjoint(QuerySet({"x": "Vitamin D  lowers risk"}), QuerySet({"7": "vitamin d lowers risk"}))


def test_students_newest_first_and_unfinished_ones_ignored(tmp_path):
    from cascade_core.models.students import registry, students

    root = registry(tmp_path)
    for name, created, complete in (("old", "2024-01-01", True), ("new", "2025-01-01", True),
                                    ("half", "2026-01-01", False)):
        (root / name).mkdir(parents=True)
        (root / name / "distilled.json").write_text(json.dumps({"complete": complete, "created": created}))
    (root / "bare").mkdir()
    assert [s.name for s in students(tmp_path)] == ["new", "old"]


def test_a_student_is_written_as_strict_json_and_older_ones_with_nan_still_count(tmp_path):
    """The first pass has no ms per pair (NaN). Written as null now; a student written before,
    with a bare NaN in its record, is still a student (it was refused as damaged, so the same
    distill command refused its own folder)."""
    from cascade_core.distill import _write_info
    from cascade_core.models.students import read_student, registry
    from cascade_core.readback import loads

    new, old = registry(tmp_path) / "new", registry(tmp_path) / "old"
    new.mkdir(parents=True), old.mkdir()
    info = {"complete": True, "report": {"rows": [{"name": "first pass", "ms_per_pair": float("nan")}]}}
    _write_info(new, info)
    assert "NaN" not in (new / "distilled.json").read_text()
    assert loads((new / "distilled.json").read_text())["report"]["rows"][0]["ms_per_pair"] is None
    (old / "distilled.json").write_text(json.dumps(info))   # Python's json writes a bare NaN
    assert "NaN" in (old / "distilled.json").read_text()
    for folder in (new, old):
        assert read_student(folder).info["report"]["rows"][0]["ms_per_pair"] is None
