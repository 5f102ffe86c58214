"""Cost profiles in the spec and the CLI: parsed, validated, round-tripped, kept by derived specs."""

import json

import pytest
import yaml

from cascade_cli import cli, common
from cascade_core.analysis.compare import baseline_spec, without_stage
from cascade_core.cascade import CascadeSpec
from cascade_core.errors import CascadeError, SpecError
from cascade_core.latency.profiles import CostProfile, parse_profile
from cascade_core.tuning import first_pass_only, tuning_grid

SPEC = {"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10,
        "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 50},
                   {"scorer": {"kind": "cross-encoder", "model": "c"}, "keep": 20}]}
COSTS = {"first-pass": {"fixed_ms": 3}, "bi-encoder": {"factor": 0.025},
         "cross-encoder": {"per_call_ms": 400, "pairs_per_call": 20, "usd_per_call": 0.002}}


def spec_with_costs(costs=COSTS):
    return CascadeSpec.from_dict({**SPEC, "costs": costs})


def test_profiles_round_trip_through_yaml_and_json():
    spec = spec_with_costs()
    assert CascadeSpec.from_yaml(spec.to_yaml()) == spec
    assert CascadeSpec.from_json(spec.to_json()) == spec
    written = yaml.safe_load(spec.to_yaml())["costs"]
    assert written == {"first pass": {"fixed_ms": 3.0}, "bi-encoder": {"factor": 0.025},
                       "cross-encoder": {"per_call_ms": 400.0, "pairs_per_call": 20, "usd_per_call": 0.002}}
    assert {n: p.describe() for n, p in spec.cost_profiles.items()} == {
        "first pass": "user-set: 3 ms", "bi-encoder": "measured x 0.025",
        "cross-encoder": "user-set: 400 ms per call of 20 pairs"}


def test_measured_is_the_default_and_is_left_out():
    spec = spec_with_costs({"bi-encoder": "measured", "cross-encoder": {"profile": "measured"}})
    assert spec.costs == () and "costs" not in spec.to_dict()
    assert spec == CascadeSpec.from_dict(SPEC)
    assert spec.scorer_key() == spec_with_costs().scorer_key()   # same scores, whatever they cost


@pytest.mark.parametrize("costs, message", [
    ({"cross": {"factor": 0.5}}, "costs: no step named 'cross'; steps: first pass, bi-encoder, cross-encoder"),
    ({"bi-encoder": {"factor": 0}}, "costs of bi-encoder: factor must be a number > 0, not 0"),
    ({"bi-encoder": {"factor": "fast"}}, "costs of bi-encoder: factor must be a number, not 'fast'"),
    ({"bi-encoder": {"per_pair_ms": -1}}, "costs of bi-encoder: per_pair_ms must be a number >= 0, not -1"),
    ({"bi-encoder": {"per_pair_ms": float("nan")}}, "per_pair_ms must be a number >= 0"),
    ({"bi-encoder": {"factor": 2, "per_pair_ms": 1}}, "a scaled profile takes a factor only"),
    ({"bi-encoder": {"per_call_ms": 400}}, "per_call_ms needs pairs_per_call"),
    ({"bi-encoder": {"per_call_ms": 400, "pairs_per_call": 2.5}}, "pairs_per_call must be a whole number"),
    ({"bi-encoder": {"ms": 4}}, "costs of bi-encoder: unknown key(s) ms"),
    ({"bi-encoder": "fast"}, "costs of bi-encoder: cannot read 'fast'"),
    (["bi-encoder"], "costs must be a mapping"),
])
def test_bad_profiles_are_refused_with_one_line(costs, message):
    with pytest.raises(SpecError) as err:
        spec_with_costs(costs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_compact_forms():
    assert parse_profile("x0.025", "s") == CostProfile("scaled", factor=0.025)
    assert parse_profile("2+0.05", "s") == CostProfile("user", fixed_ms=2, per_pair_ms=0.05)
    assert parse_profile("0.05", "s") == CostProfile("user", per_pair_ms=0.05)
    assert parse_profile("400/20", "s") == CostProfile("user", per_call_ms=400, pairs_per_call=20)
    assert parse_profile("measured", "s").is_default


def test_derived_specs_keep_the_profiles_of_the_steps_they_have():
    spec = spec_with_costs()
    assert set(without_stage(spec, 0).cost_profiles) == {"first pass", "cross-encoder"}
    assert set(first_pass_only(spec).cost_profiles) == {"first pass"}
    assert set(baseline_spec(spec).cost_profiles) == {"first pass", "cross-encoder"}
    assert set(spec.prefix(1).cost_profiles) == {"first pass", "bi-encoder"}
    assert all(s.cost_profiles.get("bi-encoder") == spec.cost_profiles["bi-encoder"]
               for s in tuning_grid(spec, values=3) if s.stages)


def test_cli_cost_flags_over_a_config_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(spec_with_costs().to_yaml())
    args = cli.build_parser().parse_args(["eval", "--dataset", "x", "--config", str(path),
                                          "--cost", "cross-encoder=x0.5", "--cost", "0=measured"])
    spec = common.spec_from_args(args)
    assert {n: p.describe() for n, p in spec.cost_profiles.items()} == {
        "bi-encoder": "measured x 0.025", "cross-encoder": "measured x 0.5"}
    # --stage replaces the config's stages: their profiles go with them, the first pass's stays
    args = cli.build_parser().parse_args(["eval", "--dataset", "x", "--config", str(path), "--stage", "bm25@10"])
    assert list(common.spec_from_args(args).cost_profiles) == ["first pass"]


@pytest.mark.parametrize("flag, message", [
    ("nowhere=x2", "costs: no step named 'nowhere'"),
    ("7=x2", "--cost '7=x2': no step 7"),
    ("bi-encoder", "expected STEP=PROFILE"),
    ("bi-encoder=x-1", "factor must be a number > 0"),
])
def test_cli_refuses_bad_cost_flags(flag, message):
    spec = CascadeSpec.from_dict(SPEC)
    with pytest.raises(CascadeError) as err:
        common.apply_cost_flags(spec, [flag])
    assert message in str(err.value)


def test_cli_bad_cost_flag_is_one_error_line(capsys):
    assert cli.main(["eval", "--dataset", "sample_data/scifact-mini", "--cost", "nowhere=x2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: costs: no step named 'nowhere'") and err.count("\n") == 1


def test_json_spec_with_costs():
    data = json.loads(spec_with_costs().to_json())
    assert data["costs"]["bi-encoder"] == {"factor": 0.025}
