"""Hostile input, generated (Hypothesis): random bytes, encodings and nesting fed to the dataset
loaders and the spec reader. Every outcome is a result or one CascadeError line, never another
exception. Bounded (examples, no deadline) so the file runs in well under a minute."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade_core.cascade.spec import CascadeSpec
from cascade_core.data import load_corpus_file, load_dataset
from cascade_core.errors import CascadeError, SpecError

FAST = settings(max_examples=int(os.environ.get("HOSTILE_EXAMPLES", 60)), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ENCODINGS = ("utf-8", "utf-16", "latin-1", "cp1252", "utf-8-sig", "utf-32")

# JSON-like values, nested at random (keys without control characters: an unknown key is echoed
# in the error, and a newline in it is covered once, by test_an_unknown_key_with_a_newline_stays_one_line)
keys = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30))
nested = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)),
                      max_leaves=25)
# Things a corpus line might plausibly hold: the right keys with wrong values, and noise.
records = st.dictionaries(st.sampled_from(["_id", "id", "docid", "title", "text", "contents", "metadata", "x"]),
                          nested, max_size=5)


def _outcome(fn, *args, **kwargs):
    """Call ``fn``: a value, or a CascadeError; anything else fails the test (pytest shows which)."""
    try:
        return fn(*args, **kwargs)
    except CascadeError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), f"not one line: {exc!r}"
        return exc


@pytest.fixture
def folder():
    path = Path(tempfile.mkdtemp(prefix="hostile-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _fresh(folder: Path) -> Path:
    for p in folder.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return folder


@FAST
@given(data=st.binary(max_size=600), name=st.sampled_from(
    ["corpus.jsonl", "corpus.csv", "corpus.tsv", "docs.trec", "cran.all.1400", "corpus.txt"]))
def test_a_corpus_file_of_random_bytes(folder, data, name):
    path = _fresh(folder) / name
    path.write_bytes(data)
    _outcome(load_corpus_file, path)


@pytest.mark.slow
@FAST
@given(lines=st.lists(st.one_of(records.map(json.dumps), nested.map(json.dumps), st.text(max_size=40)),
                      max_size=6),
       encoding=st.sampled_from(ENCODINGS))
def test_corpus_lines_of_random_json_in_random_encodings(folder, lines, encoding):
    path = _fresh(folder) / "corpus.jsonl"
    path.write_bytes("\n".join(lines).encode(encoding, errors="replace"))
    _outcome(load_corpus_file, path)


@FAST
@given(corpus=st.lists(records.map(json.dumps), max_size=4), queries=st.lists(records.map(json.dumps), max_size=3),
       qrels=st.text(max_size=80), encoding=st.sampled_from(ENCODINGS))
def test_a_beir_folder_of_random_parts(folder, corpus, queries, qrels, encoding):
    root = _fresh(folder)
    (root / "qrels").mkdir()
    (root / "corpus.jsonl").write_bytes("\n".join(corpus).encode(encoding, errors="replace"))
    (root / "queries.jsonl").write_bytes("\n".join(queries).encode(encoding, errors="replace"))
    (root / "qrels" / "test.tsv").write_bytes(("query-id\tcorpus-id\tscore\n" + qrels).encode(encoding, errors="replace"))
    _outcome(load_dataset, root)


@FAST
@given(text=st.text(max_size=300))
def test_a_spec_of_random_text(text):
    _outcome(CascadeSpec.from_yaml, text)
    _outcome(CascadeSpec.from_json, text)


@FAST
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json"]))
def test_a_spec_file_of_random_bytes(folder, data, suffix):
    path = _fresh(folder) / f"spec{suffix}"
    path.write_bytes(data)
    _outcome(CascadeSpec.load, path)


VALID = {"name": "x", "first_pass": {"kind": "bm25"}, "pool_size": 50,
         "stages": [{"scorer": {"kind": "bm25"}, "keep": 10}], "final_k": 5}


@FAST
@given(key=st.sampled_from(["name", "first_pass", "pool_size", "stages", "final_k", "costs"]), value=nested)
def test_a_spec_with_one_field_replaced_by_anything(key, value):
    _outcome(CascadeSpec.from_dict, {**VALID, key: value})


@FAST
@given(key=st.sampled_from(["name", "scorer", "keep", "combine", "rrf_k", "weight"]), value=nested,
       inner=st.sampled_from(["kind", "model", "params"]), inner_value=nested)
def test_a_stage_with_fields_replaced_by_anything(key, value, inner, inner_value):
    stage = {"scorer": {"kind": "bm25", inner: inner_value}, "keep": 10, key: value}
    _outcome(CascadeSpec.from_dict, {**VALID, "stages": [stage]})


@FAST
@given(value=nested)
def test_the_name_is_a_short_text_or_refused(value):
    got = _outcome(CascadeSpec.from_dict, {**VALID, "name": value})
    if isinstance(got, CascadeSpec):
        assert isinstance(got.name, str) and len(got.name) <= 200
    else:
        assert isinstance(got, SpecError)


def test_a_yaml_alias_bomb_in_the_name_is_refused():
    """Nine levels of ten aliases: 10^9 strings once expanded; refused in milliseconds."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = "\n".join(lines) + "\n"
    spec = yaml.safe_dump(VALID)
    with pytest.raises(SpecError, match="expands to more than"):
        CascadeSpec.from_yaml(bomb.replace("a: &a", "x_a: &a") + spec.replace("name: x", "name: *i"))
    # the bomb's anchors alone are unknown keys; with the name a list, the type check refuses it
    with pytest.raises(SpecError, match="name must be a short text"):
        CascadeSpec.from_dict({**VALID, "name": ["lol"] * 3})


def test_a_recursive_alias_is_refused():
    text = yaml.safe_dump(VALID).replace("name: x", "name: &r [*r]")
    with pytest.raises(SpecError):
        CascadeSpec.from_yaml(text)


def test_an_unknown_key_with_a_newline_stays_one_line():
    for data in ({**VALID, "a\nb": 1}, {**VALID, "stages": [{"scorer": "bm25", "keep": 5, "x\ny": 1}]}):
        with pytest.raises(SpecError) as info:
            CascadeSpec.from_dict(data)
        assert "\n" not in str(info.value) and "unknown key" in str(info.value)
