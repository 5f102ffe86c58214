"""Judge page, LLM judge: pairs labelled by a real OpenAI-compatible server process (tests/llm_server.py:
its "model" grades by word overlap) are saved one by one with source llm:..., the switch changes
Evaluate's numbers to the library's on the chosen judgments, and the agreement shown is the library's.
Live: the judge buttons beside a result save a judgment."""

import pytest

from cascade_core.cascade import CascadeSpec
from cascade_core.judgments import LLM
from cascade_core.judgments.agreement import human_vs_llm
from cascade_ui import session as ui_session
from cascade_ui import state as ui_state
from tests.app.conftest import page
from tests.app.rendered import shown
from tests.llm_server import serve

SPEC = {"name": "bm25 only", "first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [], "final_k": 10}


@pytest.fixture(scope="module")
def session(tiny_beir, tmp_path_factory):
    """The tiny sample with its qrels, less its last three documents: a corpus (and judgment log) of its own
    (the Judge page's tests drop the last one, the first two, and the first unjudged one)."""
    import shutil

    folder = tmp_path_factory.mktemp("llm-judge")
    lines = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "corpus.jsonl").write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    shutil.copy(tiny_beir / "queries.jsonl", folder / "queries.jsonl")
    shutil.copytree(tiny_beir / "qrels", folder / "qrels")
    return {"dataset_source": {"path": str(folder), "split": "test", "fmt": "auto", "label": "llm judge",
                               "stamp": ""},
            "spec": SPEC, "spec_version": 1}


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


def experiment(session):
    src = session["dataset_source"]
    return ui_session._experiment(src["path"], src["split"], src["fmt"],
                                ui_state.experiment_key(CascadeSpec.from_dict(SPEC)), src.get("stamp", ""))


def ndcg_card(session) -> str:
    ev = page("evaluate", session)
    ev.run()
    assert not ev.exception and not ev.error, [e.value for e in ev.error]
    return next(m for m in ev.metric if m.label.startswith("nDCG@10")).value


def ok(at):
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.slow
def test_llm_labels_the_switch_and_agreement(session, server):
    human_ndcg = ndcg_card(session)          # scores every evaluated query (their pools are then stored)
    exp = experiment(session)
    store = exp.judgments
    at = page("judge", session)
    at.run()
    ok(at)
    at.text_input(key="llm-url").input(server)
    at.text_input(key="llm-model").input("overlap").run()
    ok(at)
    at.radio(key="llm-pairs").set_value("queries").run()
    at.number_input(key="llm-n").set_value(3)
    at.run()
    ok(at)
    estimate = next(shown(i.value) for i in at.info if "Before the run" in i.value)
    assert "s a pair, assumed" in estimate and "prompt tokens" in estimate
    n_pairs = int(estimate.split("Before the run: ")[1].split(" pairs")[0])
    assert n_pairs > 10
    assert not store.history(LLM)
    at.button(key="llm-run").click().run()
    ok(at)

    # Every pair is saved, marked llm:overlap@<server>, with the raw answer and the prompt.
    labels = store.history(LLM)
    assert len(store.latest(LLM)) == n_pairs and not store.history()    # no human judgment made
    assert {j.source for j in labels} == {f"llm:overlap@{server}"}
    assert all(j.answer == str(j.grade) and store.prompt_text(j.prompt) for j in labels)
    assert any(f"{n_pairs} pairs labelled by `llm:overlap@{server}`" in s.value for s in at.success)
    assert "Leave out" in at.checkbox(key="llm-skip").label
    assert any("No pair to label" in i.value for i in at.info)          # all done: nothing left to ask

    # Agreement: the library's kappa on the same sets (binary, unjudged = 0: chosen for SciFact's qrels).
    ag = human_vs_llm(exp.dataset.qrels, store)
    assert ag.n > 0 and at.checkbox(key="agree-binary").value and at.checkbox(key="agree-zero").value
    kappa = next(m for m in at.metric if m.label == "Cohen's kappa")
    assert kappa.value == f"{ag.kappa:.3f}"
    assert next(m for m in at.metric if m.label.startswith("kappa, linear")).value == f"{ag.kappa_linear:.3f}"
    if not ag.disagreements.empty:   # listed with the query's text, and one opens in the judging card
        pick = at.selectbox(key="agree-pick").value
        at.button(key="agree-open").click().run()
        ok(at)
        assert at.selectbox(key="judge-query").value == pick.split("\t")[0]

    # The switch: Evaluate follows it, with the library's numbers on each set.
    spec = CascadeSpec.from_dict(SPEC)
    assert human_ndcg == f"{exp.run(spec).evaluation.final.means['ndcg@10']:.3f}"
    at.radio(key="judge-use-human").set_value("llm").run()
    ok(at)
    assert store.use == "llm" and exp.merged_qrels.llm_pairs == n_pairs
    llm_ndcg = ndcg_card(session)
    result = exp.run(spec).evaluation
    assert llm_ndcg == f"{result.final.means['ndcg@10']:.3f}" and llm_ndcg != human_ndcg
    assert set(result.query_ids) <= set(store.qrels(LLM).query_ids)
    at.radio(key="judge-use-llm").set_value("both").run()
    ok(at)
    both_ndcg = ndcg_card(session)
    assert both_ndcg == f"{exp.run(spec).evaluation.final.means['ndcg@10']:.3f}"
    at.radio(key="judge-use-both").set_value("human").run()
    assert ndcg_card(session) == human_ndcg


def test_live_judge_buttons_save_a_judgment(session, monkeypatch):
    exp = experiment(session)
    store = exp.judgments
    at = page("live", session)
    at.run()
    at.text_input(key="live-query").input("stem cells that become neurons").run()
    at.button(key="live-run").click().run()
    ok(at)
    first = at.dataframe[0].value["doc"].tolist()[0]
    at.button(key=f"live-judge-2-{first}").click().run()
    ok(at)
    added = store.added_queries()
    qid = next(q for q, t in added.items() if t == "stem cells that become neurons")
    assert store.qrels().judgments[qid] == {first: 2}
    assert store.latest()[(qid, first)].source == "human"
    assert any("Saved" in s.value for s in at.success)
    # The same query again: the same id, a changed grade.
    at.button(key=f"live-judge-0-{first}").click().run()
    assert store.qrels().judgments[qid] == {first: 0} and list(store.added_queries()) == list(added)
    # A read-only dashboard shows the grades and saves nothing.
    monkeypatch.setenv("CASCADE_READ_ONLY", "1")
    at.run()
    ok(at)
    assert at.button(key=f"live-judge-2-{first}").disabled
    assert any("read-only" in m.value for m in at.markdown if "Judge these results" in m.value)


def test_local_model_estimate_shared_servers_and_read_only(session, server, monkeypatch):
    # The packaged local model: its estimate (assumed 5 s a pair) before anything runs; nothing is loaded.
    at = page("judge", session)
    at.run()
    at.radio(key="llm-backend").set_value("local").run()
    ok(at)
    estimate = next(shown(i.value) for i in at.info if "Before the run" in i.value)
    assert "5.00 s a pair, assumed" in estimate
    assert shown(at.button(key="llm-run").label).endswith("llm:gemma-3-270m")

    # Shared: only the servers the operator listed, and only the default API-key variable.
    monkeypatch.setenv("CASCADE_SHARE", "1")
    monkeypatch.setenv("CASCADE_LLM_URLS", server)
    at = page("judge", session)
    at.run()
    ok(at)
    assert at.selectbox(key="llm-url-listed").options == [server]
    assert at.text_input(key="llm-key-env").disabled
    at.text_input(key="llm-model").input("overlap").run()
    ok(at)
    at.checkbox(key="llm-skip").uncheck().run()      # labelled above already: ask again
    assert any("Before the run" in i.value for i in at.info)
    # An edited prompt is the one used and kept with the labels it made.
    edited = "Judge this search result.\nQuery: {query}\nDocument: {document}\nGrade (0, 1 or 2):"
    at.text_area(key="llm-prompt").input(edited).run()
    at.button(key="llm-run").click().run()
    ok(at)
    store = experiment(session).judgments
    pool = [d for d in store.latest(LLM).values() if store.prompt_text(d.prompt) == edited]
    assert pool and all(j.answer == str(j.grade) for j in pool)

    # Read-only: no LLM run, no switch, no Live judgment.
    monkeypatch.setenv("CASCADE_READ_ONLY", "1")
    at = page("judge", session)
    at.run()
    ok(at)
    assert any("the LLM labels already made are shown" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "llm-run"]
    assert at.radio(key=f"judge-use-{experiment(session).judgments.use}").disabled
