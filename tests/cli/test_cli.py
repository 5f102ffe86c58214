"""The `cascade` command: a real run writes the documented report; bad input gives one line."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once


@pytest.mark.slow
def test_eval_prints_and_writes_the_report(tiny_beir, tiny_cross_encoder, tmp_path):
    report_path = tmp_path / "report.json"
    res = cascade("eval", "--dataset", str(tiny_beir), "--split", "test", "--first-pass", "bm25",
                  "--pool-size", "30", "--stage", "bi:all-MiniLM-L6-v2@15",
                  "--stage", f"cross:{tiny_cross_encoder}@8", "--final-k", "5", "--budget-ms", "1000",
                  "--live", "2", "--json", str(report_path), home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Sample query" in out and "nDCG@10" in out and "MRR@10" in out
    report = json.loads(report_path.read_text())
    assert {"ndcg@10", "mrr@10"} <= set(report["metrics"])
    assert [s["name"] for s in report["stages"]] == ["first pass", "bi-encoder", "cross-encoder"]
    assert [s["keep"] for s in report["stages"]] == [30, 15, 8]
    recalls = [s["recall"] for s in report["stages"]]
    assert recalls == sorted(recalls, reverse=True) and 0 < recalls[-1] <= 1
    assert all(s["latency_ms"] > 0 for s in report["stages"])
    assert all(s["measured_ms"]["p50"] > 0 for s in report["stages"])
    assert len(report["sample_query"]["results"]) == 5
    # against the first pass alone, and each stage against its input and against the cascade without it
    assert set(report["first_pass"]) == {"ndcg@10", "mrr@10", "recall@10"}
    # the first pass alone ships its own top final_k (5 here), like the cascade
    assert report["first_pass"]["ndcg@10"] == pytest.approx(report["lift"]["metrics"]["ndcg@10"]["before"])
    assert report["first_pass"]["ndcg@10"] <= report["stages"][0]["metrics"]["ndcg@10"] + 1e-9
    assert report["lift"]["metrics"]["ndcg@10"]["after"] == pytest.approx(report["metrics"]["ndcg@10"])
    assert report["stages"][0]["change_vs_input"] is None and report["stages"][0]["contribution"] is None
    cross = report["stages"][2]
    assert cross["change_vs_input"]["ndcg@10"]["before"] == pytest.approx(report["stages"][1]["metrics"]["ndcg@10"])
    assert cross["contribution"]["without"].endswith("-> 15 -> final 5") and not cross["contribution"]["missing_scores"]
    # without the bi-encoder, the cross-encoder would see candidates it never scored: said, not guessed
    assert "no stored score" in report["stages"][1]["contribution"]["missing_scores"]
    assert {s["step"] for s in report["provenance"]["steps"]} == {"first pass", "bi-encoder", "cross-encoder"}

    # The same run again: everything comes from the store.
    again = cascade("eval", "--dataset", str(tiny_beir), "--first-pass", "bm25", "--pool-size", "30",
                    "--stage", "bi:all-MiniLM-L6-v2@15", "--stage", f"cross:{tiny_cross_encoder}@8",
                    "--final-k", "5", "--json", str(tmp_path / "again.json"), home=tmp_path / "home")
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again.json").read_text())
    assert second["scoring"]["retrieved_queries"] == 0
    assert sum(second["scoring"]["scored_pairs"].values()) == 0
    assert second["metrics"] == pytest.approx(report["metrics"])


@pytest.mark.slow
def test_config_file_and_flag_override(tiny_beir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("first_pass: {kind: bm25}\npool_size: 20\nstages: []\nfinal_k: 10\n")
    res = cascade("eval", "--dataset", str(tiny_beir), "--config", str(config), "--pool-size", "25",
                  "--json", str(tmp_path / "r.json"), "--save-spec", str(tmp_path / "s.yaml"),
                  home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "r.json").read_text())["spec"]["pool_size"] == 25
    assert "pool_size: 25" in (tmp_path / "s.yaml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["eval", "--dataset", "/nonexistent/folder"], "no such file or folder"),
    (["eval", "--dataset", "{tiny}", "--stage", "bi:all-MiniLM-L6-v2@500"], "larger than pool_size"),
    (["eval", "--dataset", "{tiny}", "--stage", "bi-encoder"], "KIND[:MODEL]@KEEP"),
    (["eval", "--dataset", "{tiny}", "--first-pass", "magic"], "unknown first pass"),
    (["eval", "--dataset", "{tiny}", "--stage", "cross:/no/such/model@5"], "does not exist"),
    (["eval", "--dataset", "{tiny}", "--config", "/no/spec.yaml"], "does not exist"),
    (["eval", "--dataset", "{tiny}", "--split", "dev"], "split"),
    (["eval", "--dataset", "{tiny}", "--pool-size", "ten"], "invalid int value"),
    (["eval"], "--dataset"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_gives_one_clear_line(args, message, tiny_beir, tmp_path):
    args = [a.replace("{tiny}", str(tiny_beir)) for a in args]
    res = cascade(*args, home=tmp_path / "home")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr


def test_malformed_corpus_reports_file_and_line(tmp_path):
    folder = tmp_path / "bad"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": "1", "text": "ok"}\n{"_id": "2", "text": \n')
    (folder / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    res = cascade("eval", "--dataset", str(folder), home=tmp_path / "home")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "corpus.jsonl:2" in res.stderr


@pytest.mark.slow
def test_index_and_indexes_commands(tiny_beir, tmp_path):
    home = tmp_path / "home"
    res = cascade("index", "--dataset", str(tiny_beir), "--model", "all-MiniLM-L6-v2", home=home)
    assert res.returncode == 0, res.stderr
    assert "complete: True" in res.stdout
    again = cascade("index", "--dataset", str(tiny_beir), home=home)
    assert "nothing to do" in again.stdout
    listing = cascade("indexes", home=home)
    name = listing.stdout.split()[0]
    assert "complete" in listing.stdout and name.startswith("cx-")
    assert cascade("indexes", "--drop", "nope", home=home).returncode == 2
    assert cascade("indexes", "--drop", name, home=home).returncode == 0
    assert "No indexes yet" in cascade("indexes", home=home).stdout
    bad = cascade("index", "--dataset", str(tiny_beir), "--model", "/no/such/model", home=home)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["index", "--dataset", "{tiny}", "--model", "no-such-model-xyz"], "cannot load bi-encoder model 'no-such-model-xyz'"),
    (["index", "--dataset", "{empty}"], "no text to index"),
    (["index", "--dataset", "{tiny}", "--qdrant-url", "http://127.0.0.1:9"], "http://127.0.0.1:9"),
    (["indexes", "--qdrant-url", "http://127.0.0.1:9"], "http://127.0.0.1:9"),
    (["--qdrant-url", "http://127.0.0.1:9", "indexes"], "http://127.0.0.1:9"),
])
def test_bad_index_input_gives_one_clear_line_and_harms_nothing(args, message, tiny_beir, tmp_path):
    empty = tmp_path / "empty"
    (empty / "qrels").mkdir(parents=True)
    (empty / "corpus.jsonl").write_text('{"_id": "1", "title": "", "text": ""}\n{"_id": "2", "text": " "}\n')
    (empty / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    (empty / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    args = [a.replace("{tiny}", str(tiny_beir)).replace("{empty}", str(empty)) for a in args]
    home = tmp_path / "home"
    start = time.perf_counter()
    res = cascade(*args, home=home)
    # Fails fast: offline hub lookups and a refused connection are not retried for long.
    assert time.perf_counter() - start < 30
    assert res.returncode == 2 and "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr
    assert "No indexes yet" in cascade("indexes", home=home).stdout  # nothing was created


class _StubQdrant(BaseHTTPRequestHandler):
    """Answers the two calls `cascade indexes` makes of a server: version and collection list."""

    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.seen.append(self.path)
        body = {"title": "qdrant", "version": "1.15.0"} if self.path == "/" else {
            "result": {"collections": []}, "status": "ok", "time": 0.0}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def stub_qdrant():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _StubQdrant.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow
def test_storage_flags_work_before_and_after_the_subcommand(stub_qdrant, tiny_beir, tmp_path):
    for args in (["indexes", "--qdrant-url", stub_qdrant], ["--qdrant-url", stub_qdrant, "indexes"]):
        res = cascade(*args, home=tmp_path / "home")
        assert res.returncode == 0, res.stderr
        assert f"No indexes yet in {stub_qdrant}" in res.stdout
    assert "/collections" in _StubQdrant.seen   # the server was asked, not the embedded store
    other = tmp_path / "other"
    res = cascade("indexes", "--home", str(other), home=tmp_path / "home")
    assert res.returncode == 0 and f"embedded ({other})" in res.stdout
    # The subcommand's flag wins over the global one.
    res = cascade("--home", str(tmp_path / "home"), "indexes", "--home", str(other), home=tmp_path / "x")
    assert f"embedded ({other})" in res.stdout
    # eval takes them after its name too: --home decides where the scores go...
    res = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--home", str(tmp_path / "eval-home"),
                  home=tmp_path / "unused")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "eval-home" / "scores.sqlite").exists() and not (tmp_path / "unused").exists()
    # ...and --qdrant-url which Qdrant a bi-encoder stage uses (this one is unreachable, so it says so).
    res = cascade("eval", "--dataset", str(tiny_beir), "--stage", "bi:all-MiniLM-L6-v2@5",
                  "--qdrant-url", "http://127.0.0.1:9", home=tmp_path / "home")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and len(errors) == 1 and "http://127.0.0.1:9" in errors[0], res.stderr


@pytest.mark.slow
def test_tune_recommends_what_the_library_does_and_saves_it(tiny_beir, tmp_path):
    from cascade_core.analysis.experiment import Experiment
    from cascade_core.cascade import CascadeSpec
    from cascade_core.data import load_dataset
    from cascade_core.scoring.workspace import Workspace
    from cascade_core.tuning import best_within_budget, grid_search, tuning_grid

    home, saved, report_path = tmp_path / "home", tmp_path / "tuned.yaml", tmp_path / "tune.json"
    args = ("tune", "--dataset", str(tiny_beir), "--pool-size", "40", "--stage", "bi:all-MiniLM-L6-v2@20",
            "--final-k", "5", "--budget-ms", "10000", "--values", "4", "--folds", "3", "--repeats", "1")
    res = cascade(*args, "--save-spec", str(saved), "--json", str(report_path), home=home)
    assert res.returncode == 0, res.stderr
    assert "Pareto front" in res.stdout and "Recommended" in res.stdout and "Held-out check (3-fold x 1" in res.stdout
    report = json.loads(report_path.read_text())
    tuned_spec = CascadeSpec.load(saved)

    # The same answer from the library, on the same stored scores (and costs).
    given = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 40, "final_k": 5,
                                   "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 20}]})
    ws = Workspace(home)
    try:
        exp = Experiment(load_dataset(tiny_beir, split="test"), given, ws)
        tuned = grid_search(exp, tuning_grid(given, values=4), 10000)
        best = best_within_budget(tuned)
    finally:
        ws.close()
    assert tuned_spec == tuned.spec_at(best)
    assert report["recommended"]["index"] == best
    assert len(report["combinations"]) == len(tuned.specs) and len(report["held_out"]["folds"]) == 3
    assert report["combinations"][best]["ndcg@10"] == pytest.approx(tuned.table.loc[best, "ndcg@10"])
    # the recommendation says how each stage combines, not only where it cuts
    (stage,) = report["recommended"]["stages"]
    chosen = tuned.spec_at(best).stages[0]
    assert (stage["keep"], stage["combine"]) == (chosen.keep, chosen.combine)
    assert {k: v for k, v in stage.items() if k not in ("name", "keep", "cutoff")} == chosen.fusion.to_spec()
    assert sum(c["first_pass_only"] for c in report["combinations"]) == 1   # the first pass alone is a candidate

    # Tuning again scores nothing: every combination lies within what the first run stored.
    again = cascade(*args, home=home)
    assert again.returncode == 0 and "scoring:" not in again.stderr and "first pass" not in again.stderr


@pytest.mark.slow
def test_tune_with_a_budget_nothing_fits_says_so(tiny_beir, tmp_path):
    res = cascade("tune", "--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "bi:all-MiniLM-L6-v2@10",
                  "--final-k", "5", "--budget-ms", "0.001", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "No combination fits a 0.001 ms budget" in res.stdout
    # ... and the closest options, with how far over the budget each is
    assert "The closest" in res.stdout and " ms over" in res.stdout


@pytest.mark.slow
def test_doctor_prints_every_check_with_its_verdict(tiny_beir, tmp_path):
    res = cascade("doctor", "--dataset", str(tiny_beir), "--pool-size", "5", "--stage", "bi:all-MiniLM-L6-v2@5",
                  "--final-k", "5", "--json", str(tmp_path / "doctor.json"), home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "doctor.json").read_text())
    for f in report["findings"]:
        assert {"check", "severity", "stage", "evidence", "fix"} <= set(f)
        assert f["severity"] in ("ok", "info", "warning")
    by_check = {f["check"]: f for f in report["findings"]}
    assert by_check["pool-too-small"]["severity"] == "warning" and by_check["pool-too-small"]["fix"]
    assert by_check["harmful-stage"]["stage"] == "bi-encoder"
    # scored just now, by this machine: provenance and latency are both known and consistent
    assert {f["severity"] for f in report["findings"] if f["check"] in ("provenance", "latency-machine")} == {"ok"}
    assert "[ok] Quality gap" in res.stdout and "Latency against a single pass" in res.stdout
    assert "[ok] Score scales" in res.stdout
    # the first pass is retrieved deeper (--depth) than the 5-document pool: recall still rises
    # past it on this corpus, so the pool is flagged, with its evidence (recalls in per cent)
    assert "[WARNING] Pool too small" in res.stdout
    assert "Fix: Raise the pool" in res.stdout and "recall at the pool = " in res.stdout
    n_flagged = sum(f["status"] == "flagged" for f in report["findings"])
    assert f"{n_flagged} finding(s)." in res.stdout


@pytest.mark.slow
def test_report_writes_the_dashboards_html_report(tiny_beir, tmp_path):
    out = tmp_path / "report.html"
    res = cascade("report", str(out), "--dataset", str(tiny_beir), "--pool-size", "20",
                  "--stage", "bi:all-MiniLM-L6-v2@10", "--final-k", "5", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    for part in ("Against the first pass alone", "What each stage does to the list it receives", "<h2>Doctor</h2>",
                 "Provenance: what made these scores and timings", "The cascade spec (YAML)", "pool_size: 20"):
        assert part in html, part
    assert html.count("window.plotlyReady.then") == 5 and len(html) < 2_500_000
    assert "Report written to" in res.stdout
    bad = cascade("report", str(tmp_path / "no" / "r.html"), "--dataset", str(tiny_beir), home=tmp_path / "home")
    assert bad.returncode == 2 and "does not exist" in bad.stderr


@pytest.mark.slow
def test_report_present_writes_the_stakeholder_story_offline(tiny_beir, tmp_path):
    out = tmp_path / "present.html"
    res = cascade("report", str(out), "--present", "--dataset", str(tiny_beir), "--pool-size", "20",
                  "--stage", "bi:all-MiniLM-L6-v2@10", "--final-k", "5", "--budget-ms", "500", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    sections = ["1. The cascade", "2. What it buys", "3. What it costs", "4. The trade-off", "5. What it still loses",
                "Caveats"]
    assert [html.index(f"<h2>{s}</h2>") for s in sections] == sorted(html.index(f"<h2>{s}</h2>") for s in sections)
    assert "better on " in html and "this cascade" in html and "vs the first pass alone" in html
    # one printed sheet per panel; the figures drawn from the inlined Plotly (nothing fetched)
    assert "break-after:page" in html and html.count("window.plotlyReady.then") == 3
    assert "<script src=" not in html and "<link " not in html
