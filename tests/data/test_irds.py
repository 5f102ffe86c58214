"""Datasets by name through ir_datasets (``irds:NAME``): a small local collection registered here
(ir_datasets' own TSV and TREC formats over local files, as its built-in collections are made)
loads with the same documents, queries and judgments as the same data read from files; a name
it does not know, data it cannot read and the library missing are one line each."""

import json
import sys

import pytest

from cascade_core.data import load_dataset
from cascade_core.errors import DataError, MissingDependency
from tests.conftest import IRDS_MISSING as MISSING
from tests.conftest import IRDS_NAME as NAME
from tests.helpers import run_cli as cascade


def test_a_collection_by_name_loads_the_same_data_as_its_files(irds_collection, tiny_dataset):
    ds = load_dataset(f"irds:{NAME}")
    assert ds.source == f"irds:{NAME}" and ds.name == NAME.replace("/", "-")
    assert ds.corpus.ids == tiny_dataset.corpus.ids
    assert ds.queries.ids == tiny_dataset.queries.ids
    assert all(ds.queries.text_of(q) == " ".join(tiny_dataset.queries.text_of(q).split()) for q in ds.queries.ids)
    assert {q: ds.qrels.relevant(q) for q in ds.qrels.query_ids} == \
        {q: tiny_dataset.qrels.relevant(q) for q in tiny_dataset.qrels.query_ids}
    assert ds.report.counts["documents"] == len(tiny_dataset.corpus)


def test_the_cli_evaluates_a_collection_by_name(irds_collection, tmp_path):
    res = cascade("eval", "--dataset", f"irds:{NAME}", "--pool-size", "20", "--json", str(tmp_path / "r.json"),
                  home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert f"Dataset {NAME.replace('/', '-')}" in res.stdout
    assert json.loads((tmp_path / "r.json").read_text())["metrics"]["ndcg@10"] > 0.3


@pytest.mark.parametrize("name, words", [
    ("no/such/collection", "ir_datasets knows no dataset 'no/such/collection'"),
    (MISSING, "could not read or download it: FileNotFoundError"),
    ("", "irds: needs a dataset name"),
])
def test_a_bad_name_or_unreadable_data_is_one_line(irds_collection, name, words):
    with pytest.raises(DataError) as err:
        load_dataset(f"irds:{name}")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_split_beside_the_name_is_refused(irds_collection):
    with pytest.raises(DataError, match="carries its split"):
        load_dataset(f"irds:{NAME}", split="test")


def test_without_ir_datasets_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)   # as if not installed: importing it fails
    with pytest.raises(MissingDependency, match=r"pip install 'cascade-explorer\[irds\]'"):
        load_dataset("irds:beir/scifact/test")
