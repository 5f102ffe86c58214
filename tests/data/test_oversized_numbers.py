"""Numbers no one writes on purpose -- 5,000 digits, 1e309, Infinity, 1e300 as a grade -- in a spec
(YAML or JSON), a corpus line or a qrels file: one error line each, the value cut, never a
traceback (Python's int() of over 4,300 digits raises a ValueError of its own)."""

from __future__ import annotations

import json

import pytest

from cascade_core.cascade.spec import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.errors import DataError, SpecError
from tests.helpers import run_cli

BIG = "9" * 5000
DOC = {"_id": "d1", "title": "t", "text": "cells"}


def beir(folder, corpus_lines=None, qrels_lines=None):
    folder.mkdir(parents=True, exist_ok=True)
    lines = corpus_lines or [json.dumps(DOC)]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "cells"}) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "\n".join(qrels_lines or ["q1\td1\t1"]) + "\n")
    return folder


def one_short_line(exc) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 300, text
    assert BIG not in text
    return text


@pytest.mark.parametrize("field", ["_id", "title", "extra"])
@pytest.mark.parametrize("value", [BIG, "-" + BIG, "1e309", "Infinity", "NaN", "[" * 3000 + "]" * 3000])
def test_a_corpus_line_with_an_oversized_number_is_one_line_naming_it(tmp_path, field, value):
    line = json.dumps(DOC)[:-1] + f', "{field}": {value}}}' if field == "extra" else \
        json.dumps({**DOC, field: "@"}).replace('"@"', value)
    folder = beir(tmp_path / "ds", corpus_lines=[json.dumps({**DOC, "_id": "d0"}), line])
    with pytest.raises(DataError) as err:
        load_dataset(folder, split="test")
    assert "corpus.jsonl:2:" in one_short_line(err.value)


@pytest.mark.parametrize("grade", [BIG, "1e300", "1e309", "inf", "2000"])
def test_a_qrels_grade_out_of_range_is_one_line_with_the_value_cut(tmp_path, grade):
    folder = beir(tmp_path / "ds", qrels_lines=[f"q1\td1\t{grade}"])
    with pytest.raises(DataError) as err:
        load_dataset(folder, split="test")
    text = one_short_line(err.value)
    assert "test.tsv:2:" in text and "is not an integer from -1,000 to 1,000" in text


def test_an_id_of_5000_digits_in_a_qrels_or_smart_file_is_text(tmp_path):
    folder = beir(tmp_path / "ds", corpus_lines=[json.dumps({**DOC, "_id": BIG})], qrels_lines=[f"q1\t{BIG}\t1"])
    ds = load_dataset(folder, split="test")
    assert ds.qrels.judgments == {"q1": {BIG: 1}}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("where", ["pool_size", "final_k", "keep"])
def test_a_spec_with_an_oversized_number_is_one_spec_error(tmp_path, suffix, where):
    spec = {"first_pass": "bm25", "pool_size": 100, "final_k": 10,
            "stages": [{"scorer": "bi-encoder:all-MiniLM-L6-v2", "keep": 20}]}
    placeholder = 123456789
    if where == "keep":
        spec["stages"][0]["keep"] = placeholder
    else:
        spec[where] = placeholder
    text = json.dumps(spec) if suffix == ".json" else "\n".join(
        f"{k}: {json.dumps(v)}" for k, v in spec.items())
    path = tmp_path / f"spec{suffix}"
    path.write_text(text.replace(str(placeholder), BIG))
    with pytest.raises(SpecError) as err:
        CascadeSpec.load(path)
    assert "5,000" in one_short_line(err.value)


def test_the_cli_prints_one_line_for_a_5000_digit_pool_size(tiny_beir, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"first_pass: bm25\npool_size: {BIG}\nstages: []\n")
    res = run_cli("eval", "--dataset", str(tiny_beir), "--config", str(spec), home=tmp_path / "home")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    [line] = [x for x in res.stderr.splitlines() if x.strip()]
    assert line.startswith("error:") and "5,000" in line and len(line) < 300


def test_a_5000_digit_param_value_is_one_line(tiny_beir, tmp_path):
    res = run_cli("eval", "--dataset", str(tiny_beir), "--first-pass", "bm25", "--param", f"first-pass.k1={BIG}",
                  home=tmp_path / "home")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    [line] = [x for x in res.stderr.splitlines() if x.strip()]
    assert line.startswith("error: --param first-pass.k1=") and "5,000" in line and len(line) < 300
