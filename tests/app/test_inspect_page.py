"""Inspect page: what it shows equals what cascade_core.analysis.explain computes for the same experiment."""

from cascade_core.analysis.explain import keep_needed, lost_by_stage, paths_summary, relevant_paths
from cascade_core.cascade import CascadeSpec
from cascade_ui import session as ui_session
from cascade_ui import state as ui_state
from tests.app.conftest import page
from tests.app.rendered import rendered


def library_run(demo_state, spec_dict):
    """The app's own experiment for this session state (shared through the cache), simulated."""
    spec = CascadeSpec.from_dict(spec_dict)
    src = demo_state["dataset_source"]
    exp = ui_session._experiment(src["path"], src["split"], src["fmt"], ui_state.experiment_key(spec), src.get("stamp", ""))
    return exp, exp.run(spec).run


def test_inspect_page_shows_the_library_losses_and_a_dropped_documents_path(demo_state):
    at = page("inspect", demo_state)
    # Tight cut-offs, so that the small sample surely loses relevant documents at the stage.
    tight = dict(demo_state["spec"].to_dict(), final_k=1)
    tight["stages"] = [dict(tight["stages"][0], keep=1)]
    at.session_state["spec"] = tight
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    exp, run = library_run(demo_state, at.session_state["spec"].to_dict())
    lost = lost_by_stage(run, exp.relevance, exp.dataset.qrels)

    shown = at.dataframe[0].value
    assert list(shown.index) == ["first pass", "bi-encoder", "final"]
    assert shown["lost"].tolist() == lost.by_stage["lost"].tolist()
    assert shown["queries"].tolist() == lost.by_stage["queries"].tolist()
    assert lost.by_stage.loc["bi-encoder", "lost"] > 0
    assert len(at.dataframe[1].value) == len(lost.documents)
    assert len(at.get("plotly_chart")) == 1

    # The first query that loses a relevant document is chosen; its paths are the library's.
    qid = at.selectbox(key="inspect-query").value
    assert qid == lost.first_query and qid in lost.queries
    qi = run.matrix.query_ids.index(qid)
    summary = at.dataframe[2].value
    expected = paths_summary(relevant_paths(run, exp.dataset.qrels, qi))
    assert summary.index.tolist() == expected.index.tolist()
    assert summary["dropped at"].tolist() == expected["dropped at"].tolist()

    # One dropped document: who beat it, what would keep it, both texts with query terms marked.
    doc = at.selectbox(key=f"inspect-doc-{qid}").value
    path = next(p for p in relevant_paths(run, exp.dataset.qrels, qi) if p.doc_id == doc)
    assert path.dropped_at is not None
    beaten = at.dataframe[4].value
    step = path.at(path.dropped_at)
    if step.rank is not None:
        assert beaten["rank"].max() < step.rank and beaten["kept"].iloc[0]
    keep = next(rendered(m.value).text for m in at.markdown if m.value.startswith("**To keep it past "))
    assert keep == f"To keep it past {path.dropped_at}: " + keep_needed(run, path, costs=exp).describe()
    assert f" >= {step.rank} (now {step.keep})" in keep and "ms per query" in keep
    assert any(":orange-background[" in m.value for m in at.markdown)
    # Beside it by default: the last candidate the step kept, the one it had to beat.
    other = at.selectbox(key=f"inspect-other-{qid}-{doc}")
    last_kept = beaten[beaten["kept"].astype(bool)]["doc_id"].iloc[-1]
    assert other.value == last_kept and len(other.options) == len(beaten)

    # A slider move: the numbers follow, still the library's.
    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(5).run()
    exp, run = library_run(demo_state, at.session_state["spec"].to_dict())
    assert run.spec.stages[0].keep == 5
    assert at.dataframe[0].value["lost"].tolist() == lost_by_stage(run, exp.relevance).by_stage["lost"].tolist()


def test_inspect_page_follows_another_query(demo_state):
    at = page("inspect", demo_state)
    at.run()
    exp, run = library_run(demo_state, at.session_state["spec"].to_dict())
    last = run.matrix.query_ids[-1]
    at.selectbox(key="inspect-query").set_value(last).run()
    assert not at.error and not at.exception
    assert at.selectbox(key="inspect-query").value == last
    paths = relevant_paths(run, exp.dataset.qrels, len(run.matrix.query_ids) - 1)
    assert at.dataframe[2].value.index.tolist() == [p.doc_id for p in paths]


def test_inspect_page_without_a_dataset_says_what_to_do():
    at = page("inspect")
    at.run()
    assert not at.exception
    assert "Data & index" in at.info[0].value
