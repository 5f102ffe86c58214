"""Issue 13, part 3: the dashboard and two CLI runs started together on one fresh data folder.

All three need the same index and scores: each builds or waits for the other (the embedded Qdrant
folder's lock, the score store's writer lock), and all three finish with identical metrics. The
dashboard is the Evaluate page driven by Streamlit's AppTest in a process of its own, as a browser
session would drive it.
"""

import pytest
import json
import os
import subprocess
import sys
from pathlib import Path

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)

REPO = Path(__file__).resolve().parents[2]
SPEC = """name: three at once
first_pass: {kind: bm25}
pool_size: 20
stages:
  - scorer: {kind: bi, model: all-MiniLM-L6-v2}
    keep: 10
final_k: 10
"""
DASHBOARD = """
import json, sys
from streamlit.testing.v1 import AppTest
from cascade_core.cascade.spec import CascadeSpec
dataset, spec_file, repo = sys.argv[1:4]
at = AppTest.from_file(repo + "/pages/evaluate.py", default_timeout=900)
at.session_state["dataset_source"] = {"path": dataset, "split": "test", "fmt": "auto", "label": "tiny"}
at.session_state["spec"] = CascadeSpec.load(spec_file).to_dict()
at.run()
errors = [e.value for e in at.error] + [str(e.value) for e in at.exception]
table = next(d.value for d in at.dataframe if "oracle_ndcg@10" in d.value.columns)
final = table.loc["final"]
print(json.dumps({"errors": errors, "metrics": {m: float(final[m]) for m in ("ndcg@10", "mrr@10", "recall@10", "map")}}))
"""
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "CASCADE_QDRANT_WAIT_S": "900", "CASCADE_STORE_WAIT_S": "900"}


def test_dashboard_and_two_cli_runs_at_once_agree(tiny_beir, tmp_path):
    home = tmp_path / "home"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    cli = [subprocess.Popen([sys.executable, "-m", "cascade_cli", "--home", str(home), "eval",
                             "--dataset", str(tiny_beir), "--config", str(spec), "--json", str(tmp_path / f"cli{i}.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
           for i in (1, 2)]
    dash = subprocess.Popen([sys.executable, "-c", DASHBOARD, str(tiny_beir), str(spec), str(REPO)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, "CASCADE_HOME": str(home)}, cwd=REPO)
    try:
        outs = [p.communicate(timeout=1500) for p in (*cli, dash)]
    finally:
        for p in (*cli, dash):
            p.kill()
    for p, (out, err) in zip((*cli, dash), outs):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    shown = json.loads(outs[2][0].strip().splitlines()[-1])
    assert shown["errors"] == []
    first, second = (json.loads((tmp_path / f"cli{i}.json").read_text())["metrics"] for i in (1, 2))
    assert first == second
    for name, value in shown["metrics"].items():
        assert abs(first[name] - value) < 1e-9, (name, first[name], value)
