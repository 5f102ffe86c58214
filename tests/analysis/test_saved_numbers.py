"""A saved experiment reads back what it wrote, unmeasured figures included."""
from __future__ import annotations

import json

from cascade_core.analysis.saved import SavedExperiment


def test_an_unmeasured_latency_is_saved_as_null_and_an_older_nan_reads_as_not_measured(tmp_path):
    e = SavedExperiment("x", {}, "bm25", {}, ["q1", "q2"], {"ndcg@10": [0.5, None]},
                        {"predicted_ms": 2.0, "p99": float("nan"), "measured": None})
    path = e.save(tmp_path)
    assert "NaN" not in path.read_text()
    assert SavedExperiment.load(tmp_path, "x").latency["p99"] is None
    # Saved before null was written: a bare NaN in the file is "not measured", not a damaged file.
    data = json.loads(path.read_text())
    data["latency"]["p99"] = float("nan")
    path.write_text(json.dumps(data))
    assert "NaN" in path.read_text()
    back = SavedExperiment.load(tmp_path, "x")
    assert back.latency["p99"] is None and back.per_query["ndcg@10"] == [0.5, None]
