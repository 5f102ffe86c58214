"""The ``rerank-api`` stage against real server processes on 127.0.0.1: ``cascade serve-model``
serving a tiny cross-encoder (every protocol must give the ``cross-encoder`` kind's scores), and
tests/rerank_server.py, which misbehaves on request (429, timeouts, malformed answers, 500)."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from cascade_core.errors import ServiceError, SpecError
from cascade_core.remote.rerank import PROTOCOLS, BadAnswer, endpoint, ranked_results
from cascade_core.scorers import ScorerConfig
from cascade_core.serving import DataRoots, SpecRefused, check_shared_scorers
from tests.helpers import run_cli as cascade
from tests.helpers import server_process
from tests.rerank_server import control, serve, stats

KEY_ENV = "TEST_RERANK_KEY"


@pytest.fixture(scope="module")
def served(tiny_cross_encoder):
    """``cascade serve-model`` on a free port, a key required; its URL."""
    argv = [sys.executable, "-m", "cascade_cli", "serve-model", tiny_cross_encoder, "--port", "0",
            "--api-key-env", KEY_ENV, "--max-client-batch-size", "64"]
    env = dict(os.environ, **{KEY_ENV: "s3cret", "HF_HUB_OFFLINE": "1"})
    with server_process(argv, r" at (http://127\.0\.0\.1:\d+) ", "cascade serve-model", env) as url:
        yield url


@pytest.fixture(scope="module")
def misbehaving():
    with serve() as url:
        yield url


def rerank(workspace, dataset, protocol, url, model=None, **params):
    return workspace.scorer(ScorerConfig("rerank-api", model, {"protocol": protocol, "url": url, **params}),
                            dataset.corpus)


# -- the protocols, without a server --------------------------------------------------------------

@pytest.mark.parametrize("protocol, answer", [
    ("cohere", {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]}),
    ("tei", [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}]),
    ("voyage", {"data": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]}),
    ("elasticsearch", {"rerank": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]}),
    ("elasticsearch", {"rerank": [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}]}),   # before 8.18
])
def test_each_protocol_reads_its_answer_back_in_the_order_sent(protocol, answer):
    assert PROTOCOLS[protocol].scores(answer, 2).tolist() == [0.1, 0.9]


@pytest.mark.parametrize("answer, words", [
    ({"results": [{"index": 0, "relevance_score": 1.0}]}, "scores 1 of the 2 documents sent"),
    ({"results": [{"index": 0, "relevance_score": 1.0}, {"index": 0, "relevance_score": 2.0}]}, "scored twice"),
    ({"results": [{"index": 5, "relevance_score": 1.0}]}, "index is 5"),
    ({"results": [{"index": 0, "relevance_score": "high"}]}, "not a finite number"),
    ({"results": [{"index": True, "relevance_score": 1.0}]}, "index is True"),
    ({"data": []}, "no 'results' list"),
    ([1, 2], "no 'results' list"),
])
def test_a_malformed_answer_says_what_is_wrong(answer, words):
    with pytest.raises(BadAnswer, match=re.escape(words)):
        PROTOCOLS["cohere"].scores(answer, 2)


def test_urls_get_the_protocols_path_only_when_they_have_none():
    assert endpoint("http://h:8080/", PROTOCOLS["tei"], "") == ("http://h:8080", "/rerank")
    assert endpoint("http://h:8080/custom/rerank", PROTOCOLS["tei"], "") == ("http://h:8080", "/custom/rerank")
    assert endpoint("http://es:9200", PROTOCOLS["elasticsearch"], "a b/c") == ("http://es:9200", "/_inference/rerank/a%20b%2Fc")
    assert ranked_results([0.2, 0.2, 0.9], None, "score")[0] == {"index": 2, "score": 0.9}


def test_parameters_are_checked_and_the_id_holds_what_changes_a_score(tiny_dataset, workspace):
    with pytest.raises(SpecError, match="needs a url"):
        rerank(workspace, tiny_dataset, "cohere", "", "m")
    with pytest.raises(SpecError, match="needs a model"):
        rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:1")
    with pytest.raises(SpecError, match="protocol"):
        rerank(workspace, tiny_dataset, "grpc", "http://127.0.0.1:1", "m")
    base = rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:1", "m").id
    assert rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:1", "m", batch_size=5, concurrency=9,
                  timeout_s=3, retries=0).id == base   # speed only
    assert rerank(workspace, tiny_dataset, "voyage", "http://127.0.0.1:1", "m").id != base
    assert rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:2", "m").id != base
    assert rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:1", "m2").id != base
    assert rerank(workspace, tiny_dataset, "cohere", "http://127.0.0.1:1", "m", max_doc_chars=100).id != base


def test_a_shared_dashboard_calls_only_listed_servers_with_the_default_key_variable():
    roots = DataRoots([])
    ok = ScorerConfig("rerank-api", "m", {"url": "http://rerank.internal:8080"})
    check_shared_scorers([ok], roots, ["http://rerank.internal:8080"])
    with pytest.raises(SpecRefused, match="calls only the servers its operator listed"):
        check_shared_scorers([ScorerConfig("rerank-api", "m", {"url": "http://evil:1"})], roots,
                             ["http://rerank.internal:8080"])
    with pytest.raises(SpecRefused, match="CASCADE_RERANK_API_KEY"):
        check_shared_scorers([ScorerConfig("rerank-api", "m", {"url": "http://rerank.internal:8080",
                                                               "api_key_env": "AWS_SECRET_ACCESS_KEY"})],
                             roots, ["http://rerank.internal:8080"])


# -- against cascade serve-model ----------------------------------------------------------------

@pytest.mark.slow
def test_every_protocol_gives_the_cross_encoders_scores(served, tiny_cross_encoder, tiny_dataset, workspace,
                                                        monkeypatch):
    monkeypatch.setenv(KEY_ENV, "s3cret")
    docs = tiny_dataset.corpus.ids[:23]
    query = tiny_dataset.queries.text_of(tiny_dataset.queries.ids[0])
    expected = workspace.scorer(ScorerConfig("cross-encoder", tiny_cross_encoder), tiny_dataset.corpus).score(query, docs)
    for protocol in PROTOCOLS:
        scorer = rerank(workspace, tiny_dataset, protocol, served, None if protocol == "tei" else "tiny",
                        api_key_env=KEY_ENV, batch_size=7, max_doc_chars=100_000)
        scorer.load_model()
        got = scorer.score(query, docs)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=protocol)
        assert scorer.calls == 1 + 4   # the check, then 23 documents in batches of 7


@pytest.mark.slow
def test_serve_model_refuses_a_missing_key_too_many_documents_and_bad_bodies(served, tiny_dataset, workspace,
                                                                           monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    scorer = rerank(workspace, tiny_dataset, "tei", served, api_key_env=KEY_ENV)
    with pytest.raises(ServiceError) as err:
        scorer.score("a query", tiny_dataset.corpus.ids[:3])
    line = str(err.value)
    assert "\n" not in line and "HTTP 401" in line and f"check the API key in ${KEY_ENV} (it is not set" in line

    monkeypatch.setenv(KEY_ENV, "s3cret")
    too_many = rerank(workspace, tiny_dataset, "tei", served, api_key_env=KEY_ENV, batch_size=65)
    with pytest.raises(ServiceError, match="HTTP 413.*at most 64 .*lower batch_size"):
        too_many.score("a query", (list(tiny_dataset.corpus.ids) * 2)[:65])

    def post(path, data):
        req = urllib.request.Request(served + path, data=data, method="POST",
                                     headers={"Authorization": "Bearer s3cret", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post("/rerank", b"{not json")[0] == 422
    assert post("/rerank", json.dumps({"query": 1, "texts": []}).encode()) == (
        422, {"error": {"message": "query must be a string"}, "message": "query must be a string",
              "error_type": "Validation"})
    code, answer = post("/v2/rerank", json.dumps({"query": "q", "documents": ["a", {"text": "b"}, "c"],
                                                  "top_n": 2, "return_documents": True}).encode())
    assert code == 200 and len(answer["results"]) == 2 and "document" in answer["results"][0]
    code, answer = post("/rerank", json.dumps({"query": "q", "texts": ["a", "b"]}).encode())
    assert code == 200 and all(0 < r["score"] < 1 for r in answer)   # TEI's default: the sigmoid


@pytest.mark.slow
def test_serve_model_on_a_port_in_use_is_one_line(tiny_cross_encoder, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "cascade_cli", "serve-model", tiny_cross_encoder,
                              "--port", str(port)], capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, HF_HUB_OFFLINE="1", CASCADE_HOME=str(tmp_path)))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: ") and f"cannot listen on 127.0.0.1:{port}" in res.stderr


# -- failures, end to end: one line, and what was stored stays stored ---------------------------

def eval_args(tiny_beir, url, *extra):
    return ("eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "rerank-api@5",
            "--param", "rerank-api.protocol=tei", "--param", f"rerank-api.url={url}",
            "--param", "rerank-api.batch_size=8", "--param", "rerank-api.concurrency=1", *extra)


def error_lines(res) -> list[str]:
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    return [line for line in res.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_a_429_ends_in_one_line_and_a_rerun_scores_only_what_is_missing(misbehaving, tiny_beir, tmp_path):
    home = tmp_path / "home"
    control(misbehaving, "429", after=12)   # the check, the warm-up, then some queries pass
    res = cascade(*eval_args(tiny_beir, misbehaving, "--param", "rerank-api.retries=1"), home=home)
    [line] = error_lines(res)
    assert "HTTP 429" in line and "it asked to retry after 1 s" in line and "(2 tries)" in line
    assert re.search(r"query '.+', batch \d of \d \(documents \d+-\d+ of \d+\)", line), line
    control(misbehaving, "ok")
    res = cascade(*eval_args(tiny_beir, misbehaving, "--json", str(tmp_path / "r.json")), home=home)
    assert res.returncode == 0, res.stderr
    scored = json.loads((tmp_path / "r.json").read_text())["scoring"]["scored_pairs"]["rerank-api"]
    assert 0 < scored < 12 * 20   # the queries scored before the 429 were kept
    assert "requests to http://127.0.0.1" in res.stdout and "/rerank for " in res.stdout   # what the run sent


@pytest.mark.slow
def test_a_timeout_a_malformed_answer_and_a_500_are_one_line_each(misbehaving, tiny_beir, tmp_path):
    home = tmp_path / "home"
    control(misbehaving, "slow", after=2, delay=3)
    [line] = error_lines(cascade(*eval_args(tiny_beir, misbehaving, "--param", "rerank-api.timeout_s=0.5",
                                            "--param", "rerank-api.retries=0"), home=home))
    assert "did not answer within 0.5 s (1 try)" in line and "raise timeout_s" in line
    control(misbehaving, "garbage", after=2)
    [line] = error_lines(cascade(*eval_args(tiny_beir, misbehaving), home=home))
    assert "is not a tei rerank answer: the answer scores 1 of the" in line and "is protocol right?" in line
    control(misbehaving, "500")
    failed = stats(misbehaving)["failed"]
    [line] = error_lines(cascade(*eval_args(tiny_beir, misbehaving, "--param", "rerank-api.retries=1"), home=home))
    assert "answered HTTP 500" in line and "model crashed" in line and "check the server's log" in line
    assert stats(misbehaving)["failed"] == failed + 2   # tried again once
    control(misbehaving, "ok")


def test_every_front_end_refuses_a_named_protocol_without_a_model(tmp_path):
    from cascade_core.cascade import CascadeSpec

    spec = {"first_pass": {"kind": "bm25"}, "pool_size": 20,
            "stages": [{"scorer": {"kind": "rerank-api", "params": {"url": "http://127.0.0.1:1"}}, "keep": 10}]}
    with pytest.raises(SpecError, match="stage 1 .*protocol cohere needs a model.*rerank-api:NAME@K"):
        CascadeSpec.from_dict(spec)
    spec["stages"][0]["scorer"]["params"]["protocol"] = "tei"   # TEI serves one model: none needed
    assert CascadeSpec.from_dict(spec).stages[0].scorer.kind == "rerank-api"


def test_serve_model_refuses_to_start_open_when_its_key_variable_is_not_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    res = cascade("serve-model", "/nowhere", "--api-key-env", "NO_SUCH_KEY_VARIABLE", home=tmp_path)
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: --api-key-env NO_SUCH_KEY_VARIABLE: that variable is not set here, so the server would answer "
        "anyone; set it to the key, or leave --api-key-env out for a server without one"]
