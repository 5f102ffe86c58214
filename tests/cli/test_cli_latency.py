"""`cascade eval` latency lines (sources, spread, busy check, predicted vs live tail, --cost) and
`cascade calibrate`, run for real on the tiny sample (speed is reported, never asserted)."""

import json

import pytest

from tests.helpers import run_cli as cascade  # in this process: no interpreter, models loaded once


@pytest.mark.slow
def test_eval_reports_profiles_spread_and_the_tail_and_calibrate_remeasures(tiny_beir, tiny_cross_encoder, tmp_path):
    home = tmp_path / "home"
    flags = ["--dataset", str(tiny_beir), "--pool-size", "30", "--stage", f"cross:{tiny_cross_encoder}@8",
             "--final-k", "5", "--budget-ms", "1000"]
    report_path = tmp_path / "report.json"
    res = cascade("eval", *flags, "--cost", "cross-encoder=x0.025", "--live", "3", "--json", str(report_path),
                  home=home)
    assert res.returncode == 0, res.stderr
    assert "To score: first pass: 12 queries" in res.stderr          # the estimate, before any scoring
    out = res.stdout
    assert "measured x 0.025" in out and "End to end, predicted p50/p95/p99" in out
    assert "End to end, measured live p50/p95/p99" in out and "quiet-equivalent  (live / predicted: p50" in out
    assert "  wall clock: " in out and "1 warm-up run(s) first, not counted" in out and "load average" in out
    assert "pred. ms   wall ms" in out
    lat = json.loads(report_path.read_text())["latency"]
    assert [s["source"] for s in lat["steps"]] == ["measured here", "measured x 0.025"]
    assert lat["steps"][0]["calls"] > 0 and lat["steps"][0]["p10_ms"] <= lat["steps"][0]["p90_ms"]
    assert set(lat["predicted_tail"]) == {"p50", "p95", "p99", "sum_of_medians", "draws"}
    assert lat["measured_total"]["p95"] > 0 and lat["verdict"].startswith("Predicted")
    # quiet-equivalent, with the wall clock and the load beside it; each step's basis said
    assert lat["measured_total"]["p50"] <= lat["measured_wall_clock_total"]["p50"] + 1e-9
    assert lat["live"]["queries"] == 3 and len(lat["live"]["warmup_ms"]) == 1 and len(lat["live"]["load_average"]) == 2
    assert lat["steps"][0]["basis"] in ("quiet-equivalent", "wall clock") and lat["steps"][0]["wall_clock_ms"] > 0

    res = cascade("calibrate", *flags, "--queries", "4", home=home)
    assert res.returncode == 0, res.stderr
    assert "Re-measured on 4 queries" in res.stdout and "before ms   after ms   wall ms" in res.stdout
    assert "quiet-equivalent" in res.stdout and "load average" in res.stdout
    assert "first pass" in res.stdout and "cross-encoder" in res.stdout


def test_calibrate_before_scoring_says_what_to_do(tiny_beir, tmp_path):
    res = cascade("calibrate", "--dataset", str(tiny_beir), "--stage", "bm25@10", home=tmp_path / "home")
    assert res.returncode == 2 and res.stderr.startswith("error: re-measuring needs the first pass stored")
