"""Judge page: a corpus with a plain list of queries and no qrels is judged with the page's buttons
(the keyboard shortcuts' buttons), and Evaluate's numbers follow each judgment at once."""

import json
import shutil

import pytest

from cascade_ui import session as ui_session
from cascade_ui import state as ui_state
from tests.app.conftest import page

SPEC = {"name": "bm25 only", "first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [], "final_k": 10}


@pytest.fixture(scope="module")
def unjudged(tiny_beir, tmp_path_factory):
    """Session state on the tiny sample's corpus (less one document: its own fingerprint, so these
    judgments never reach another test's numbers) and its queries, without qrels."""
    folder = tmp_path_factory.mktemp("judge-no-qrels")
    lines = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "corpus.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    shutil.copy(tiny_beir / "queries.jsonl", folder / "queries.jsonl")
    return {"dataset_source": {"path": str(folder), "split": None, "fmt": "auto", "label": "no qrels", "stamp": ""},
            "spec": SPEC, "spec_version": 1}


def experiment(session):
    src = session["dataset_source"]
    from cascade_core.cascade import CascadeSpec

    return ui_session._experiment(src["path"], src["split"], src["fmt"],
                                ui_state.experiment_key(CascadeSpec.from_dict(SPEC)), src.get("stamp", ""))


def progress_text(at) -> str:
    return at.get("progress")[0].proto.text


def test_judge_a_few_documents_and_evaluate_follows(unjudged):
    ev = page("evaluate", unjudged)
    ev.run()
    assert not ev.exception and not ev.error, [e.value for e in ev.error]
    assert any("no relevance judgments" in i.value for i in ev.info)

    at = page("judge", unjudged)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    first = at.selectbox(key="judge-query").value
    assert progress_text(at) == "0 of 10 judged for this query; 0 queries judged"
    for key in ("judge-2", "judge-0", "judge-1"):     # relevant, not relevant, partly relevant
        at.button(key=key).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    assert progress_text(at) == "3 of 10 judged for this query; 1 query judged"
    exp = experiment(unjudged)
    grades = exp.judgments.qrels().judgments[first]
    assert sorted(grades.values()) == [0, 1, 2] and exp.judgments.history()[0].who
    # Undo takes back the last one (the "partly relevant").
    at.button(key="judge-undo").click().run()
    assert progress_text(at) == "2 of 10 judged for this query; 1 query judged"
    assert sorted(exp.judgments.qrels().judgments[first].values()) == [0, 2]
    # Skip moves on without judging.
    shown = [m.value for m in at.caption if m.value.startswith("Document `")]
    at.button(key="judge-skip").click().run()
    assert [m.value for m in at.caption if m.value.startswith("Document `")] != shown
    assert progress_text(at) == "2 of 10 judged for this query; 1 query judged"

    # Evaluate now has one labeled query, and its numbers are the library's on the merged qrels.
    ev = page("evaluate", unjudged)
    ev.run()
    assert not ev.exception and not ev.error, [e.value for e in ev.error]
    assert any("1 labeled queries" in c.value for c in ev.caption)
    result = exp.run(exp.spec.from_dict(SPEC))
    card = next(m for m in ev.metric if m.label.startswith("nDCG@10"))
    assert card.value == f"{result.evaluation.final.means['ndcg@10']:.3f}"

    # A typed query: added, scored when its pool is drawn, judged; Evaluate now counts two.
    at.text_area(key="judge-typed").input("stem cells and neurons").run()
    at.button(key="judge-add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="judge-query").value == "judge-1"
    at.button(key="judge-1").click().run()
    assert progress_text(at).endswith("; 2 queries judged")
    ev = page("evaluate", unjudged)
    ev.run()
    assert any("2 labeled queries" in c.value for c in ev.caption)
    result = exp.run(exp.spec.from_dict(SPEC))
    assert result.evaluation.query_ids == [first, "judge-1"]
    card = next(m for m in ev.metric if m.label.startswith("nDCG@10"))
    assert card.value == f"{result.evaluation.final.means['ndcg@10']:.3f}"

    # Export: the TREC text of the merged qrels, as the loader reads it.
    lines = to_lines(exp)
    assert len(lines) == 3 and all(len(line.split()) == 4 for line in lines)


def to_lines(exp):
    from cascade_core.judgments import to_trec

    return to_trec(exp.qrels).splitlines()


def test_a_read_only_dashboard_shows_judgments_but_makes_none(unjudged, monkeypatch):
    # The first query scored first (a read-only dashboard shows what is stored, and scores nothing):
    # so the test stands alone, whichever worker runs it and whatever ran before.
    page("judge", unjudged).run()
    monkeypatch.setenv("CASCADE_READ_ONLY", "1")
    at = page("judge", unjudged)
    at.run()
    assert not at.exception, at.exception
    assert any("Read-only" in i.value for i in at.info)
    assert at.button(key="judge-2").disabled and at.button(key="judge-undo").disabled
    assert at.text_area(key="judge-typed").disabled


def test_a_conflict_is_listed_and_the_switch_decides_who_wins(tiny_beir, tmp_path_factory):
    # The judged sample less one unjudged document: its own corpus, so its own judgment log.
    folder = tmp_path_factory.mktemp("judge-conflict")
    shutil.copytree(tiny_beir / "qrels", folder / "qrels")
    shutil.copy(tiny_beir / "queries.jsonl", folder / "queries.jsonl")
    judged = {line.split("\t")[1] for line in (tiny_beir / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    docs = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    drop = next(i for i, d in enumerate(docs) if json.loads(d)["_id"] not in judged)
    (folder / "corpus.jsonl").write_text("\n".join(docs[:drop] + docs[drop + 1:]) + "\n", encoding="utf-8")
    session = {"dataset_source": {"path": str(folder), "split": "test", "fmt": "auto", "label": "judged",
                                  "stamp": ""}, "spec": SPEC, "spec_version": 1}
    exp = experiment(session)
    qid = exp.queries.ids[0]
    doc, grade = next(iter(exp.dataset.qrels.relevant(qid).items()))
    exp.judgments.judge(qid, doc, 0, who="bo")

    at = page("judge", session)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("**1 conflict(s)**: the dataset's qrels win") for m in at.markdown)
    table = at.dataframe[-1].value
    assert table[["query", "document", "dataset's grade", "judged here", "by"]].values.tolist() == [
        [qid, doc, grade, 0, "bo"]]
    assert exp.qrels.grade(qid, doc) == grade
    at.radio(key="judge-prefer-dataset").set_value("judgments").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert exp.qrels.grade(qid, doc) == 0 and exp.judgments.prefer == "judgments"
    assert any(m.value.startswith("**1 conflict(s)**: the judgment made here wins") for m in at.markdown)


def test_a_pool_done_offers_the_next_query(unjudged):
    at = page("judge", unjudged)
    at.run()
    at.number_input(key="judge-depth").set_value(1).run()     # each step's top 1: one document
    first = at.selectbox(key="judge-query").value
    assert progress_text(at).startswith("0 of 1 judged for this query")
    at.button(key="judge-0").click().run()
    assert any("Every document of this pool is judged" in s.value for s in at.success)
    at.button(key="judge-next").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="judge-query").value != first


@pytest.mark.slow
def test_a_corpus_alone_and_a_plain_list_of_queries_then_every_analysis_page(tiny_beir, tmp_path_factory):
    # A corpus file and nothing else (less its first two documents: a corpus of its own); the queries
    # come as a plain list, one a line, typed into the page.
    folder = tmp_path_factory.mktemp("judge-corpus-alone")
    lines = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "corpus.jsonl").write_text("\n".join(lines[2:]) + "\n", encoding="utf-8")
    session = {"dataset_source": {"path": str(folder / "corpus.jsonl"), "split": None, "fmt": "auto",
                                  "label": "corpus alone", "stamp": ""}, "spec": SPEC, "spec_version": 1}
    at = page("judge", session)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("has no queries" in i.value for i in at.info)
    plain = [json.loads(line)["text"] for line in (tiny_beir / "queries.jsonl").read_text().splitlines()[:3]]
    at.text_area(key="judge-typed").input("\n".join(plain)).run()
    at.button(key="judge-add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="judge-query").value == "judge-1"
    at.number_input(key="judge-depth").set_value(2).run()
    for qid in ("judge-1", "judge-2"):   # two queries, a relevant and a not relevant document each
        at.selectbox(key="judge-query").set_value(qid).run()
        at.button(key="judge-2").click().run()
        at.button(key="judge-0").click().run()
    assert progress_text(at).endswith("; 2 queries judged")
    for name in ("evaluate", "flow", "inspect", "tune"):
        other = page(name, session)
        other.run()
        assert not other.exception and not other.error, (name, [e.value for e in other.error])
        assert not any("no relevance judgments" in i.value or "has none" in i.value for i in other.info), name
        shown = [m.value for m in other.caption] + [h.value for h in other.subheader]
        expected = {"evaluate": "2 labeled queries", "flow": None, "inspect": "Relevant documents lost, by stage",
                    "tune": "Where recall stops rising"}[name]
        assert expected is None or any(expected in v for v in shown), (name, shown)
    assert len(page("flow", session).run().get("plotly_chart")) >= 2   # the candidates and the relevant ones


def test_ids_with_a_space_judge_normally_and_only_the_trec_download_is_refused(tmp_path):
    """A space in an id is a load-time warning (TREC files split on spaces); the Judge page judges,
    and says in one caption why there is no TREC download, instead of an error on every rerun."""
    folder = tmp_path / "spaced"
    (folder / "qrels").mkdir(parents=True)
    docs = [("doc one", "stem cells become neurons"), ("doc two", "vitamin d and bones"),
            ("doc three", "neurons grow from stem cells in culture"), ("d4", "unrelated text about rivers")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q 1", "text": "stem cells neurons"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq 1\tdoc one\t1\n")
    state = {"dataset_source": {"path": str(folder), "split": None, "fmt": "auto", "label": "spaced", "stamp": ""},
             "spec": {**SPEC, "pool_size": 4, "final_k": 4}, "spec_version": 1}
    at = page("judge", state)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="judge-2").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(c.value.startswith("No TREC download") and "space" in c.value for c in at.caption)
    assert not at.get("download_button")
