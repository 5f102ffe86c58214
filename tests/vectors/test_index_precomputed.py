"""Issue 12, part 4 and issue 15, part 3: an index from precomputed vectors (a user's file, or the
vectors shipped beside a dataset for these exact weights), checked, with nothing encoded twice."""

import json
import shutil

import pytest

from cascade_core.data import load_dataset
from cascade_core.data.vectors import PrecomputedVectors, find_shipped, shipped_path, write_shipped, write_vectors
from cascade_core.errors import DataError
from cascade_core.models import resolve_model
from cascade_core.models.fingerprint import model_fingerprint
from cascade_core.scoring.workspace import Workspace
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def encoded(tiny_beir, tmp_path_factory):
    """The tiny corpus's vectors as the tool encodes them (ids, matrix) and a query's top 10."""
    ws = Workspace(tmp_path_factory.mktemp("encoded-home"))
    corpus = load_dataset(tiny_beir, split="test").corpus
    index = ws.vector_index(corpus, resolve_model(MODEL))
    assert index.build(shipped=False).encoded == len(corpus)
    matrix = index.vectors(corpus.ids)
    top = index.search(index.encode_queries(["cancer cells"])[0], 10)[0]
    ws.close()
    return corpus.ids, matrix, top


def fresh_index(tiny_beir, tmp_path):
    """A new data folder and the (empty) MiniLM index of the tiny corpus in it."""
    ws = Workspace(tmp_path / "home")
    return ws, ws.vector_index(load_dataset(tiny_beir, split="test").corpus, resolve_model(MODEL))


@pytest.mark.slow
def test_an_index_from_a_vector_file_encodes_nothing_and_searches_the_same(tiny_beir, encoded, tmp_path):
    ids, matrix, top = encoded
    ws, index = fresh_index(tiny_beir, tmp_path)
    rep = index.build(precomputed=PrecomputedVectors(list(ids), matrix, "test"))
    assert (rep.imported, rep.encoded, rep.complete) == (len(ids), 0, True)
    assert index.search(index.encode_queries(["cancer cells"])[0], 10)[0] == top
    ws.close()


def test_documents_without_a_vector_are_encoded(tiny_beir, encoded, tmp_path):
    ids, matrix, _ = encoded
    ws, index = fresh_index(tiny_beir, tmp_path)
    rep = index.build(precomputed=PrecomputedVectors(list(ids[:40]), matrix[:40], "test"))
    assert (rep.imported, rep.encoded, rep.complete) == (40, len(ids) - 40, True)
    ws.close()


def test_vectors_of_another_model_or_corpus_are_refused(tiny_beir, encoded, tmp_path):
    ids, matrix, _ = encoded
    ws, index = fresh_index(tiny_beir, tmp_path)
    with pytest.raises(DataError, match="384"):
        index.build(precomputed=PrecomputedVectors(list(ids), matrix[:, :100], "small.npy"))
    with pytest.raises(DataError, match="name documents the corpus does not have"):
        index.build(precomputed=PrecomputedVectors(list(ids[:-1]) + ["nope"], matrix, "other.npy"))
    assert not index.info().complete
    ws.close()


@pytest.mark.slow
def test_vectors_shipped_beside_a_dataset_are_used_only_for_these_weights_and_this_corpus(tiny_beir, encoded,
                                                                                            tmp_path):
    ids, matrix, top = encoded
    data = tmp_path / "data"
    shutil.copytree(tiny_beir, data)
    corpus = load_dataset(data, split="test").corpus
    model = resolve_model(MODEL)
    path = write_shipped(corpus, MODEL, model_fingerprint(model), ids, matrix)
    assert path == shipped_path(corpus.source, MODEL) and path.stat().st_size < len(ids) * 384 * 2 + 1000
    ws = Workspace(tmp_path / "home")
    index = ws.vector_index(corpus, model)
    rep = index.build()
    assert (rep.imported, rep.encoded) == (len(ids), 0)
    assert index.search(index.encode_queries(["cancer cells"])[0], 10)[0] == top   # float16: same top 10
    ws.close()

    manifest = path.with_suffix(".json")
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**meta, "model_fingerprint": "other-weights"}))
    found, why = find_shipped(corpus, MODEL, model_fingerprint(model))
    assert found is None and "made by other all-MiniLM-L6-v2 weights" in why
    ws = Workspace(tmp_path / "home2")
    rep = ws.vector_index(corpus, model).build()
    assert (rep.imported, rep.encoded) == (0, len(ids)) and "other" in rep.note
    ws.close()


@pytest.mark.slow
def test_cascade_index_with_a_vector_file(tiny_beir, encoded, tmp_path):
    ids, matrix, _ = encoded
    vec = write_vectors(tmp_path / "mine.npy", ids, matrix)
    res = cascade("index", "--dataset", str(tiny_beir), "--vectors", str(vec), home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert f"imported {len(ids)} precomputed vectors, encoded 0 documents" in res.stdout
    bad = write_vectors(tmp_path / "bad.npy", ids, matrix[:, :10])
    res = cascade("index", "--dataset", str(tiny_beir), "--vectors", str(bad), home=tmp_path / "home2")
    assert res.returncode == 2 and "10 dimensions, the model's have 384" in res.stderr
    assert res.stderr.count("\n") == 1 or "Traceback" not in res.stderr
