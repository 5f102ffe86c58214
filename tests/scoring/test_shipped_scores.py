"""Scores shipped beside a corpus: imported only after this machine's model agrees on the first
queries (whose timings become the step's costs), ignored when they disagree or were made for
another step or corpus; the estimate counts only what is left. Real BM25 and a real (tiny)
CrossEncoder; the shipped file is made by the tool's own scoring, as the packaging script does."""

import shutil

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.scoring.workspace import Workspace
from cascade_core.store.provenance import step_provenance
from cascade_core.store.scores import query_key
from cascade_core.store.shipped import (VERIFY_QUERIES, find_shipped_scores, shipped_scores_path,
                                        write_shipped_scores)

pytestmark = pytest.mark.slow   # two scoring passes of a real cross-encoder


def spec_for(model):
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 30, "final_k": 5,
                                  "stages": [{"scorer": {"kind": "cross-encoder", "model": model}, "keep": 10}]})


@pytest.fixture
def shipped_dataset(tiny_beir, tiny_cross_encoder, tmp_path):
    """A copy of the tiny dataset with the cross-encoder's scores shipped beside it, and those scores."""
    folder = tmp_path / "data"
    shutil.copytree(tiny_beir, folder)
    dataset = load_dataset(folder, split="test")
    ws = Workspace(tmp_path / "maker")
    exp = Experiment(dataset, spec_for(tiny_cross_encoder), ws)
    exp.ensure_scores()
    scorer = exp.plan.scorers[0]
    keys = [query_key(dataset.queries.text_of(q)) for q in dataset.queries.ids]
    made = {k: v for k, v in ws.store.get_many(scorer.id, dataset.corpus.fingerprint, keys).items() if v}
    made_by = step_provenance(scorer)   # as if made on the packager's machine
    made_by["machine"] = {**made_by["machine"], "id": "packager-machine"}
    write_shipped_scores(dataset.corpus, scorer.id, made, made_by, how="test")
    ws.close()
    return folder, scorer.id, made


def stored(ws, dataset, scorer_id):
    keys = [query_key(dataset.queries.text_of(q)) for q in dataset.queries.ids]
    return {k: v for k, v in ws.store.get_many(scorer_id, dataset.corpus.fingerprint, keys).items() if v}


def test_shipped_scores_are_checked_then_imported(shipped_dataset, tiny_cross_encoder, tmp_path):
    folder, scorer_id, made = shipped_dataset
    dataset = load_dataset(folder, split="test")
    ws = Workspace(tmp_path / "user")
    exp = Experiment(dataset, spec_for(tiny_cross_encoder), ws)
    exp.ensure_scores(exp.spec.prefix(0))
    estimate = exp.estimate()
    per_query = len(next(iter(made.values())))
    assert estimate.steps[1].units == VERIFY_QUERIES * per_query        # only the checked queries
    assert "shipped with the dataset" in estimate.steps[1].basis

    calls = []
    scorer = exp.plan.scorers[0]
    real = scorer.score
    scorer.score = lambda q, docs: calls.append(len(docs)) or real(q, docs)
    report = exp.ensure_scores()
    assert sum(calls) == 1 + VERIFY_QUERIES * per_query                 # the warm-up, then the checked queries
    assert any("taken from the file shipped with the dataset" in n for n in report.notes), report.notes
    assert report.scored_pairs["cross-encoder"] == VERIFY_QUERIES * per_query   # the rest was taken, not scored
    got = stored(ws, dataset, scorer_id)
    assert got.keys() == made.keys()
    for k in made:
        assert np.allclose([got[k][d] for d in made[k]], list(made[k].values()), atol=1e-5)
    costs = ws.store.costs(scorer.timing_key)
    assert len(costs) > 0                                               # this machine's timings, from the checked queries
    runs = ws.store.score_provenance(scorer_id, dataset.corpus.fingerprint)
    total, checked = sum(len(v) for v in made.values()), VERIFY_QUERIES * per_query
    # a run of its own for the file's scores, with the machine that made them (for the doctor)
    assert sorted((r["scores"], r["machine_id"] == "packager-machine") for r in runs) == \
        sorted([(checked, False), (total - checked, True)])
    assert exp.estimate().empty
    ws.close()


def test_scores_that_disagree_with_the_model_are_not_used(shipped_dataset, tiny_cross_encoder, tmp_path):
    folder, scorer_id, made = shipped_dataset
    dataset = load_dataset(folder, split="test")
    write_shipped_scores(dataset.corpus, scorer_id, {k: {d: s + 1.0 for d, s in v.items()} for k, v in made.items()},
                         {}, how="tampered")
    ws = Workspace(tmp_path / "user")
    exp = Experiment(dataset, spec_for(tiny_cross_encoder), ws)
    report = exp.ensure_scores()
    assert any("differ from this machine's model" in n for n in report.notes), report.notes
    got = stored(ws, dataset, scorer_id)
    for k in made:   # scored here, not the tampered file's
        assert np.allclose([got[k][d] for d in made[k]], list(made[k].values()), atol=1e-4)
    ws.close()


def test_a_file_for_another_corpus_or_step_is_ignored_with_a_reason(shipped_dataset):
    folder, scorer_id, _ = shipped_dataset
    dataset = load_dataset(folder, split="test")
    assert find_shipped_scores(dataset.corpus, scorer_id)[0] is not None
    assert find_shipped_scores(dataset.corpus, scorer_id + ":other") == (None, "")
    with open(folder / "corpus.jsonl", "a", encoding="utf-8") as f:   # the corpus changes: fingerprint too
        f.write('{"_id": "new", "title": "t", "text": "a new document"}\n')
    changed = load_dataset(folder, split="test")
    shipped, why = find_shipped_scores(changed.corpus, scorer_id)
    assert shipped is None and "another version of this corpus" in why
    path = shipped_scores_path(dataset.corpus.source, scorer_id)
    path.write_bytes(b"not a numpy file")
    shipped, why = find_shipped_scores(dataset.corpus, scorer_id)
    assert shipped is None and "could not be read" in why
