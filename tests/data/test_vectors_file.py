"""Precomputed vectors: .npy + ids, .npz, Parquet; every problem one DataError naming the file."""

import numpy as np
import pandas as pd
import pytest

from cascade_core.data.vectors import read_vectors, write_vectors
from cascade_core.errors import DataError

IDS = ["d1", "d2", "d3"]


@pytest.fixture
def matrix():
    return np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)


def test_the_three_formats_read_the_same(tmp_path, matrix):
    write_vectors(tmp_path / "v.npy", IDS, matrix, dtype=np.float32)
    np.savez(tmp_path / "v.npz", ids=np.array(IDS), vectors=matrix)
    pd.DataFrame({"doc_id": IDS, "embedding": list(matrix)}).to_parquet(tmp_path / "v.parquet")
    for name in ("v.npy", "v.npz", "v.parquet"):
        got = read_vectors(tmp_path / name)
        assert got.ids == IDS and got.dim == 4
        np.testing.assert_allclose(got.matrix, matrix, rtol=1e-6)
    assert read_vectors(tmp_path / "v.npy").fingerprint() == read_vectors(tmp_path / "v.parquet").fingerprint()


def test_float16_files_come_back_as_float32(tmp_path, matrix):
    got = read_vectors(write_vectors(tmp_path / "v.npy", IDS, matrix))
    assert got.matrix.dtype == np.float32
    np.testing.assert_allclose(got.matrix, matrix, atol=2e-3)


@pytest.mark.parametrize("make, message", [
    (lambda d, m: (np.save(d / "v.npy", m), d / "v.npy")[1], "no ids for these vectors"),
    (lambda d, m: (np.save(d / "v.npy", m), (d / "v.ids.txt").write_text("a\nb\n"), d / "v.npy")[2], "2 ids for 3 vectors"),
    (lambda d, m: (np.save(d / "v.npy", m), (d / "v.ids.txt").write_text("a\na\nb\n"), d / "v.npy")[2], "1 duplicate ids ('a')"),
    (lambda d, m: (np.save(d / "v.npy", m[0]), (d / "v.ids.txt").write_text("a\n"), d / "v.npy")[2], "2-d array"),
    (lambda d, m: (np.save(d / "v.npy", np.where(m > 1, np.nan, m)), (d / "v.ids.txt").write_text("a\nb\nc\n"),
                   d / "v.npy")[2], "NaN or infinite"),
    (lambda d, m: ((d / "v.npy").write_bytes(b"not numpy at all"), (d / "v.ids.txt").write_text("a\n"), d / "v.npy")[2],
     "cannot read the vectors"),
    (lambda d, m: (np.save(d / "v.npy", np.array([{"x": 1}], dtype=object)), (d / "v.ids.txt").write_text("a\n"),
                   d / "v.npy")[2], "cannot read the vectors"),   # a pickle is never loaded
    (lambda d, m: (np.savez(d / "v.npz", vecs=m), d / "v.npz")[1], "holds arrays 'ids' and 'vectors'"),
    (lambda d, m: (pd.DataFrame({"name": IDS, "vector": list(m)}).to_parquet(d / "v.parquet"), d / "v.parquet")[1],
     "expected an id column"),
    (lambda d, m: ((d / "v.csv").write_text("x"), d / "v.csv")[1], ".npy (with an ids file), .npz or .parquet"),
])
def test_bad_vector_files_are_one_clear_error(tmp_path, matrix, make, message):
    path = make(tmp_path, matrix)
    with pytest.raises(DataError) as caught:
        read_vectors(path)
    assert message in str(caught.value) and str(path.name) in str(caught.value)


def test_checked_against_a_model_and_a_corpus(tmp_path, matrix):
    vecs = read_vectors(write_vectors(tmp_path / "v.npy", IDS, matrix))
    with pytest.raises(DataError, match="4 dimensions, the model's have 384"):
        vecs.check(dim=384)
    with pytest.raises(DataError, match="1 of 3 vectors name documents the corpus does not have \\('d3'\\)"):
        vecs.check(dim=4, doc_ids=["d1", "d2"])
    assert vecs.check(dim=4, doc_ids=IDS + ["d4"]).missing == ["d4"]
    with pytest.raises(DataError, match="1 documents have no vector"):
        vecs.check(dim=4, doc_ids=IDS + ["d4"], allow_missing=False)
    np.testing.assert_allclose(vecs.rows_for(["d3", "d1"]), vecs.matrix[[2, 0]])
