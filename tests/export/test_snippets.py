"""Exports: TREC run files that trec_eval-style tools read back to our numbers; a safe HTML report;
a Python snippet that runs."""

import io
import subprocess
import sys
import zipfile

import numpy as np

from cascade_core.analysis.evaluation import evaluate_run
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.data import Qrels
from cascade_core.export.snippets import python_snippet, trec_run, trec_runs_zip
from cascade_core.scorers import ScorerConfig


def small_run():
    rng = np.random.default_rng(1)
    Q, N = 5, 30
    docs = np.tile(np.arange(N), (Q, 1))
    first = -np.sort(-rng.random((Q, N)), axis=1)
    m = ScoreMatrix([f"q{i}" for i in range(Q)], [f"d{i}" for i in range(N)], docs, first, [rng.random((Q, N))])
    spec = CascadeSpec(ScorerConfig("bm25"), pool_size=20, stages=[StageSpec(ScorerConfig("bi-encoder"), 10)],
                       final_k=5, name="t")
    qrels = Qrels({f"q{i}": {f"d{j}": int(1 + (j % 2)) for j in rng.choice(N, 4, replace=False)} for i in range(Q)})
    return simulate(spec, m), qrels


def test_trec_run_reads_back_to_the_same_metrics():
    import ir_measures
    from ir_measures import nDCG

    run, qrels = small_run()
    text = trec_run(run, step=1)
    lines = text.strip().splitlines()
    assert len(lines) == 5 * 10 and lines[0].split()[1] == "Q0" and lines[0].split()[3] == "1"
    parsed = list(ir_measures.read_trec_run(io.StringIO(text)))
    ref = {m.query_id: m.value for m in ir_measures.iter_calc(
        [nDCG @ 10], [ir_measures.Qrel(q, d, g) for q, ds in qrels.judgments.items() for d, g in ds.items()], parsed)}
    ours = evaluate_run(run, qrels, ["ndcg@10"]).steps[1].per_query["ndcg@10"]
    np.testing.assert_allclose([ref[q] for q in run.matrix.query_ids], ours, atol=1e-9)
    assert len(trec_run(run).strip().splitlines()) == 5 * 5  # final list: final_k each


def test_zip_holds_every_step():
    run, _ = small_run()
    names = zipfile.ZipFile(io.BytesIO(trec_runs_zip(run))).namelist()
    assert names == ["0-first_pass.run", "1-bi-encoder.run", "final.run"]


def test_html_report_escapes_dataset_text():
    import pandas as pd
    import plotly.graph_objects as go

    from cascade_draw.report import html_report

    out = html_report("<script>alert(1)</script>", {"dataset": "<b>x</b>"}, [go.Figure()],
                      {"t": pd.DataFrame({"query": ["<img src=x onerror=alert(1)>"]})},
                      findings=[("pool too small", "<i>evidence</i>")])
    assert "<script>alert(1)</script>" not in out and "&lt;script&gt;" in out
    assert "<img src=x" not in out and "<i>evidence</i>" not in out
    assert out.count("window.plotlyReady=") == 1


def test_snippet_runs(tiny_beir, tmp_path):
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 10, "final_k": 5, "name": "bm25 only"})
    code = python_snippet(spec, str(tiny_beir), "test", 50.0)
    script = tmp_path / "run_cascade.py"
    script.write_text(code.replace('"your query here"', '"stem cells"'))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={"CASCADE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "first pass: kept 5" in res.stdout or "first pass: kept" in res.stdout
    assert "ndcg@10" in res.stdout


def test_html_report_shows_findings_and_every_figure():
    import plotly.graph_objects as go

    from cascade_draw.report import html_report

    figures = [go.Figure(layout={"title": {"text": t}}) for t in ("Candidates through the cascade", "Pareto")]
    out = html_report("r", {}, figures, {}, findings=[("Stage-one pool size too small", "recall still rising")])
    assert "<h2>Doctor</h2>" in out and "Stage-one pool size too small" in out and "recall still rising" in out
    assert "Candidates through the cascade" in out and "Pareto" in out
    # plotly.js inlined once (compressed), so the file opens offline; every figure waits for it
    assert out.count("window.plotlyReady=") == 1 and out.count("window.plotlyReady.then") == 2
    import base64
    import gzip
    import re

    packed = re.search(r"atob\('([^']+)'\)", out).group(1)
    assert b"plotly.js v" in gzip.decompress(base64.b64decode(packed))[:2000]
    assert len(out) < 2_500_000     # 4.8 MB of plotly.js, gzipped: about 2 MB
    assert "No known failure mode detected" in html_report("r", {}, [], {}, findings=[])
