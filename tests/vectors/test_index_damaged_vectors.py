"""Issue 24, part 2: a damaged byte in the middle of a vector file of a real index.

The engine keeps no checksums of its vector files, and a shard is only sampled when it opens (its
first ``SAMPLE`` points), so the damaged vector here is one the sample does not read: the shard
loads as healthy. What the user runs must then either rebuild the index and give the results an
undamaged index gives, or stop with one ``error:`` line; never a traceback, never a NaN in the
score store. The index is the bundled sample's corpus (1,813 documents, past the sample) built
from its shipped vectors, so nothing is encoded.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from cascade_core.errors import IndexingError
from cascade_core.models import resolve_model
from cascade_core.scoring.workspace import Workspace
from cascade_core.vectors.repair import SAMPLE, damaged_indexes, shard_damage
from tests.conftest import SAMPLE as SAMPLE_DATA
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

MINILM = resolve_model("all-MiniLM-L6-v2")
QUERIES = 6
# bm25 keeps every document of the corpus for the bi-encoder stage: the damaged one is read.
SPEC = """name: reads every vector
first_pass: {kind: bm25}
pool_size: 2000
stages:
  - scorer: {kind: bi, model: all-MiniLM-L6-v2}
    keep: 10
final_k: 10
"""
DENSE_SPEC = """name: searches the index
first_pass: {kind: dense, model: all-MiniLM-L6-v2}
pool_size: 50
final_k: 10
"""


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory):
    """The sample's corpus and shipped vectors with its first judged queries, and a data folder
    holding its complete index (built once; each test damages a copy)."""
    from cascade_core.data import load_dataset

    root = tmp_path_factory.mktemp("sample-index")
    data = root / "data"
    shutil.copytree(SAMPLE_DATA, data)
    judged = {line.split("\t")[0] for line in (data / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    queries = [json.loads(line) for line in (data / "queries.jsonl").open(encoding="utf-8")]
    keep = [q for q in queries if q["_id"] in judged][:QUERIES]
    (data / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in keep), encoding="utf-8")
    dataset = load_dataset(data, split="test")
    home = root / "home"
    ws = Workspace(home)
    index = ws.vector_index(dataset.corpus, MINILM)
    report = index.build()
    assert report.complete and report.imported == len(dataset.corpus) > SAMPLE
    ws.close()
    return data, home, index.name, dataset


def damaged_copy(sample_index, tmp_path, how: str):
    """A copy of the data folder whose index has one vector overwritten in the middle of its
    vector file: a document past the corpus's middle that the open-time sample does not read.
    ``flip``: four bytes inverted (one component becomes about -90: finite, far from unit
    length); ``nan``: one component a NaN. Returns the home, the index name and the damaged
    document's id and original vector."""
    from qdrant_edge import ScrollRequest

    _, source, name, dataset = sample_index
    home = tmp_path / "home"
    shutil.copytree(source, home)
    ws = Workspace(home)
    index = ws.vector_index(dataset.corpus, MINILM)
    shard = ws.qdrant.shard(name)
    sampled, _ = shard.scroll(ScrollRequest(limit=SAMPLE, with_payload=["doc_id"], with_vector=False))
    seen = {r.payload["doc_id"] for r in sampled}
    victim = next(d for d in dataset.corpus.ids[len(dataset.corpus) // 2:] if d not in seen)
    original = index.vectors([victim])[0]
    ws.close()
    chunks = sorted((home / "qdrant-edge" / name).glob("segments/*/vector_storage/vectors/chunk_*.mmap"))
    found = [(path, path.read_bytes().find(original.tobytes())) for path in chunks]
    path, at = next((p, i) for p, i in found if i >= 0)
    at += 4 * 100   # the 101st component
    with open(path, "r+b") as f:
        f.seek(at)
        old = f.read(4)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in old) if how == "flip" else np.float32(np.nan).tobytes())
    # The damage is real and out of the open-time check's sight: the shard loads as healthy.
    from qdrant_edge import EdgeShard

    raw = EdgeShard.load(str(home / "qdrant-edge" / name))
    try:
        assert shard_damage(raw) is None
    finally:
        raw.close()
    return home, name, victim, original


def stored_scores(home):
    conn = sqlite3.connect(home / "scores.sqlite")
    try:
        return [row[0] for row in conn.execute("SELECT score FROM scores")]
    finally:
        conn.close()


def evaluate(data, spec, home, out):
    """``cascade eval`` as the user runs it; its stderr and the metrics it wrote (``--json``)."""
    res = cascade("eval", "--dataset", str(data), "--config", str(spec), "--json", str(out), home=home)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    return res.stderr, json.loads(out.read_text())["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flip", "nan"])
def test_eval_reading_the_damaged_vector_rebuilds_the_index(sample_index, tmp_path, how):
    data, _, name, dataset = sample_index
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    home, _, victim, original = damaged_copy(sample_index, tmp_path, how)
    stderr, shown = evaluate(data, spec, home, tmp_path / "damaged.json")
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: the vector index")]
    assert len(warnings) == 1 and name in warnings[0] and "moved to" in warnings[0], stderr
    assert ("not finite" if how == "nan" else "not of unit length") in warnings[0]
    scores = stored_scores(home)
    assert len(scores) >= len(dataset.corpus) and all(np.isfinite(scores))
    # the same results as an undamaged index gives
    clean = tmp_path / "clean"
    shutil.copytree(sample_index[1], clean)
    assert evaluate(data, spec, clean, tmp_path / "clean.json")[1] == shown
    # rebuilt from the shipped vectors, the damaged copy kept aside
    ws = Workspace(home)
    index = ws.vector_index(dataset.corpus, MINILM)
    assert index.info().complete
    np.testing.assert_allclose(index.vectors([victim])[0], original, atol=1e-6)
    ws.close()
    assert [d.name for d in damaged_indexes(home / "qdrant-edge")] == [name]


@pytest.mark.slow
def test_eval_with_a_dense_first_pass_over_the_damaged_index_rebuilds_it(sample_index, tmp_path):
    data, *_ = sample_index
    spec = tmp_path / "spec.yaml"
    spec.write_text(DENSE_SPEC)
    home, name, _, _ = damaged_copy(sample_index, tmp_path, "flip")
    stderr, shown = evaluate(data, spec, home, tmp_path / "damaged.json")
    assert sum(line.startswith(f"warning: the vector index {name}") for line in stderr.splitlines()) == 1, stderr
    clean = tmp_path / "clean"
    shutil.copytree(sample_index[1], clean)
    assert evaluate(data, spec, clean, tmp_path / "clean.json")[1] == shown
    assert all(np.isfinite(stored_scores(home)))


@pytest.mark.parametrize("how", ["flip", "nan"])
def test_reading_the_damaged_vector_moves_the_index_aside_with_one_error(sample_index, tmp_path, how):
    """A read that meets the damage (no build first) stops with one error and moves the index
    aside; nothing damaged is handed back."""
    _, _, _, dataset = sample_index
    home, name, victim, _ = damaged_copy(sample_index, tmp_path, how)
    ws = Workspace(home)
    index = ws.vector_index(dataset.corpus, MINILM)
    with pytest.raises(IndexingError, match="was damaged") as caught:
        index.vectors(list(dataset.corpus.ids))
    assert "\n" not in str(caught.value) and "moved to" in str(caught.value)
    assert not index.info().exists
    ws.close()
    assert [d.name for d in damaged_indexes(home / "qdrant-edge")] == [name]


def test_a_search_that_meets_the_damaged_vector_stops_with_one_error(sample_index, tmp_path):
    """Scores are what stored vectors read as: a cosine past 1 is a vector of the wrong length."""
    _, _, _, dataset = sample_index
    home, name, _, original = damaged_copy(sample_index, tmp_path, "flip")
    ws = Workspace(home)
    index = ws.vector_index(dataset.corpus, MINILM)
    query = np.zeros_like(original)
    query[100] = -1.0 if original[100] > 0 else 1.0   # along the damaged component (now about -90 x its sign)
    with pytest.raises(IndexingError, match="past the cosine's 1"):
        index.search(query, 10)
    assert not index.info().exists
    ws.close()
