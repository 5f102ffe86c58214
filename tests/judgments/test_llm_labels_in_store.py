"""LLM labels in the judgment log: saved one by one with their source, raw answer and prompt, kept
apart from human ones, and chosen for the metrics by the log's ``use`` setting."""

import json

import pytest

from cascade_core.data import Qrels
from cascade_core.judgments import LLM, JudgmentStore, LLMJudge, judged_qrels
from cascade_core.judgments.agreement import agreement, human_vs_llm
from cascade_core.judgments.llm_judge import label_into_store
from tests.llm_server import serve


def test_old_logs_read_and_llm_fields_kept(tmp_path):
    path = tmp_path / "j.jsonl"
    # a line written before LLM labels existed: no source, answer or prompt
    path.write_text(json.dumps({"op": "judge", "id": "a1", "query": "q1", "doc": "d1", "grade": 2, "who": "ana",
                                "at": "2026-01-01T00:00:00+00:00"}) + "\n")
    store = JudgmentStore(path)
    _ = store.judge("q1", "d2", 1, who="m", source="llm:m", answer=" 1.", prompt="P {query} {document}")
    _ = store.judge("q1", "d3", 0, who="m", source="llm:m", answer="0", prompt="P {query} {document}")
    store.unparsed_answer("q1", "d4", "maybe", "llm:m", prompt="P {query} {document}")
    again = JudgmentStore(path)   # replayed from the file
    assert again.qrels().judgments == {"q1": {"d1": 2}}            # human only, by default
    assert again.qrels(LLM).judgments == {"q1": {"d2": 1, "d3": 0}}
    llm = again.latest(LLM)[("q1", "d2")]
    assert llm.answer == " 1." and again.prompt_text(llm.prompt) == "P {query} {document}"
    assert [u.answer for u in again.unparsed()] == ["maybe"] and again.sources() == ["human", "llm:m"]
    assert sum('"op": "prompt"' in line for line in path.read_text().splitlines()) == 1   # stored once
    assert again.bad_lines == 0
    assert again.undo(who="m") is None            # an undo takes back human judgments only


def test_the_use_setting_chooses_the_judgments(tmp_path):
    store = JudgmentStore(tmp_path / "j.jsonl")
    store.judge("q1", "d1", 0, who="ana")
    store.judge("q1", "d1", 2, who="m", source="llm:m")
    store.judge("q1", "d2", 1, who="m", source="llm:m")
    dataset = Qrels({"q2": {"d9": 2}})   # graded: the grades made here keep their scale
    assert judged_qrels(dataset, store).qrels.judgments == {"q2": {"d9": 2}, "q1": {"d1": 0}}
    store.set_use("llm", who="ana")
    assert JudgmentStore(store.path).use == "llm"
    assert judged_qrels(dataset, store).qrels.judgments == {"q1": {"d1": 2, "d2": 1}}
    assert judged_qrels(Qrels({"q2": {"d9": 1}}), store).qrels.judgments == {"q1": {"d1": 1, "d2": 1}}   # 0/1 qrels
    store.set_use("both", who="ana")
    both = judged_qrels(dataset, store)
    assert both.qrels.judgments == {"q2": {"d9": 2}, "q1": {"d1": 0, "d2": 1}}
    assert (both.llm_pairs, both.llm_overruled) == (1, 1)


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


def test_label_into_store_saves_each_label_as_it_comes(server, tiny_dataset, tmp_path):
    store = JudgmentStore(tmp_path / "j.jsonl")
    judge = LLMJudge("overlap", base_url=server, params={"concurrency": 3})
    qid = tiny_dataset.judged_queries.ids[0]
    pairs = list(dict.fromkeys([(qid, d) for d in tiny_dataset.corpus.ids[:6]]
                               + [(qid, d) for d in tiny_dataset.qrels.relevant(qid)]))
    seen = []
    run = label_into_store(judge, store, pairs, tiny_dataset.queries.text_of, tiny_dataset.corpus.text_of,
                           who="tester", progress=lambda done, total, label: seen.append((done, store.qrels(LLM).n_pairs)))
    assert [done for done, _ in seen] == list(range(1, len(pairs) + 1))
    assert all(n == done for done, n in seen)     # in the store before the next one is drawn
    assert store.qrels(LLM).judgments == {qid: {lb.doc_id: lb.grade for lb in run.labels}}
    assert {j.source for j in store.history(LLM)} == {f"llm:overlap@{server}"} and not store.history()
    assert all(j.answer == str(j.grade) and store.prompt_text(j.prompt) == judge.prompt for j in store.history(LLM))
    ag = human_vs_llm(tiny_dataset.qrels, store)   # binary, positive-only qrels: chosen for them
    assert list(ag.confusion.index) == [0, 1] and ag.n == len(pairs)
    human = {qid: {d: int(d in tiny_dataset.qrels.relevant(qid)) for _, d in pairs}}
    assert ag.kappa == agreement(human, run.qrels(), names=("human", "llm"), binary=True).kappa


def test_cascade_eval_says_when_llm_labels_count(tiny_beir, tiny_dataset, tmp_path, capsys):
    from cascade_cli import main

    home = tmp_path / "home"
    config = tmp_path / "c.yaml"
    config.write_text("first_pass: {kind: bm25}\npool_size: 20\nstages: []\nfinal_k: 10\n")
    args = ["eval", "--dataset", str(tiny_beir), "--config", str(config), "--home", str(home)]
    assert main(args) == 0
    assert "Judgments:" not in capsys.readouterr().out      # people's, as always: nothing to say
    store = JudgmentStore.for_corpus(home, tiny_dataset.corpus.fingerprint)
    qid = tiny_dataset.judged_queries.ids[0]
    store.judge(qid, tiny_dataset.corpus.ids[0], 2, who="m", source="llm:m", answer="2")
    store.set_use("both", who="ana")
    assert main(args) == 0
    assert "Judgments: both (LLM labels count: 1 pair(s)" in capsys.readouterr().out
