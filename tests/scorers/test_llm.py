"""The ``llm`` stage over HTTP, against a real OpenAI-compatible server process on localhost
(tests/llm_server.py, a word-overlap "model"), and its prompt, parsing and window helpers."""

import json
import math
import socket
import warnings

import numpy as np
import pytest

from cascade_core.errors import ServiceError, SpecError
from cascade_core.models.truncation import clip
from cascade_core.scorers import ScorerConfig
from cascade_core.scorers.llm import (LLMScorer, listwise_order, parse_permutation, scores_from_order,
                                      sliding_windows, yes_share)
from tests.llm_server import overlap, serve, stats
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


def llm(workspace, dataset, model="overlap", **params):
    return workspace.scorer(ScorerConfig("llm", model, params), dataset.corpus)


def closed_port_url() -> str:
    with socket.socket() as s:   # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def some_pairs(dataset, n=6):
    """A query and ``n`` documents (its relevant ones first) that the overlap "model" tells apart."""
    for qid in dataset.queries.ids:
        relevant = list(dataset.qrels.relevant(qid))[:n]
        docs = relevant + [d for d in dataset.corpus.ids if d not in relevant][: n - len(relevant)]
        query = dataset.queries.text_of(qid)
        if len({overlap(query, clip(dataset.corpus.text_of(d), 800)) for d in docs}) >= min(3, n):
            return query, docs
    raise AssertionError("no query with documents of distinct overlaps")


# -- parsing and windows -------------------------------------------------------------------------

@pytest.mark.parametrize("answer, n, expected", [
    ("[2] > [1] > [3]", 3, [1, 0, 2]),
    ("[2] > [2] > [1]", 3, [1, 0, 2]),                 # a repeat: the first mention counts
    ("[4] > [0] > [1]", 3, [0, 1, 2]),                 # ids out of range dropped
    ("", 3, [0, 1, 2]),                                 # nothing usable: the incoming order
    ("I think 3 then 1", 3, [2, 0, 1]),                 # no brackets: bare numbers
    ("[3] (2021 study) > [1]", 3, [2, 0, 1]),          # brackets present: other numbers ignored
    ("[10] > [1]", 10, [9, 0, 1, 2, 3, 4, 5, 6, 7, 8]),  # two digits; the rest follow in order
])
def test_permutation_parsing_is_robust(answer, n, expected):
    assert parse_permutation(answer, n) == expected


@pytest.mark.parametrize("n, window, stride", [(1, 20, 10), (20, 20, 10), (21, 20, 10), (35, 20, 10), (100, 20, 5),
                                               (7, 3, 3)])
def test_windows_slide_bottom_up_and_cover_every_position(n, window, stride):
    wins = sliding_windows(n, window, stride)
    assert wins[0][1] == n and wins[-1][0] == 0
    assert all(e - s <= window for s, e in wins)
    assert [s for s, _ in wins] == sorted((s for s, _ in wins), reverse=True)
    assert set().union(*(range(s, e) for s, e in wins)) == set(range(n))


def test_a_document_at_the_bottom_rises_to_the_top_through_the_windows():
    # the best document enters last; each window puts it first, so it climbs all the way
    order = listwise_order(30, 10, 5, lambda chunk: sorted(range(len(chunk)), key=lambda i: chunk[i] != 29))
    assert order[0] == 29
    scores = scores_from_order(order)
    assert scores[29] == 30 and sorted(scores) == list(range(1, 31))


def test_yes_share_reads_token_probabilities():
    assert yes_share({"Yes": math.log(0.3), " no": math.log(0.1)}) == pytest.approx(0.75)
    assert yes_share({"YES.": math.log(0.2), "No": math.log(0.2)}) == pytest.approx(0.5)
    assert yes_share({"The": math.log(0.9)}) is None


def test_parameters_are_checked_and_the_id_holds_what_changes_a_score():
    with pytest.raises(SpecError, match="stride"):
        LLMScorer.parse_params({"mode": "listwise", "window": 5, "stride": 6})
    with pytest.raises(SpecError, match="needs a base_url"):
        LLMScorer.parse_params({"backend": "http"})
    with pytest.raises(SpecError, match="must start with http"):
        LLMScorer.parse_params({"base_url": "localhost:11434"})
    url = {"base_url": "http://h:1/v1"}
    a = LLMScorer(ScorerConfig("llm", "m", url), None)
    # speed settings share scores; a prompt-visible setting does not
    assert a.id == LLMScorer(ScorerConfig("llm", "m", {**url, "timeout_s": 5, "retries": 0, "concurrency": 1}), None).id
    assert a.id != LLMScorer(ScorerConfig("llm", "m", {**url, "max_doc_chars": 300}), None).id
    # window and stride matter to listwise only
    assert a.id == LLMScorer(ScorerConfig("llm", "m", {**url, "window": 5, "stride": 5}), None).id
    lw = lambda **p: LLMScorer(ScorerConfig("llm", "m", {**url, "mode": "listwise", **p}), None)  # noqa: E731
    assert lw().id != lw(window=5, stride=5).id and not lw().pointwise and a.pointwise
    # another server is another scorer; the API key never appears
    assert a.id != LLMScorer(ScorerConfig("llm", "m", {"base_url": "http://other:1/v1"}), None).id
    assert "KEY" not in a.id
    with pytest.raises(SpecError, match="server's model name"):
        LLMScorer(ScorerConfig("llm", None, url), None).id  # noqa: B018


# -- the HTTP back end against a real server -------------------------------------------------------

def test_pointwise_scores_are_the_servers_yes_probabilities(server, workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset)
    scorer = llm(workspace, tiny_dataset, base_url=server)
    scorer.prepare(docs)
    got = scorer.score(query, docs)
    # P(yes) / (P(yes) + P(no)) of what the server put on the tokens (yes: Yes + " yes"; no: No)
    p_yes = np.array([0.05 + 0.9 * overlap(query, clip(tiny_dataset.corpus.text_of(d), 800)) for d in docs])
    np.testing.assert_allclose(got, p_yes / (p_yes + 0.9 * (1 - p_yes)))
    assert len(set(got.tolist())) > 2
    # the completions API reads the same probabilities from the other answer format
    legacy = llm(workspace, tiny_dataset, base_url=server, api="completions").score(query, docs)
    np.testing.assert_allclose(legacy, got)


def test_listwise_orders_by_the_servers_permutations(server, workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset, n=9)
    scorer = llm(workspace, tiny_dataset, base_url=server, mode="listwise", window=4, stride=2)
    before = stats(server)["listwise"]
    scores = scorer.score(query, docs)
    assert stats(server)["listwise"] - before == len(sliding_windows(9, 4, 2))
    assert sorted(scores) == list(range(1, 10))
    best = max(range(9), key=lambda i: overlap(query, clip(tiny_dataset.corpus.text_of(docs[i]), 800)))
    assert scores[best] == 9   # the server's favourite wins, wherever it started


def test_a_garbled_permutation_still_gives_a_full_ranking(workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset, n=5)
    with serve("--garbage-permutation") as url:
        scores = llm(workspace, tiny_dataset, base_url=url, mode="listwise", window=5, stride=5).score(query, docs)
    assert sorted(scores) == [1, 2, 3, 4, 5]


def test_a_server_answering_json_nested_100000_deep_is_one_line(workspace, tiny_dataset):
    """Python's json raises RecursionError on it: read through the strict reader, it is "not JSON"."""
    query, docs = some_pairs(tiny_dataset, n=1)
    with serve("--hostile-json") as url:
        with pytest.raises(ServiceError) as err:
            llm(workspace, tiny_dataset, base_url=url, retries=0).score(query, docs)
    assert "answered something that is not JSON" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_retries_ride_out_a_server_that_is_loading(workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset, n=2)
    with serve("--fail-first", "2") as url:
        scores = llm(workspace, tiny_dataset, base_url=url, retries=2, concurrency=1).score(query, docs[:1])
        assert stats(url)["failed"] == 2 and len(scores) == 1
    with serve("--fail-first", "5") as url:
        with pytest.raises(ServiceError) as err:
            llm(workspace, tiny_dataset, base_url=url, retries=1, concurrency=1).score(query, docs[:1])
    message = str(err.value)
    assert "\n" not in message and "HTTP 503" in message and "model is loading" in message and "(2 tries)" in message


def test_server_down_timeout_bad_model_and_bad_key_are_one_line_each(server, workspace, tiny_dataset, monkeypatch):
    query, docs = some_pairs(tiny_dataset, n=1)
    down = llm(workspace, tiny_dataset, base_url=closed_port_url(), retries=1)
    with pytest.raises(ServiceError, match=r"checking the server failed: the server cannot be reached "
                                           r"\(connection refused\) \(2 tries\); is the server running"):
        down.load_model()
    with serve("--delay", "1.5") as slow:
        with pytest.raises(ServiceError, match=r"did not answer within 0.3 s \(1 try\); raise timeout_s"):
            llm(workspace, tiny_dataset, base_url=slow, timeout_s=0.3, retries=0).score(query, docs)
    with pytest.raises(ServiceError, match="HTTP 404.*model 'nope' not found.*check the model name"):
        llm(workspace, tiny_dataset, "nope", base_url=server).score(query, docs)
    with serve("--api-key", "s3cret") as locked:
        monkeypatch.delenv("MY_LLM_KEY", raising=False)
        with pytest.raises(ServiceError, match=r"HTTP 401.*\$MY_LLM_KEY \(it is not set"):
            llm(workspace, tiny_dataset, base_url=locked, api_key_env="MY_LLM_KEY").score(query, docs)
        monkeypatch.setenv("MY_LLM_KEY", "s3cret")
        assert len(llm(workspace, tiny_dataset, base_url=locked, api_key_env="MY_LLM_KEY").score(query, docs)) == 1
        assert "Bearer s3cret" in stats(locked)["auth"]


def test_a_server_without_logprobs_falls_back_to_the_answer_with_a_warning(workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset)
    with serve("--no-logprobs") as url:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = llm(workspace, tiny_dataset, base_url=url, concurrency=1).score(query, docs)
    assert set(scores.tolist()) <= {0.0, 1.0}
    assert len([w for w in caught if "returned no logprobs" in str(w.message)]) == 1


# -- end to end through the CLI ----------------------------------------------------------------------

@pytest.mark.slow
def test_eval_pointwise_and_listwise_end_to_end_with_costs(server, tiny_beir, tmp_path):
    home = tmp_path / "home"
    common = ["eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "llm:overlap@10",
              "--final-k", "5", "--param", f"llm.base_url={server}"]
    res = cascade(*common, "--live", "2", "--json", str(tmp_path / "p.json"), home=home)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "p.json").read_text())
    stage = report["stages"][1]
    assert stage["kind"] == "llm" and stage["scorer"].startswith(f"llm:overlap@{server}:")
    assert stage["latency_ms"] > 0 and stage["measured_ms"]["p50"] > 0   # cost recorded: the latency bars
    assert report["scoring"]["scored_pairs"] == {"llm": 12 * 20} and report["approximate"] == []
    assert report["metrics"]["ndcg@10"] > 0.5

    listwise = common + ["--param", "llm.mode=listwise", "--param", "llm.window=6", "--param", "llm.stride=3"]
    res = cascade(*listwise, "--json", str(tmp_path / "l.json"), home=home)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "l.json").read_text())
    assert "mode=listwise" in report["stages"][1]["scorer"] and report["stages"][1]["latency_ms"] > 0
    assert report["approximate"] == [] and report["metrics"]["ndcg@10"] > 0.5
    # again: every list was ranked already, so nothing is asked of the server
    before = stats(server)["listwise"]
    again = cascade(*listwise, "--json", str(tmp_path / "l2.json"), home=home)
    assert again.returncode == 0 and stats(server)["listwise"] == before
    assert json.loads((tmp_path / "l2.json").read_text())["metrics"] == report["metrics"]

    # A smaller pool from the store alone: the stage receives lists it never ranked, and says so.
    smaller = [a if a != "20" else "15" for a in listwise]
    res = cascade(*smaller, "--from-store", "--json", str(tmp_path / "a.json"), home=home)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "a.json").read_text())["approximate"] == [{"stage": "llm", "queries": 12, "of": 12}]
    assert "APPROXIMATE: stage 'llm' is listwise and 12 of 12 queries" in res.stdout
    assert stats(server)["listwise"] == before   # --from-store asked nothing of the server
    # Evaluated normally, the new lists are ranked and the result is exact.
    res = cascade(*smaller, "--json", str(tmp_path / "e.json"), home=home)
    assert res.returncode == 0 and json.loads((tmp_path / "e.json").read_text())["approximate"] == []
    assert stats(server)["listwise"] > before and "APPROXIMATE" not in res.stdout


@pytest.mark.slow
def test_eval_with_the_server_down_or_too_slow_fails_in_one_line(tiny_beir, tmp_path):
    res = cascade("eval", "--dataset", str(tiny_beir), "--stage", "llm:overlap@5",
                  "--param", f"llm.base_url={closed_port_url()}", "--param", "llm.retries=0", home=tmp_path / "h")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(errors) == 1 and "cannot be reached (connection refused)" in errors[0], res.stderr
    with serve("--delay", "2") as slow:
        res = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "5", "--stage", "llm:overlap@5",
                      "--param", f"llm.base_url={slow}", "--param", "llm.timeout_s=0.5",
                      "--param", "llm.retries=1", home=tmp_path / "h")
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(errors) == 1 and "did not answer within 0.5 s (2 tries)" in errors[0], res.stderr


@pytest.mark.slow
def test_param_flag_names_a_stage_that_exists(tiny_beir, tmp_path):
    res = cascade("eval", "--dataset", str(tiny_beir), "--stage", "llm@5", "--param", "cross.window=4",
                  home=tmp_path / "h")
    assert res.returncode == 2 and "no stage 'cross'; stages: llm" in res.stderr
    res = cascade("eval", "--dataset", str(tiny_beir), "--stage", "llm@5", "--param", "llm.windw=4",
                  home=tmp_path / "h")
    assert res.returncode == 2 and "unknown llm parameter(s) windw" in res.stderr


# -- the local back end, on a tiny causal LM built here (the packaged gemma: test_llm_local.py) ------

@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory):
    """A real (untrained, seeded) 2-layer Llama with MiniLM's tokenizer, saved as a model folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from cascade_core.models import resolve_model

    folder = tmp_path_factory.mktemp("tiny-causal-lm") / "model"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                         pad_token_id=0, bos_token_id=101, eos_token_id=102)
    LlamaForCausalLM(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2").location).save_pretrained(folder)
    return str(folder)


def test_a_local_model_folder_scores_pointwise_and_listwise(tiny_causal_lm, workspace, tiny_dataset):
    query, docs = some_pairs(tiny_dataset, n=5)
    scorer = llm(workspace, tiny_dataset, tiny_causal_lm, batch_size=2)
    assert scorer.backend == "local" and scorer.id.startswith("llm:model-")   # folder name + content hash
    scorer.prepare(docs)
    together = scorer.score(query, docs)
    assert ((together > 0) & (together < 1)).all()
    alone = np.array([scorer.score(query, [d])[0] for d in docs])
    np.testing.assert_allclose(together, alone, atol=1e-5)   # batching with left padding changes nothing
    listwise = llm(workspace, tiny_dataset, tiny_causal_lm, mode="listwise", window=3, stride=2)
    assert sorted(listwise.score(query, docs).tolist()) == [1, 2, 3, 4, 5]


def test_a_converted_model_is_kept_only_when_it_reads_back_equal(tiny_causal_lm, tmp_path, monkeypatch):
    """What a GGUF file converts to is kept for the next process (keep_converted): read back and
    compared tensor by tensor first; a copy that differs is never marked, so never used."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cascade_core.scorers import llm as llm_kind

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm)
    target = tmp_path / "converted" / "tiny"
    assert llm_kind.keep_converted(model, tokenizer, target)
    assert (target / llm_kind.CONVERTED_MARK).exists() and not list(target.parent.glob(".*.tmp"))
    lm = llm_kind.LocalLM(str(target))   # a folder with config.json: read as it is
    prompts = ["query: cells\ndocument: stem cells divide\nrelevant:", "query: x\ndocument: y\nrelevant:"]
    reference = llm_kind.LocalLM(tiny_causal_lm)
    np.testing.assert_array_equal(lm.judge(prompts, 2), reference.judge(prompts, 2))

    # A conversion that does not read back equal (here: one weight changed on the way) is not kept.
    real_save = type(model).save_pretrained

    def save_changed(self, folder, **kwargs):
        real_save(self, folder, **kwargs)
        changed = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        with torch.no_grad():
            next(changed.parameters()).add_(1.0)
        real_save(changed, folder, **kwargs)

    monkeypatch.setattr(type(model), "save_pretrained", save_changed)
    other = tmp_path / "converted" / "differs"
    assert not llm_kind.keep_converted(model, tokenizer, other)
    assert not other.exists() and not list(other.parent.glob(".*.tmp"))
