"""A data folder made by the previous version (the flat library, before packages by layer) opens
with today's code: every step's scorer id is the same, so its stored scores are found, and the
numbers are the ones it reported. Nothing is scored (``--from-store``)."""

import json
import shutil
from pathlib import Path

import pytest

from cascade_cli import main
from cascade_core.latency.timing import waits_reported

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "old-layout"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "scifact-mini"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fused", "hybrid"])
def test_the_old_folder_opens_with_the_same_scores(name, tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURE / "scores.sqlite", home / "scores.sqlite")
    report = tmp_path / "report.json"
    assert main(["--home", str(home), "eval", "--dataset", str(SAMPLE), "--queries", "12", "--from-store",
                 "--config", str(FIXTURE / f"{name}.yaml"), "--json", str(report)]) == 0, capsys.readouterr().err
    expected = json.loads((FIXTURE / "expected.json").read_text())[name]
    got = json.loads(report.read_text())
    assert [st["scorer"] for st in got["stages"]] == expected["scorers"]
    for metric, value in expected["metrics"].items():
        assert got["metrics"][metric] == pytest.approx(value, abs=1e-12)
    assert [st["metrics"]["ndcg@10"] for st in got["stages"]] == pytest.approx(expected["stage_metrics"], abs=1e-12)
    assert "pairs scored" in capsys.readouterr().out   # the report's scoring line: nothing was
    assert got["scoring"]["scored_pairs"] == {} or sum(got["scoring"]["scored_pairs"].values()) == 0
    # costs stored before CPU time and waits were recorded: used as the wall clock, and said so
    steps = got["latency"]["steps"]
    assert all(s["basis"] == "wall clock" and s["predicted_ms"] == s["wall_clock_ms"] for s in steps)
    if waits_reported():
        assert any("timed before waits for a core were recorded" in n for n in got["latency"]["notes"])
