"""Issue 12, part 3: an existing collection, made by a test with the engine (not by this tool), as the
first pass: nothing re-indexed, documents matched by a payload id, judged ids it lacks reported."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.errors import IndexingError
from cascade_core.models import load_bi_encoder, resolve_model
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

LEFT_OUT = 3        # corpus documents the collection lacks (one of them judged relevant)
STRANGERS = 2       # points naming no corpus document


@pytest.fixture(scope="module")
def collection(tiny_dataset, tmp_path_factory):
    """A Qdrant Edge shard with a named vector 'text-emb' and the id in payload 'paper_id'."""
    from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams, Point, UpdateOperation

    corpus, qrels = tiny_dataset.corpus, tiny_dataset.qrels
    judged = sorted({d for q in qrels.query_ids for d in qrels.relevant(q)})
    left_out = [judged[0]] + [d for d in corpus.ids if d not in judged][:LEFT_OUT - 1]
    kept = [d for d in corpus.ids if d not in left_out]
    model = load_bi_encoder(resolve_model("all-MiniLM-L6-v2"))
    vectors = model.encode([corpus.text_of(d) for d in kept] + ["unrelated one", "unrelated two"],
                           normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    folder = tmp_path_factory.mktemp("theirs") / "papers"
    shard = EdgeShard.create(str(folder), EdgeConfig(vectors={"text-emb": EdgeVectorParams(size=384,
                                                                                         distance=Distance.Cosine)}))
    ids = kept + [f"stranger-{i}" for i in range(STRANGERS)]
    shard.update(UpdateOperation.upsert_points([Point(i + 1, {"text-emb": v.tolist()}, {"paper_id": d, "year": 2020})
                                                for i, (d, v) in enumerate(zip(ids, vectors))]))
    shard.flush()
    shard.close()
    return {"folder": folder, "kept": kept, "left_out": left_out, "vectors": vectors[:len(kept)], "model": model}


def spec_for(folder, **params):
    return CascadeSpec.from_dict({"first_pass": {"kind": "collection", "params": {
        "collection": str(folder), "vector": "text-emb", "id_field": "paper_id", **params}},
        "pool_size": 20, "stages": [{"scorer": {"kind": "bm25"}, "keep": 10}], "final_k": 5})


@pytest.mark.slow
def test_an_existing_collection_is_the_first_pass(tiny_dataset, collection, workspace):
    spec = spec_for(collection["folder"])
    exp = Experiment(tiny_dataset, spec, workspace)
    report = exp.ensure_scores()
    coverage, judged = report.notes[0], report.notes[-1]
    assert f"{len(tiny_dataset.corpus) - LEFT_OUT} of the corpus's {len(tiny_dataset.corpus)} documents found" in coverage
    assert f"{LEFT_OUT} corpus documents are not in it" in coverage and f"{STRANGERS} points name no corpus" in coverage
    assert "1 judged documents are not in it" in judged and repr(collection["left_out"][0]) in judged

    run = exp.run(spec).run                                   # the first pass is the collection's exact search
    pos, valid = run.corpus_positions(run.steps[0])
    kept, vectors, model = collection["kept"], collection["vectors"], collection["model"]
    for q, qid in enumerate(run.matrix.query_ids[:4]):
        ours = [run.matrix.doc_ids[p] for p, v in zip(pos[q], valid[q]) if v]
        qv = model.encode([tiny_dataset.queries.text_of(qid)], normalize_embeddings=True)[0]
        brute = [kept[i] for i in np.argsort(-(vectors @ qv), kind="stable")[:20]]
        assert ours[:10] == brute[:10]
        assert not set(ours) & set(collection["left_out"])
    assert exp.run(spec).evaluation.final.means["ndcg@10"] > 0


def test_a_wrong_id_field_or_dimension_is_one_clear_error(tiny_dataset, collection, workspace):
    with pytest.raises(IndexingError, match="none of its .* points names a document of this corpus by payload "
                                            "field 'year'"):
        Experiment(tiny_dataset, spec_for(collection["folder"], id_field="year"), workspace).ensure_scores()
    with pytest.raises(IndexingError, match="no dense vector named 'other'"):
        Experiment(tiny_dataset, spec_for(collection["folder"], vector="other"), workspace).ensure_scores()


@pytest.mark.slow
def test_cascade_eval_with_an_existing_collection(tiny_beir, collection, tmp_path):
    folder = collection["folder"]
    res = cascade("eval", "--dataset", str(tiny_beir), "--first-pass", "collection", "--pool-size", "20",
                  "--param", f"first-pass.collection={folder}", "--param", "first-pass.vector=text-emb",
                  "--param", "first-pass.id_field=paper_id", "--stage", "bm25@10", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "note: collection" in res.stdout and "judged documents are not in it" in res.stdout
    assert not (tmp_path / "home" / "qdrant-edge").exists() or not any((tmp_path / "home" / "qdrant-edge").iterdir())
