"""CascadeSpec: round trips and clear refusals."""

import pytest

from cascade_core.cascade.spec import CascadeSpec, parse_first_pass, parse_stage
from cascade_core.errors import SpecError

GOOD = {
    "name": "prod",
    "first_pass": {"kind": "hybrid", "model": "all-MiniLM-L6-v2", "params": {"rrf_k": 60}},
    "pool_size": 1000,
    "stages": [
        {"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 100},
        {"scorer": {"kind": "cross-encoder", "model": "some/ce"}, "keep": 20, "combine": "rrf", "rrf_k": 2},
        {"name": "lexical check", "scorer": {"kind": "bm25"}, "keep": 10, "combine": "norm-sum", "weight": 0.3},
    ],
    "final_k": 5,
}


def test_round_trips_yaml_and_json():
    spec = CascadeSpec.from_dict(GOOD)
    assert CascadeSpec.from_yaml(spec.to_yaml()) == spec
    assert CascadeSpec.from_json(spec.to_json()) == spec
    assert spec.stage_names == ["first pass", "bi-encoder", "cross-encoder", "lexical check"]
    assert spec.keeps == [1000, 100, 20, 10]
    assert spec.stages[1].fusion.rrf_k == 2 and spec.stages[2].fusion.params() == {"weight": 0.3}
    assert spec.describe() == ("hybrid(all-MiniLM-L6-v2) -> 1000 -> bi-encoder(all-MiniLM-L6-v2) -> 100 -> "
                               "cross-encoder(some/ce) fused rrf k=2 -> 20 -> bm25 fused norm-sum 0.3 -> 10 -> final 5")


def test_load_from_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CascadeSpec.from_dict(GOOD).to_yaml())
    assert CascadeSpec.load(path).pool_size == 1000
    with pytest.raises(SpecError, match="does not exist"):
        CascadeSpec.load(tmp_path / "missing.yaml")


def test_with_keeps_and_prefix():
    spec = CascadeSpec.from_dict(GOOD)
    narrower = spec.with_keeps(pool_size=500, keeps=[50, 10, 5])
    assert narrower.keeps == [500, 50, 10, 5]
    # a slider past what a stage receives is brought within "cut-offs never grow", not refused
    assert spec.with_keeps(keeps=[50, 60, 5]).keeps == [1000, 50, 50, 5]
    with pytest.raises(SpecError, match="must not grow"):   # a spec written so is refused
        CascadeSpec.from_dict({**GOOD, "stages": [{**GOOD["stages"][0], "keep": 2000}]})
    assert spec.prefix(1).keeps == [1000, 100]
    assert spec.prefix(0).final_k == 5


def test_duplicate_kinds_get_numbered_names():
    spec = CascadeSpec.from_dict({"first_pass": "bm25", "pool_size": 50, "stages": [
        {"scorer": "bm25", "keep": 40}, {"scorer": "bm25", "keep": 30}]})
    assert spec.stage_names == ["first pass", "bm25", "bm25 #2"]


@pytest.mark.parametrize("change, message", [
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 2000}]}, "larger than pool_size"),
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 50}, {"scorer": {"kind": "bm25"}, "keep": 60}]},
     "must not grow"),
    ({"final_k": 500}, "final_k=500 is larger"),
    ({"pool_size": 0}, "pool_size must be a whole number >= 1"),
    ({"pool_size": "many"}, "pool_size must be a whole number"),
    ({"pool_size": 10.5}, "whole number"),
    ({"first_pass": {"kind": "telepathy"}}, "unknown first pass 'telepathy'"),
    ({"stages": [{"scorer": {"kind": "monot5"}, "keep": 5}]}, "unknown scorer kind 'monot5'"),
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 5}] * 5}, "at most 4 rerank stages"),
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 5, "combine": "avg"}]}, "combine must be one of"),
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 5, "combine": "norm-sum", "weight": 2}]}, "weight"),
    ({"stages": [{"scorer": {"kind": "bm25"}}]}, "needs a scorer and a keep"),
    ({"stages": [{"scorer": {"kind": "bm25"}, "keep": 5, "cutoff": 3}]}, "unknown key"),
    ({"colour": "red"}, "unknown key"),
    ({"stages": "bm25"}, "stages must be a list"),
    ({"stages": [{"scorer": {"kind": "bm25", "model": "all-MiniLM-L6-v2"}, "keep": 5}]},
     "bm25 takes no model"),
    ({"first_pass": {"kind": "bm25", "model": "splade"}}, "first_pass: bm25 takes no model"),
])
def test_invalid_specs_are_refused_with_a_reason(change, message):
    data = {"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10, **change}
    if "stages" in change and "final_k" not in change:
        data["final_k"] = 1
    with pytest.raises(SpecError, match=message):
        CascadeSpec.from_dict(data)


def test_bad_yaml_and_json():
    with pytest.raises(SpecError, match="not valid YAML"):
        CascadeSpec.from_yaml("first_pass: [unclosed")
    with pytest.raises(SpecError, match="not valid JSON"):
        CascadeSpec.from_json("{")
    with pytest.raises(SpecError, match="must be a mapping"):
        CascadeSpec.from_yaml("- just\n- a list\n")


def test_compact_cli_forms():
    st = parse_stage("cross:/models/ce@10")
    assert (st.scorer.kind, st.scorer.model, st.keep) == ("cross-encoder", "/models/ce", 10)
    assert parse_stage("bi:all-MiniLM-L6-v2@20").scorer.kind == "bi-encoder"
    assert parse_first_pass("hybrid:all-MiniLM-L6-v2").kind == "hybrid"
    for bad in ("bi:model", "bi@x", "@5"):
        with pytest.raises(SpecError):
            parse_stage(bad)
