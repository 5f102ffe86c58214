"""The LLM judge over HTTP, against a real OpenAI-compatible server process on localhost
(tests/llm_server.py: its "model" grades by word overlap), and its prompt, parser and estimate."""

import pytest

from cascade_core.errors import ServiceError, SpecError
from cascade_core.judgments.agreement import agreement
from cascade_core.judgments.llm_judge import DEFAULT_PROMPT, LLMJudge, clipped, parse_grade, render_prompt
from tests.llm_server import overlap, serve, stats


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


def pairs_of(dataset, n_queries=3, per_query=4):
    """Each query's relevant documents and a few others: pairs the overlap "model" grades apart."""
    out = []
    for qid in dataset.judged_queries.ids[:n_queries]:
        rel = list(dataset.qrels.relevant(qid))[:2]
        others = [d for d in dataset.corpus.ids if d not in dataset.qrels.judgments.get(qid, {})][: per_query - len(rel)]
        out += [(qid, d) for d in rel + others]
    return out


def expected_grade(query: str, doc: str) -> int:
    share = overlap(query, clipped(doc, 800)[0])
    return 2 if share >= 0.5 else 1 if share >= 0.25 else 0


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_http_judge_labels_pairs_and_keeps_raw_answers(server, tiny_dataset, api):
    judge = LLMJudge("overlap", base_url=server, params={"api": api, "concurrency": 3})
    pairs = pairs_of(tiny_dataset)
    seen = []
    run = judge.label(pairs, tiny_dataset.queries.text_of, tiny_dataset.corpus.text_of,
                      progress=lambda done, total: seen.append((done, total)))
    assert [(lb.query_id, lb.doc_id) for lb in run.labels] == pairs   # in the order asked
    for lb in run.labels:
        q, d = tiny_dataset.queries.text_of(lb.query_id), tiny_dataset.corpus.text_of(lb.doc_id)
        assert lb.answer == str(expected_grade(q, d))   # the raw answer, as the server sent it
        assert lb.grade == int(lb.answer)
    assert run.unparseable == 0 and run.source == f"llm:overlap@{server}"
    assert sorted(seen)[-1] == (len(pairs), len(pairs))
    assert run.table()["source"].unique().tolist() == [run.source]
    assert sum(len(v) for v in run.qrels().values()) == len(pairs)
    # agreement against the sample's own qrels (unjudged documents there: judged non-relevant here)
    human = {q: {d: tiny_dataset.qrels.grade(q, d) for _, d in [p for p in pairs if p[0] == q]} for q, _ in pairs}
    ag = agreement(human, run.qrels(), names=("qrels", "llm"))
    assert ag.n == len(pairs) and -1 <= ag.kappa <= 1


def test_an_edited_prompt_is_used_and_unparseable_answers_are_counted(server, tiny_dataset):
    # without the "Grade (0, 1 or 2):" line the server answers "Yes": no grade in it
    prompt = "Is this text about the search?\nSearch: {query}\nText: {document}\nAnswer:"
    judge = LLMJudge("overlap", base_url=server, prompt=prompt)
    before = stats(server)["other"]
    run = judge.label(pairs_of(tiny_dataset, 1, 2), tiny_dataset.queries.text_of, tiny_dataset.corpus.text_of)
    assert stats(server)["other"] - before == 2
    assert run.unparseable == 2 and all(lb.answer == "Yes" and lb.grade is None for lb in run.labels)
    assert run.qrels() == {} and run.prompt == prompt


def test_estimate_before_a_run_then_measured(server, tiny_dataset):
    judge = LLMJudge("overlap", base_url=server, params={"concurrency": 2})
    pairs = pairs_of(tiny_dataset)
    queries = [tiny_dataset.queries.text_of(q) for q, _ in pairs]
    docs = [tiny_dataset.corpus.text_of(d) for _, d in pairs]
    assumed = judge.estimate(queries, docs)
    assert assumed.source == "assumed" and assumed.pairs == len(pairs)
    assert assumed.seconds == pytest.approx(len(pairs) * 0.5 / 2)
    prompt_chars = sum(len(render_prompt(DEFAULT_PROMPT, q, clipped(d, 800)[0])) + len(judge.system)
                       for q, d in zip(queries, docs))
    assert assumed.prompt_tokens == round(prompt_chars / 4)
    per_pair = judge.measure(pairs, tiny_dataset.queries.text_of, tiny_dataset.corpus.text_of, n=3)
    measured = judge.estimate(queries, docs, seconds_per_pair=per_pair, usd_per_1k_tokens=0.01)
    assert measured.source == "measured" and 0 < measured.seconds < 30
    assert measured.usd == pytest.approx((measured.prompt_tokens + measured.answer_tokens) / 1000 * 0.01)
    assert "measured" in measured.describe()


def test_bad_prompt_and_unreachable_server_fail_with_one_line():
    with pytest.raises(SpecError, match=r"\{document\}"):
        LLMJudge("m", base_url="http://127.0.0.1:9/v1", prompt="Query: {query}")
    with pytest.raises(SpecError, match="model name"):
        LLMJudge(None, base_url="http://127.0.0.1:9/v1")
    judge = LLMJudge("m", base_url="http://127.0.0.1:9/v1", params={"retries": 0, "timeout_s": 2})
    with pytest.raises(ServiceError, match="is the server running"):
        judge.label([("q", "d")], {"q": "a query"}, {"d": "a document"})


def test_parse_grade():
    assert [parse_grade(a) for a in ["2", " 1\n", "Grade: 0.", "(2)", "3", "1.5", "relevant", "not relevant",
                                     "Partly", "", "yes"]] == [2, 1, 0, 2, None, None, 2, 0, 1, None, None]
