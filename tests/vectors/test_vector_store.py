"""The two vector back ends (the engine in process, qdrant-client for a server), exact or HNSW search,
and indexes of the old embedded store (qdrant-client local mode) converted into the engine."""

from __future__ import annotations

import numpy as np
import pytest

from cascade_core.models import resolve_model
from cascade_core.scoring.workspace import Workspace
from cascade_core.vectors.backends import EdgeStore, ServerStore
from cascade_core.vectors.index import VectorIndex, ann_recall, list_indexes

MINILM = resolve_model("all-MiniLM-L6-v2")


def unit(rng, n, dim=16):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def ids(n):
    return [f"00000000-0000-4000-8000-{i:012d}" for i in range(n)]


# -- exact below the threshold, HNSW from it on ------------------------------------------------

@pytest.mark.slow
def test_small_index_is_searched_exactly(tiny_dataset, workspace):
    index = workspace.vector_index(tiny_dataset.corpus, MINILM)
    index.build()
    info = index.info()
    assert info.search == "exact" and not index.uses_hnsw()
    assert workspace.qdrant.indexed_count(index.name) == 0        # no graph was built


@pytest.mark.slow
def test_past_the_threshold_the_graph_is_built_and_used(tiny_dataset, tmp_path):
    ws = Workspace(tmp_path / "home")
    try:
        index = VectorIndex(ws.qdrant, tiny_dataset.corpus, MINILM, hnsw_threshold=20)
        events = []
        index.build(progress=events.append)
        info = index.info()
        assert info.complete and info.search == "hnsw" and index.uses_hnsw()
        assert ws.qdrant.indexed_count(index.name) == info.n_points     # every vector in the graph
        assert any(e.task.startswith("building the HNSW graph") for e in events)
        q = index.encode_queries(["cells and proteins"])[0]
        found, _ = index.search(q, 10)                                  # through the graph
        exact, _ = index.search(q, 10, exact=True)
        assert len(set(found) & set(exact)) >= 9
        recall = index.ann_recall(index.encode_queries(["cells", "vitamin D", "cancer risk"]), k=10)
        assert 0.9 <= recall <= 1.0
    finally:
        ws.close()


@pytest.mark.slow
def test_a_graph_build_cut_short_is_finished_by_the_next_build(tiny_dataset, tmp_path):
    ws = Workspace(tmp_path / "home")
    try:
        small = VectorIndex(ws.qdrant, tiny_dataset.corpus, MINILM, hnsw_threshold=10**9)
        small.build()                      # complete, no graph: as if killed before the graph was built
        index = VectorIndex(ws.qdrant, tiny_dataset.corpus, MINILM, hnsw_threshold=20)
        assert index.needs_ann() and index.info().search.startswith("hnsw (graph not built")
        assert index.build().encoded == 0
        assert not index.needs_ann() and index.info().search == "hnsw"
    finally:
        ws.close()


def test_ann_recall_of_the_engine_on_clustered_vectors(tmp_path):
    rng = np.random.default_rng(0)
    centres = unit(rng, 20, 32)
    v = centres[rng.integers(0, 20, 3000)] + 0.3 * unit(rng, 3000, 32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    store = EdgeStore(tmp_path / "edge")
    store.create("x", 32, {})
    store.upsert("x", ids(3000), v, [{"doc_id": f"d{i}"} for i in range(3000)])
    assert store.indexed_count("x") == 0
    store.build_ann("x")
    assert store.indexed_count("x") == 3000
    q = v[:20] + 0.05 * unit(rng, 20, 32)
    recall = ann_recall(store, "x", q, k=50)
    assert 0.9 <= recall <= 1.0
    exact, scores = store.search("x", q[0], 50, exact=True)
    np.testing.assert_allclose(scores, np.sort(v @ (q[0] / np.linalg.norm(q[0])))[::-1][:50], atol=1e-5)
    store.close()


# -- a server: qdrant-client (a local client stands in here) --------------------------------------

@pytest.mark.slow
def test_a_server_url_gives_the_qdrant_client_back_end(tiny_dataset, tmp_path, monkeypatch):
    import qdrant_client

    real, made = qdrant_client.QdrantClient, []

    def fake(url=None, api_key=None, **kw):   # the "server": a local client, recording how it was asked
        made.append((url, api_key))
        return real(":memory:")

    monkeypatch.setattr(qdrant_client, "QdrantClient", fake)
    ws = Workspace(tmp_path / "home", qdrant_url="http://qdrant.example:6333", qdrant_api_key="secret")
    try:
        assert isinstance(ws.qdrant, ServerStore) and ws.qdrant_location == "http://qdrant.example:6333"
        assert made and all(m == ("http://qdrant.example:6333", "secret") for m in made)
        index = ws.vector_index(tiny_dataset.corpus, MINILM)
        report = index.build()
        assert report.complete and index.info().complete and index.info().n_points == len(tiny_dataset.corpus)
        assert [i.name for i in list_indexes(ws.qdrant)] == [index.name]
        q = index.encode_queries(["cells"])[0]
        served, served_scores = index.search(q, 10)
        assert not (tmp_path / "home" / "qdrant-edge").exists()      # nothing embedded was made
    finally:
        ws.close()
    # The same vectors in the engine: the same ranking and scores.
    ws = Workspace(tmp_path / "home2")
    try:
        index = ws.vector_index(tiny_dataset.corpus, MINILM)
        index.build()
        embedded, scores = index.search(q, 10)
        assert embedded == served
        np.testing.assert_allclose(scores, served_scores, atol=1e-5)
    finally:
        ws.close()


def test_server_store_answers_like_the_engine(tmp_path):
    from qdrant_client import QdrantClient

    rng = np.random.default_rng(1)
    v = unit(rng, 200)
    stores = [EdgeStore(tmp_path / "edge"), ServerStore(QdrantClient(":memory:"))]
    for store in stores:
        store.create("cx-t", 16, {"complete": False, "model": "m"})
        store.upsert("cx-t", ids(200), v, [{"doc_id": f"d{i}"} for i in range(200)])
        store.set_metadata("cx-t", {**store.metadata("cx-t"), "complete": True})
    a, b = (s.search("cx-t", v[3], 5, exact=True) for s in stores)
    assert a[0] == b[0] and a[0][0] == "d3"
    np.testing.assert_allclose(a[1], b[1], atol=1e-5)
    for store in stores:
        assert store.metadata("cx-t")["complete"] and store.dim("cx-t") == 16 and store.count("cx-t") == 200
        assert sorted(store.doc_ids("cx-t")) == sorted(f"d{i}" for i in range(200))
        got = store.retrieve("cx-t", ids(2), payload=["doc_id"], vectors=True)
        np.testing.assert_allclose(sorted(g[2][0] for g in got), sorted(v[:2, 0]), atol=1e-6)
        store.drop("cx-t")
        assert not store.exists("cx-t")
        store.close()


# -- the old embedded store (qdrant-client local mode) ------------------------------------------

def legacy_home(tmp_path, corpus, only=None):
    """A data folder as the first version left it: an index in qdrant-client local mode under qdrant/."""
    from qdrant_client import QdrantClient

    home = tmp_path / "home"
    (home).mkdir()
    client = QdrantClient(path=str(home / "qdrant"))
    index = VectorIndex(ServerStore(client), corpus, MINILM)
    report = index.build(only)
    vectors = index.vectors(corpus.ids if only is None else only)
    client.create_collection("someone-elses", vectors_config=__import__("qdrant_client").models.VectorParams(
        size=4, distance="Cosine"))
    client.close()
    return home, index.name, report, vectors


@pytest.mark.slow
def test_an_old_local_mode_index_is_converted_not_re_encoded(tiny_dataset, tmp_path):
    home, name, made, vectors = legacy_home(tmp_path, tiny_dataset.corpus)
    assert made.complete
    heard = []
    ws = Workspace(home, notify=heard.append)
    try:
        index = ws.vector_index(tiny_dataset.corpus, MINILM)
        info = index.info()
        assert info.complete and info.n_points == len(tiny_dataset.corpus)
        assert len(heard) == 1 and "converted 1 vector index" in heard[0] and name in heard[0]
        assert "no re-encoding" in heard[0] and "someone-elses" in heard[0]
        assert index.build().encoded == 0                                   # nothing encoded again
        np.testing.assert_allclose(index.vectors(tiny_dataset.corpus.ids), vectors, atol=1e-6)
    finally:
        ws.close()
    kept = [p for p in home.iterdir() if p.name.startswith("qdrant.converted-")]
    assert len(kept) == 1 and (kept[0] / "meta.json").exists() and not (home / "qdrant").exists()
    again = []
    Workspace(home, notify=again.append).vector_index(tiny_dataset.corpus, MINILM).info()
    assert again == []                                                      # said once


@pytest.mark.slow
def test_a_half_built_old_index_resumes_in_the_engine(tiny_dataset, tmp_path):
    home, name, made, _ = legacy_home(tmp_path, tiny_dataset.corpus, only=tiny_dataset.corpus.ids[:10])
    assert not made.complete
    ws = Workspace(home)
    try:
        index = ws.vector_index(tiny_dataset.corpus, MINILM)
        assert not index.info().complete and index.info().n_points == 10
        report = index.build()
        assert report.encoded == len(tiny_dataset.corpus) - 10 and report.complete
    finally:
        ws.close()


def test_an_unreadable_old_store_is_moved_aside_and_said(tiny_dataset, tmp_path):
    home = tmp_path / "home"
    (home / "qdrant").mkdir(parents=True)
    (home / "qdrant" / "meta.json").write_bytes(b"\xff not json")
    heard = []
    ws = Workspace(home, notify=heard.append)
    try:
        assert list_indexes(ws.qdrant) == []
    finally:
        ws.close()
    assert len(heard) == 1 and "could not be read" in heard[0] and "rebuilt" in heard[0]
    assert [p.name.startswith("qdrant.unreadable-") for p in home.iterdir() if p.name.startswith("qdrant.")] == [True]


@pytest.mark.slow
def test_listing_does_not_wait_for_an_index_another_process_holds(tiny_dataset, tmp_path):
    import subprocess
    import sys

    home = tmp_path / "home"
    ws = Workspace(home)
    index = ws.vector_index(tiny_dataset.corpus, MINILM)
    index.build()
    ws.close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom cascade_core.scoring.workspace import Workspace\nfrom cascade_core.vectors.index import list_indexes\n"
        "ws = Workspace(sys.argv[1]); list_indexes(ws.qdrant); print('holding', flush=True); time.sleep(120)"),
        str(home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        ws = Workspace(home)
        infos = list_indexes(ws.qdrant)
        assert [(i.name, i.complete, i.in_use) for i in infos] == [(index.name, True, True)]
        ws.close()
    finally:
        holder.kill()
        holder.wait()
