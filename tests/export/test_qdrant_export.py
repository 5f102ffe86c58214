"""Issue 12, part 2: the exported Query API request, run on the embedded engine, returns what the
simulation says the first pass keeps (dense, BM25 as sparse vectors, SPLADE, hybrid RRF and DBSF)."""

import json

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.export.qdrant import (QueryVectors, build_edge_collection, plan, python_code, run_on_edge,
                                        same_ranking, write_export)

POOL = 20
SPECS = {
    "dense": {"kind": "dense"},
    "bm25": {"kind": "bm25"},
    "splade": {"kind": "sparse"},
    "hybrid-rrf": {"kind": "hybrid", "params": {"fusion": "rrf", "rrf_k": 60, "depth": 30}},
    # DBSF, added in one file (cascade_core/fusion/dbsf.py): Qdrant's own fusion, so exact there
    "hybrid-dbsf": {"kind": "hybrid", "params": {"fusion": "dbsf", "depth": 30}},
}


def simulated_first_pass(dataset, spec, workspace) -> dict[str, list[str]]:
    """Per query, the documents the simulated first pass keeps, in order; documents of score 0
    (no query term: a sparse first pass fills its pool with them in corpus order) left out,
    as Qdrant's sparse search never returns them."""
    exp = Experiment(dataset, spec, workspace)
    exp.ensure_scores(spec)
    run = exp.run(spec).run
    first = run.steps[0]
    pos, valid = run.corpus_positions(first)
    scores = first.scores[:, :first.keep]
    m = run.matrix
    return {qid: [m.doc_ids[p] for p, v, s in zip(pos[q], valid[q], scores[q]) if v and s != 0]
            for q, qid in enumerate(m.query_ids)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_the_exported_request_returns_the_simulated_first_pass(name, tiny_dataset, workspace, tmp_path):
    spec = CascadeSpec.from_dict({"first_pass": SPECS[name], "pool_size": POOL,
                                  "stages": [{"scorer": {"kind": "bm25"}, "keep": 10}], "final_k": 5})
    p = plan(spec)
    assert p.exact
    vectors = QueryVectors(p, tiny_dataset.corpus, workspace)
    expected = simulated_first_pass(tiny_dataset, spec, workspace)
    shard = build_edge_collection(tmp_path / "collection", p, vectors)
    try:
        differ = []
        for qid, ours in expected.items():
            theirs, scores = run_on_edge(shard, p, vectors.query(tiny_dataset.queries.text_of(qid)))
            if not same_ranking(ours, theirs, scores):
                differ.append((qid, len(ours), len(theirs), [(i, a, b, scores[i]) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]))
        assert not differ, differ[:3]
        assert len(expected) == len(tiny_dataset.queries)
    finally:
        shard.close()

    written = write_export(tmp_path / "first-pass.json", p, "scifact", vectors.attachments())
    body = json.loads(written[0].read_text())
    assert body["query"]["body"] == p.request and body["application_side_steps"][0].startswith("bm25 (keep 10)")
    compile(written[1].read_text(), str(written[1]), "exec")   # the qdrant-client code is valid Python


@pytest.mark.slow
def test_the_python_code_runs_against_a_qdrant_client(tiny_dataset, workspace, tmp_path):
    """The qdrant-client function it writes, run on a client (local mode standing in for a server)."""
    from qdrant_client import QdrantClient, models

    spec = CascadeSpec.from_dict({"first_pass": SPECS["hybrid-rrf"], "pool_size": POOL, "final_k": 5})
    p = plan(spec)
    vectors = QueryVectors(p, tiny_dataset.corpus, workspace)
    vectors.prepare()
    client = QdrantClient(location=":memory:")
    ids = tiny_dataset.corpus.ids
    docs = vectors.documents(ids)
    client.create_collection("c", vectors_config={"dense": models.VectorParams(size=len(docs["dense"][0]),
                                                                               distance=models.Distance.COSINE)},
                             sparse_vectors_config={"bm25": models.SparseVectorParams()})
    from cascade_core.export.qdrant import point_id

    client.upsert("c", [models.PointStruct(id=point_id(d), payload={"doc_id": d}, vector={
        "dense": docs["dense"][i], "bm25": models.SparseVector(indices=docs["bm25"][i][0], values=docs["bm25"][i][1])})
        for i, d in enumerate(ids)])
    namespace: dict = {}
    exec(python_code(p, "c"), namespace)
    expected = simulated_first_pass(tiny_dataset, spec, workspace)
    qid = next(iter(expected))
    got = namespace["first_pass"](client, vectors.query(tiny_dataset.queries.text_of(qid)))
    assert set(got[:10]) & set(expected[qid][:10]) and len(got) == POOL
    client.close()


def test_what_qdrant_cannot_run_is_said():
    approx = plan(CascadeSpec.from_dict({"first_pass": {"kind": "hybrid", "params": {"fusion": "norm-sum"}},
                                         "pool_size": 10, "final_k": 5}))
    assert not approx.exact and "DBSF" in approx.notes[0]
    odd_k = plan(CascadeSpec.from_dict({"first_pass": {"kind": "hybrid", "params": {"rrf_k": 2.5}},
                                        "pool_size": 10, "final_k": 5}))
    assert not odd_k.exact


@pytest.mark.slow
def test_cascade_export_writes_the_request_and_checks_it(tiny_beir, tmp_path):
    from tests.helpers import run_cli as cascade  # the CLI in this process

    out = tmp_path / "first-pass.json"
    res = cascade("export", "--qdrant", str(out), "--dataset", str(tiny_beir), "--first-pass", "hybrid",
                  "--pool-size", "20", "--stage", "bi:all-MiniLM-L6-v2@10", "--check", "5", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "dense top 100 + bm25 top 100, fused by RRF k=61, limit 20" in res.stdout
    assert "5 of 5 queries return the simulated first pass" in res.stdout
    body = json.loads(out.read_text())
    assert body["exact"] and body["bm25_vocabulary"] == "first-pass.vocab.json"
    assert out.with_suffix(".py").exists() and out.with_suffix(".vocab.json").exists()


def test_the_exported_files_make_the_same_bm25_vectors_without_this_tool(tiny_dataset, workspace, tmp_path):
    """The vocabulary file and the functions in the .py are enough to fill the collection and query it."""
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 5})
    p = plan(spec)
    vectors = QueryVectors(p, tiny_dataset.corpus, workspace)
    written = write_export(tmp_path / "fp.json", p, "c", vectors.attachments())
    vocab = json.loads(written[2].read_text())
    namespace: dict = {}
    exec(written[1].read_text(), namespace)
    tokenizer = vectors.source("bm25").index.tokenizer
    ids = tiny_dataset.corpus.ids[:8]
    for doc_id, (want_idx, want_val) in zip(ids, vectors.documents(ids)["bm25"]):
        idx, val = namespace["bm25_document_vector"](tokenizer.tokenize(tiny_dataset.corpus[doc_id].full_text), vocab)
        assert idx == want_idx and np.allclose(val, want_val, rtol=1e-9)
    text = tiny_dataset.queries.text_of(tiny_dataset.queries.ids[0])
    assert tuple(namespace["bm25_query_vector"](tokenizer.tokenize(text), vocab)) == tuple(vectors.query(text)["bm25"])
    body = json.loads(written[0].read_text())
    assert "idf[term]" in body["points"]["vectors"]["bm25"] and "Snowball" in body["points"]["vectors"]["bm25"]
