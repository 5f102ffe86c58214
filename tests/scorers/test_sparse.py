"""Learned sparse (SPLADE-tiny, packaged): stage and first pass, the persistent index, resuming."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.models import resolve_model
from cascade_core.scorers import ScorerConfig, ScorerContext, retriever_class, scorer_class
from cascade_core.scorers.sparse import SparseIndex, load_sparse_encoder


def relevant_and_not(dataset, n_queries=5, n_other=10):
    """(query text, relevant doc ids, some irrelevant doc ids) for the first judged queries."""
    out = []
    for qid in dataset.queries.ids[:n_queries]:
        rel = [d for d, g in dataset.qrels.judgments.get(qid, {}).items() if g > 0 and d in dataset.corpus]
        other = [d for d in dataset.corpus.ids if d not in rel][:n_other]
        out.append((dataset.queries.text_of(qid), rel, other))
    return out


@pytest.mark.slow
def test_scores_relevant_documents_above_irrelevant_ones(tiny_dataset, workspace):
    scorer = scorer_class("sparse")(ScorerConfig("sparse"), ScorerContext(tiny_dataset.corpus, workspace))
    wins = []
    for query, rel, other in relevant_and_not(tiny_dataset):
        scorer.prepare(rel + other)
        s = scorer.score(query, rel + other)
        wins.append(s[: len(rel)].mean() > s[len(rel):].mean())
        assert np.all(np.isfinite(s)) and np.all(s >= 0)   # non-negative vectors: dot products >= 0
    assert all(wins), wins


@pytest.mark.slow
def test_first_pass_equals_a_brute_force_dot_product(tiny_dataset, workspace):
    ctx = ScorerContext(tiny_dataset.corpus, workspace)
    retriever = retriever_class("sparse")(ScorerConfig("sparse"), ctx)
    retriever.prepare()
    index = retriever.index
    assert index.complete and index.stored_doc_ids() == set(tiny_dataset.corpus.ids)
    encoder = load_sparse_encoder(resolve_model("splade-tiny"))
    corpus_ids = tiny_dataset.corpus.ids
    # Stored rows are what the model makes of each document alone (batching changes nothing).
    some = corpus_ids[:4]
    alone = np.stack([encoder.encode([tiny_dataset.corpus.text_of(d)], 256).toarray()[0] for d in some])
    np.testing.assert_allclose(index.rows(some).toarray(), alone, atol=1e-4)
    dense_rows = index.rows(corpus_ids).toarray()
    for qid in tiny_dataset.queries.ids[:5]:
        text = tiny_dataset.queries.text_of(qid)
        q = encoder.encode([text], 64).toarray()[0]
        brute = np.array([float(np.dot(row, q)) for row in dense_rows])
        order = sorted(range(len(brute)), key=lambda i: (-brute[i], i))[:10]
        ids, scores = retriever.retrieve(text, 10)
        assert ids == [corpus_ids[i] for i in order]
        np.testing.assert_allclose(scores, brute[order], rtol=1e-5)
        # The stage scores a candidate list with the same numbers.
        stage = scorer_class("sparse")(ScorerConfig("sparse"), ctx)
        np.testing.assert_allclose(stage.score(text, ids), scores, rtol=1e-5)


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_index_resumes_after_an_interruption(tiny_dataset, workspace):
    model = resolve_model("splade-tiny")
    first = SparseIndex(workspace.home / "sparse", tiny_dataset.corpus, model, 256)

    def stop_after_two_parts(event):
        if event.done >= 32:
            raise Interrupted

    with pytest.raises(Interrupted):
        first.build(progress=stop_after_two_parts, part_docs=16)
    # A part being written when the process died is a temporary file: never read as a part.
    (first.folder / ".part-99999999999999999999-1.tmp.npz").write_bytes(b"half a file")
    assert not first.complete and len(first.stored_doc_ids()) == 32

    again = SparseIndex(workspace.home / "sparse", tiny_dataset.corpus, model, 256)   # a new process
    report = again.build(part_docs=16)
    assert (report.already_stored, report.encoded) == (32, len(tiny_dataset.corpus) - 32)
    assert report.complete and again.complete and again.stored_doc_ids() == set(tiny_dataset.corpus.ids)
    assert again.build().encoded == 0   # nothing left to do


def test_long_documents_are_cut_and_counted(tiny_dataset, workspace):
    index = SparseIndex(workspace.home / "sparse", tiny_dataset.corpus, resolve_model("splade-tiny"), 16)
    report = index.build()
    lengths = index.encoder.token_lengths([d.full_text for d in tiny_dataset.corpus])
    assert report.max_tokens == 16 and report.truncated == sum(n > 16 for n in lengths) > 0
    assert index.name != SparseIndex(workspace.home / "sparse", tiny_dataset.corpus,
                                     resolve_model("splade-tiny"), 256).name


def test_spec_round_trip_and_id_per_parameter():
    spec = CascadeSpec.from_dict({
        "first_pass": {"kind": "splade", "params": {"max_length": 128}}, "pool_size": 50,
        "stages": [{"scorer": {"kind": "sparse", "params": {"query_max_length": 32}}, "keep": 10}], "final_k": 5})
    assert CascadeSpec.from_yaml(spec.to_yaml()) == spec
    assert spec.stages[0].name == "sparse"
    cls = scorer_class("sparse")
    base = cls(ScorerConfig("sparse"), None).id
    ids = {cls(ScorerConfig("sparse", params={p.name: p.default + 8}), None).id for p in cls.parameters}
    assert base not in ids and len(ids) == len(cls.parameters)
    with pytest.raises(Exception, match="sparse parameter max_length must be a whole number >= 8"):
        CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "stages": [
            {"scorer": {"kind": "sparse", "params": {"max_length": 2}}, "keep": 10}]})


@pytest.mark.slow
def test_sparse_first_pass_and_stage_in_an_experiment(tiny_dataset, workspace):
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "sparse"}, "pool_size": 20,
                                  "stages": [{"scorer": {"kind": "bm25"}, "keep": 10},
                                             {"scorer": {"kind": "sparse"}, "keep": 5}], "final_k": 5})
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    result = exp.run()
    assert result.evaluation.steps[0].means["ndcg@10"] > 0.5   # real retrieval finds relevant documents
    assert all(s.predicted_ms > 0 for s in result.latency.stages)   # costs recorded for each step


def test_a_model_without_a_masked_lm_head_is_refused():
    """A bi-encoder given as a SPLADE model would score with a random head: one clear line instead."""
    from cascade_core.errors import ModelError

    with pytest.raises(ModelError, match="cannot load sparse model 'all-MiniLM-L6-v2'.*not a SPLADE model"):
        load_sparse_encoder(resolve_model("all-MiniLM-L6-v2"))
