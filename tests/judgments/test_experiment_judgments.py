"""Judgments made here join the dataset's qrels in every number an experiment gives; a corpus with
a plain list of queries and no qrels becomes evaluable by judging it."""

import shutil

import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.errors import CascadeError
from cascade_core.judgments import HOLES, PREFER_JUDGMENTS, pool_for_query

SPEC = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [], "final_k": 10})


@pytest.fixture
def unjudged(tiny_beir, tmp_path):
    """The tiny sample's corpus and queries, without qrels."""
    folder = tmp_path / "no-qrels"
    folder.mkdir()
    shutil.copy(tiny_beir / "corpus.jsonl", folder / "corpus.jsonl")
    shutil.copy(tiny_beir / "queries.jsonl", folder / "queries.jsonl")
    return load_dataset(folder)


def test_without_judgments_nothing_changes(tiny_dataset, workspace):
    exp = Experiment(tiny_dataset, SPEC, workspace)
    assert exp.queries.ids == tiny_dataset.judged_queries.ids
    assert exp.qrels.judgments == tiny_dataset.qrels.judgments and not exp.merged_qrels.conflicts
    assert not exp.judgments.path.exists()     # reading never creates the log


def test_a_corpus_and_queries_without_qrels_is_evaluated_on_what_was_judged(unjudged, workspace):
    exp = Experiment(unjudged, SPEC, workspace)
    assert len(exp.queries) == len(unjudged.queries) and exp.relevance is None
    exp.ensure_scores(SPEC)
    assert exp.run(SPEC).evaluation is None        # nothing to evaluate against yet
    q0, q1 = unjudged.queries.ids[:2]
    pool = pool_for_query(exp, q0, unjudged.queries.text_of(q0), SPEC, depth=5)
    assert len(pool) == 5 and pool.progress(exp.qrels) == "0 of 5 judged for this query"
    exp.judgments.judge(q0, pool.doc_ids[0], 2, who="t", query_text=unjudged.queries.text_of(q0))
    exp.judgments.judge(q0, pool.doc_ids[1], 0, who="t")
    assert exp.queries.ids == [q0]                 # evaluated: the queries judged relevant somewhere
    ev = exp.run(SPEC).evaluation
    assert ev is not None and ev.query_ids == [q0] and ev.final.means["recall"] == 1.0
    before = ev.final.means["ndcg@10"]
    # A second query, judged relevant on a document BM25 ranks low: both are evaluated now.
    pool1 = pool_for_query(exp, q1, unjudged.queries.text_of(q1), SPEC, depth=20)
    exp.judgments.judge(q1, pool1.doc_ids[0], 1, who="t")
    ev = exp.run(SPEC).evaluation
    assert ev.query_ids == [q0, q1] and ev.final.means["ndcg@10"] != before
    # Undo: back to one query, and the same numbers as before.
    exp.judgments.undo(who="t")
    assert exp.run(SPEC).evaluation.final.means["ndcg@10"] == pytest.approx(before)


def test_a_typed_query_is_scored_when_judged_and_then_evaluated(unjudged, workspace):
    exp = Experiment(unjudged, SPEC, workspace)
    exp.ensure_scores(SPEC)
    exp.judgments.add_queries({"typed-1": "stem cells and neurons"}, who="t", known=set(unjudged.queries.ids))
    assert "typed-1" in exp.all_queries and exp.all_queries.text_of("typed-1") == "stem cells and neurons"
    pool = pool_for_query(exp, "typed-1", "stem cells and neurons", SPEC, depth=3)   # scores it, stores it
    assert len(pool) == 3
    exp.judgments.judge("typed-1", pool.doc_ids[0], 2, who="t", query_text="stem cells and neurons")
    assert exp.run(SPEC).evaluation.query_ids == ["typed-1"]


def test_a_corpus_alone_needs_queries_first(tiny_beir, workspace):
    ds = load_dataset(tiny_beir / "corpus.jsonl")
    with pytest.raises(CascadeError, match="Judge page"):
        Experiment(ds, SPEC, workspace)
    from cascade_core.judgments import JudgmentStore

    JudgmentStore.for_corpus(workspace.home, ds.corpus.fingerprint).add_queries({"a": "cells"}, who="t")
    assert Experiment(ds, SPEC, workspace).queries.ids == ["a"]


def test_on_a_judged_dataset_holes_change_the_metrics_and_the_dataset_wins_conflicts(tiny_dataset, workspace):
    exp = Experiment(tiny_dataset, SPEC, workspace)
    exp.ensure_scores(SPEC)
    before = exp.run(SPEC).evaluation.final.means["ndcg@10"]
    qid = exp.queries.ids[0]
    holes = pool_for_query(exp, qid, exp.queries.text_of(qid), SPEC, mode=HOLES)
    assert holes.doc_ids and not set(holes.doc_ids) & set(tiny_dataset.qrels.judgments[qid])
    exp.judgments.judge(qid, holes.doc_ids[0], 2, who="t")
    after = exp.run(SPEC).evaluation.final.means["ndcg@10"]
    assert after != before
    # A conflict: the dataset calls this document relevant, the judge does not.
    doc, grade = next(iter(tiny_dataset.qrels.relevant(qid).items()))
    exp.judgments.judge(qid, doc, 0, who="t")
    assert [(c.doc, c.dataset_grade, c.judged_grade) for c in exp.merged_qrels.conflicts] == [(doc, grade, 0)]
    assert exp.run(SPEC).evaluation.final.means["ndcg@10"] == pytest.approx(after)   # the dataset wins
    exp.judgments.set_prefer(PREFER_JUDGMENTS, who="t")
    assert exp.qrels.grade(qid, doc) == 0
    assert exp.run(SPEC).evaluation.final.means["ndcg@10"] != pytest.approx(after)
