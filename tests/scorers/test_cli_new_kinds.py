"""``cascade eval`` with the learned-sparse first pass and stage and a late-interaction stage, as a
fresh install runs them: default models only, no network."""

import pytest
import json

from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def test_sparse_and_late_end_to_end_then_from_the_store(tiny_beir, tmp_path):
    home = tmp_path / "home"
    res = cascade("eval", "--dataset", str(tiny_beir), "--first-pass", "sparse", "--pool-size", "20",
                  "--stage", "late@10", "--stage", "splade@5", "--final-k", "5", "--live", "2",
                  "--json", str(tmp_path / "r.json"), "--save-spec", str(tmp_path / "s.yaml"), home=home)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [(s["name"], s["kind"]) for s in report["stages"]] == [
        ("first pass", "sparse"), ("late", "late"), ("sparse", "sparse")]
    assert report["stages"][0]["scorer"] == "first-pass:sparse:splade-tiny:max_length=256,query_max_length=64"
    # Costs recorded for every step (the latency bars), and measured live.
    assert all(s["latency_ms"] > 0 and s["measured_ms"]["p50"] > 0 for s in report["stages"])
    assert report["metrics"]["ndcg@10"] > 0.5

    # The saved spec runs again from the store: no first-pass query, no pair scored.
    again = cascade("eval", "--dataset", str(tiny_beir), "--config", str(tmp_path / "s.yaml"),
                    "--json", str(tmp_path / "again.json"), home=home)
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again.json").read_text())
    assert second["scoring"]["retrieved_queries"] == 0 and sum(second["scoring"]["scored_pairs"].values()) == 0
    assert second["metrics"]["ndcg@10"] == report["metrics"]["ndcg@10"]


def test_kinds_and_their_parameters_are_listed_and_errors_name_them(tiny_beir, tmp_path):
    res = cascade("eval", "--help", home=tmp_path)
    assert res.returncode == 0
    for text in ("late (or colbert): late interaction (ColBERT MaxSim)", "sparse (or splade): learned sparse (SPLADE)",
                 "model: default splade-tiny", "query_max_length (a whole number >= 4, default 32)"):
        assert text in res.stdout, text
    bad = cascade("eval", "--dataset", str(tiny_beir), "--stage", "colbret@5", home=tmp_path)
    assert bad.returncode == 2 and "unknown scorer kind 'colbret'" in bad.stderr
    assert "late" in bad.stderr and "sparse" in bad.stderr
