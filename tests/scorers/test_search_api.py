"""The ``search-api`` first pass against a ``_search`` server process on 127.0.0.1
(tests/search_server.py: this project's BM25 behind Elasticsearch's protocol): its lists must be
the ``bm25`` first pass's, and a down engine, a wrong index, a refused key or a wrong id field
must each end in one line."""

import json
import socket

import numpy as np
import pytest

from cascade_core.data import load_dataset
from cascade_core.errors import ServiceError, SpecError
from cascade_core.scorers import ScorerConfig
from cascade_core.serving import DataRoots, SpecRefused, check_shared_spec
from tests.conftest import SAMPLE
from tests.helpers import run_cli as cascade
from tests.search_server import serve

pytestmark = pytest.mark.slow   # each module starts an engine process (BM25 over the sample)


@pytest.fixture(scope="module")
def engine():
    with serve(SAMPLE, "scifact", "--api-key", "k3y") as url:
        yield url


@pytest.fixture(scope="module")
def sample():
    return load_dataset(SAMPLE, split="test")


def search_api(workspace, dataset, url, **params):
    params = {"url": url, "index": "scifact", "api_key_env": "TEST_SEARCH_KEY", **params}
    return workspace.retriever(ScorerConfig("search-api", None, params), dataset.corpus, dataset.queries)


def test_the_engines_lists_are_the_bm25_first_passs_on_the_sample(engine, sample, workspace, monkeypatch):
    monkeypatch.setenv("TEST_SEARCH_KEY", "k3y")
    live = search_api(workspace, sample, engine)
    live.prepare()
    bm25 = workspace.retriever(ScorerConfig("bm25"), sample.corpus)
    for qid in sample.queries.ids:
        text = sample.queries.text_of(qid)
        ids, scores = live.retrieve(text, 100)
        want_ids, want_scores = bm25.retrieve(text, 100)
        assert ids == list(want_ids), qid
        np.testing.assert_allclose(scores, want_scores, rtol=1e-12)
    # by a _source field, basic auth: the same
    basic = search_api(workspace, sample, engine, id_field="doc_id", auth="basic")
    monkeypatch.setenv("TEST_SEARCH_KEY", "elastic:k3y")
    text = sample.queries.text_of(sample.queries.ids[0])
    assert basic.retrieve(text, 20)[0] == list(bm25.retrieve(text, 20)[0])


def test_eval_with_the_engine_as_first_pass_equals_bm25(engine, tmp_path):
    home = tmp_path / "home"
    common = ["eval", "--dataset", str(SAMPLE), "--pool-size", "50", "--final-k", "10"]
    res = cascade(*common, "--json", str(tmp_path / "bm25.json"), home=home)
    assert res.returncode == 0, res.stderr
    res = cascade(*common, "--first-pass", "search-api", "--param", f"first-pass.url={engine}",
                  "--param", "first-pass.index=scifact", "--json", str(tmp_path / "es.json"), home=home,
                  env={"CASCADE_SEARCH_API_KEY": "k3y"})
    assert res.returncode == 0, res.stderr
    bm25, es = (json.loads((tmp_path / f).read_text()) for f in ("bm25.json", "es.json"))
    assert es["metrics"] == bm25["metrics"] and es["stages"][0]["scorer"].startswith("first-pass:search-api:")


def test_a_down_engine_a_wrong_index_a_refused_key_and_a_wrong_id_field_are_one_line_each(
        engine, sample, workspace, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    cases = [({"url": closed, "retries": 0}, "k3y", "cannot be reached"),
             ({"index": "nope"}, "k3y", "HTTP 404 Not Found: no such index [nope]; check the index name"),
             ({}, "wrong", "HTTP 401 Unauthorized: missing authentication credentials; check the API key in "
                           "$TEST_SEARCH_KEY (it is set"),
             ({"template": '{"query": {"term": {"x": "{{query}}"}}}'}, "k3y", "HTTP 400"),
             ({"id_field": "nothing"}, "k3y", "the answer has no hits.hits with nothing")]
    for params, key, words in cases:
        monkeypatch.setenv("TEST_SEARCH_KEY", key)
        with pytest.raises(ServiceError) as err:
            search_api(workspace, sample, params.pop("url", engine), **params).prepare()
        assert "\n" not in str(err.value) and words in str(err.value), str(err.value)


def test_documents_the_corpus_lacks_are_dropped_and_said(engine, tmp_path):
    res = cascade("eval", "--dataset", str(SAMPLE), "--pool-size", "10", "--first-pass", "search-api",
                  "--param", f"first-pass.url={engine}", "--param", "first-pass.index=scifact-elsewhere",
                  home=tmp_path / "home", env={"CASCADE_SEARCH_API_KEY": "k3y"})
    assert res.returncode == 0, res.stderr
    assert "documents the engine returned are not in the corpus and were dropped (e.g. 'other-" in res.stdout


def test_parameters_are_checked_and_a_shared_dashboard_calls_only_listed_engines(sample, workspace):
    with pytest.raises(SpecError, match="needs an index"):
        search_api(workspace, sample, "http://127.0.0.1:9200", index="")
    with pytest.raises(SpecError, match="not JSON once"):
        search_api(workspace, sample, "http://127.0.0.1:9200", template='{"query": "{{query}}"')
    a = search_api(workspace, sample, "http://127.0.0.1:9200").id
    assert search_api(workspace, sample, "http://127.0.0.1:9200", timeout_s=1).id == a
    assert search_api(workspace, sample, "http://127.0.0.1:9200", version="reindexed-12-07").id != a
    assert search_api(workspace, sample, "http://127.0.0.1:9200", index="other").id != a
    from cascade_core.cascade import CascadeSpec
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "search-api", "params": {"url": "http://evil:9200",
                                                                                 "index": "x"}}, "stages": []})
    with pytest.raises(SpecRefused, match="calls only the servers its operator listed"):
        check_shared_spec(spec, DataRoots([]), ["http://es.internal:9200"])
