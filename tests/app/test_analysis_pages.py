"""Flow, Evaluate and Live pages: what they show equals what the library computes."""

import pytest

from cascade_core.analysis.flow import flow_table
from cascade_core.analysis.lift import points
from cascade_core.tuning import cutoffs_and_plateaus, recall_curves
from cascade_ui import session as ui_session
from cascade_ui import state as ui_state
from cascade_ui.widgets import KEPT
from tests.app.conftest import page
from tests.app.rendered import shown


def experiment_for(demo_state, spec_dict):
    """The experiment the app itself uses for this session state (shared through the cache)."""
    from cascade_core.cascade import CascadeSpec

    spec = CascadeSpec.from_dict(spec_dict)
    src = demo_state["dataset_source"]
    return ui_session._experiment(src["path"], src["split"], src["fmt"], ui_state.experiment_key(spec), src.get("stamp", "")), spec


@pytest.mark.slow
def test_flow_page_shows_library_numbers_and_follows_a_slider(demo_state):
    at = page("flow", demo_state)
    at.run()
    assert not at.error and not at.exception
    assert len(at.get("plotly_chart")) == 3
    table = at.dataframe[0].value
    # the final cut (top 10 of the bi-encoder's 20) is a step of its own: relevant documents the
    # bi-encoder kept can still miss the final list
    assert list(table.index) == ["first pass", "bi-encoder", "final"]
    assert table.loc["bi-encoder", "kept"] == pytest.approx(20) and table.loc["final", "kept"] == pytest.approx(10)
    assert table.loc["final", "relevant_in"] == table.loc["bi-encoder", "relevant_kept"]
    assert table.loc["final", "predicted ms/query"] == 0

    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(7).run()
    table = at.dataframe[0].value
    assert table.loc["bi-encoder", "kept"] == pytest.approx(7)
    # The sidebar's cascade line follows the slider in the same run, not one run late.
    assert any("-> 7 -> final" in shown(c.value) for c in at.sidebar.caption)
    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    expected = flow_table(exp.run(spec).run, exp.relevance, corpus_size=len(exp.dataset.corpus), final=True)
    assert table["relevant_kept"].tolist() == expected["relevant_kept"].tolist()
    assert list(table.index) == ["first pass", "bi-encoder"]   # final k follows the keep down to 7: no cut left


@pytest.mark.slow
def test_flow_page_for_one_query(demo_state, tiny_dataset):
    at = page("flow", demo_state)
    at.run()
    qid = at.selectbox(key="flow-query").options[1]
    at.selectbox(key="flow-query").set_value(qid).run()
    table = at.dataframe[0].value
    assert table.loc["first pass", "kept"] == min(100, len(tiny_dataset.corpus))
    assert table.loc["first pass", "candidates_in"] == len(tiny_dataset.corpus)
    assert table["relevant_in"].iloc[0] >= 1
    # the headline is this query's own change; the whole set's is a caption under it
    exp, spec = experiment_for(demo_state, demo_state["spec"].to_dict())
    ev = exp.run(spec).evaluation
    qid = at.selectbox(key="flow-query").value   # the option shown is "id: text"; the value is the id
    qi = exp.matrix.query_ids.index(qid)
    before, after = ev.first_pass_alone.per_query["ndcg@10"][qi], ev.final.per_query["ndcg@10"][qi]
    box = (at.success or at.warning)[0]
    assert shown(box.value).startswith(f"Query {qid}: final list against the first pass alone: nDCG@10 "
                                       f"{before:.3f} -> {after:.3f}")
    assert any("(all queries)" in shown(c.value) for c in at.caption)


@pytest.mark.slow
def test_evaluate_page_metrics_equal_the_library(demo_state):
    at = page("evaluate", demo_state)
    at.run()
    assert not at.error and not at.exception
    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    result = exp.run(spec)
    means = result.evaluation.final.means
    first = result.evaluation.steps[0].means
    cards = {m.label: m for m in at.metric}
    assert cards["nDCG@10"].value == f"{means['ndcg@10']:.3f}"
    assert cards["MRR@10"].value == f"{means['mrr@10']:.3f}"
    # each headline card says its change against the first pass alone, in points
    for label, metric in (("nDCG@10", "ndcg@10"), ("MRR@10", "mrr@10"), ("Recall@10", "recall@10")):
        assert cards[label].delta == f"{100 * (means[metric] - first[metric]):+.1f} points vs first pass"
    # "Against the first pass" is collapsed (the cascade is better) and its tables are made only
    # once it is opened.
    assert not any("cascade" in d.value.columns for d in at.dataframe)
    at.session_state["evaluate-against"] = True
    at.run()
    tables = [d.value for d in at.dataframe]
    lift = next(t for t in tables if "first pass" in t.columns and "cascade" in t.columns)
    assert lift.loc["nDCG@10", "first pass"] == pytest.approx(first["ndcg@10"])
    assert lift.loc["nDCG@10", "cascade"] == pytest.approx(means["ndcg@10"])
    table = next(t for t in tables if "candidates in" in t.columns)
    assert table["candidates in"].iloc[0] == len(exp.dataset.corpus)     # the same number Flow shows
    assert table["recall"].is_monotonic_decreasing or table["recall"].iloc[:-1].is_monotonic_decreasing
    # The per-query table: the first rows of its order (the queries the cascade hurt most), then
    # every query when asked, in the same order.
    change = points(result.evaluation.per_query("final")["ndcg@10"], result.evaluation.first_pass_alone.per_query["ndcg@10"])
    first = tables[-1]
    assert len(first) == 10 and len(exp.queries) > 10
    assert list(first["change (points)"]) == pytest.approx(sorted(change)[:10], abs=1e-9)
    assert any(f"The first 10 of {len(exp.queries)} labeled queries" in c.value for c in at.caption)
    at.toggle(key="pq-every").set_value(True).run()
    every = at.dataframe[-1].value
    assert len(every) == len(exp.queries) and list(every.index[:10]) == list(first.index)
    assert any(f"All {len(exp.queries)} labeled queries" in c.value for c in at.caption)

    # The recall@k curves leave the cut-offs out (a step's own cut-off does not move its curve, so
    # the figure stays the same and the browser does not draw it again); the caption says them.
    def curves_figure():
        return next(c.proto.spec for c in at.get("plotly_chart") if "Recall@k of each step" in c.proto.spec)

    def said(run):
        table = cutoffs_and_plateaus(run, exp.relevance, *recall_curves(run, exp.relevance))
        return "; ".join(f"{name} keeps {int(keep)}: recall {at:.3f}"   # "keeps 20", never "keeps 20.0"
                         for name, keep, at in zip(table.index, table["current cut-off"], table["recall at it"]))

    before = curves_figure()
    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(spec.stages[0].keep - 3).run()
    assert curves_figure() == before
    moved = exp.run(experiment_for(demo_state, at.session_state["spec"].to_dict())[1]).run
    sentence = next(c.value for c in at.caption if "At the cut-offs in use" in c.value)
    for part in said(moved).split("; "):
        assert part in shown(sentence)

    at.slider(key=f"cut-v{v}-pool").set_value(30).run()
    exp2, spec2 = experiment_for(demo_state, at.session_state["spec"].to_dict())
    assert spec2.pool_size == 30
    assert {m.label: m.value for m in at.metric}["nDCG@10"] == f"{exp2.run(spec2).evaluation.final.means['ndcg@10']:.3f}"
    assert curves_figure() != before   # the first pass's pool is what the bi-encoder receives


def test_live_page_runs_a_query_and_refuses_an_empty_one(demo_state):
    at = page("live", demo_state)
    at.run()
    at.button(key="live-run").click().run()
    assert len(at.error) == 1 and "empty" in at.error[0].value
    at.text_input(key="live-query").input("stem cells differentiate into neurons").run()
    at.button(key="live-run").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.metric[0].value.endswith("ms")
    assert len(at.get("plotly_chart")) == 1
    assert len(at.tabs) == 3
    # Each tab lists what the real cascade returns for that query (live ranking is deterministic):
    # the final list first, then every step's survivors.
    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    expected = exp.live("stem cells differentiate into neurons", spec)
    assert at.dataframe[0].value["doc"].tolist() == expected.final_doc_ids
    assert at.tabs[0].label == f"final ({spec.final_k})"
    for frame, step in zip(at.dataframe[1:], expected.steps):
        assert frame.value["doc"].tolist() == list(step.doc_ids)
    assert shown(at.tabs[2].label) == f"bi-encoder ({len(expected.steps[1].doc_ids)})"
    assert any("Searched the whole corpus" in c.value for c in at.tabs[1].caption)

    # A new query typed but not run: the old results say which query they belong to.
    at.text_input(key="live-query").input("vitamin D and bone density").run()
    assert any("for the query **stem cells differentiate into neurons**" in i.value for i in at.info)

    # A changed cascade hides the old result instead of showing it as this cascade's.
    changed = dict(at.session_state["spec"].to_dict(), final_k=5)
    at.session_state["spec"] = changed
    at.run()
    assert not at.exception and not at.dataframe
    assert any("press **Run** again" in c.value for c in at.caption)


def test_pages_without_a_dataset_say_what_to_do():
    for name in ("flow", "evaluate", "live"):
        at = page(name)
        at.run()
        assert not at.exception
        assert "Data & index" in at.info[0].value


@pytest.mark.slow
def test_a_cascade_worse_than_its_first_pass_is_a_warning_on_evaluate_and_flow(demo_state):
    """The demo spec with its stage replacing BM25's order and a deep pool: on this tiny set the
    stage ranks worse than BM25 (the library says by how much; the pages must say so, in red)."""
    from cascade_core.analysis.lift import first_pass_lift

    demo = demo_state["spec"].to_dict()
    stage = {k: v for k, v in demo["stages"][0].items() if k not in ("combine", "weight")}   # replace: its own score
    spec = {**demo, "stages": [stage]}
    state = {**demo_state, "spec": spec}
    exp, sp = experiment_for(state, spec)
    result = exp.run(sp)
    lift = first_pass_lift(result.run, result.evaluation, result.latency)

    at = page("evaluate", state)
    at.run()
    assert not at.exception
    cards = {m.label: m for m in at.metric}
    for metric, label in (("ndcg@10", "nDCG@10"), ("mrr@10", "MRR@10")):
        assert cards[label].delta == f"{lift.changes[metric].points:+.1f} points vs first pass"
    warned = any(lift.worse_headline() in w.value for w in at.warning)
    assert warned == bool({"ndcg@10", "mrr@10", "recall@10"} & set(lift.worse))

    at = page("flow", state)
    at.run()
    table = at.dataframe[0].value
    ev = result.evaluation
    assert table.loc["first pass", "nDCG@10"] == pytest.approx(ev.steps[0].means["ndcg@10"])
    assert table.loc["bi-encoder", "nDCG@10"] == pytest.approx(ev.steps[1].means["ndcg@10"])
    assert table.loc["bi-encoder", "vs first pass (points)"] == pytest.approx(
        100 * (ev.steps[1].means["ndcg@10"] - ev.steps[0].means["ndcg@10"]))
    banner = (at.warning if lift.worse else at.success)[0].value
    assert banner.startswith("**Final list against the first pass alone**")
    assert f"nDCG@10 {lift.changes['ndcg@10'].before:.3f} -> {lift.changes['ndcg@10'].after:.3f}" in banner


@pytest.mark.slow
def test_evaluate_keeps_its_switches_when_another_page_was_opened(demo_state):
    """Streamlit forgets a widget's value when a run does not draw it: the per-query switch, the
    Step chosen and the judged@10 switch came back at their defaults after a look at Flow."""
    at = page("evaluate", demo_state)
    at.run()
    at.toggle(key="pq-every").set_value(True).run()
    at.selectbox(key="pq-step").set_value("first pass").run()
    at.toggle(key="evaluate-holes").set_value(True).run()
    flow = page("flow", at)   # the session goes on, without Evaluate's widgets
    flow.run()
    assert not flow.exception
    back = page("evaluate", flow)
    back.run()
    assert not back.exception
    assert back.toggle(key="pq-every").value and back.selectbox(key="pq-step").value == "first pass"
    assert back.toggle(key="evaluate-holes").value
    assert len(back.dataframe[-1].value) > 10   # every query, not the first 10
    # "Against the first pass", opened, stays open too (collapsed by default: the cascade is better)
    # (AppTest cannot click an expander open: its value and the callback's copy, as a click sets them)
    back.session_state["evaluate-against"] = back.session_state[KEPT + "evaluate-against"] = True
    back.run()
    again = page("evaluate", page("flow", back))
    again.run()
    assert any("cascade" in d.value.columns for d in again.dataframe)
    fresh = page("evaluate", demo_state)   # another session: the defaults
    fresh.run()
    assert not fresh.toggle(key="pq-every").value and fresh.selectbox(key="pq-step").value == "final"
    assert not fresh.toggle(key="evaluate-holes").value


@pytest.mark.slow
def test_a_cut_off_lowered_with_an_earlier_one_comes_back_when_that_one_rises(demo_state):
    """Lowering the bi-encoder's cut-off below final k lowers final k with it; raising it again
    brings back the final k chosen, not the lowered one; a value set by hand is the new wish."""
    at = page("flow", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    final = at.session_state["spec"].to_dict()["final_k"]
    at.slider(key=f"cut-v{v}-stage1").set_value(3).run()
    assert at.slider(key=f"cut-v{v}-final").value == 3 and at.session_state["spec"].to_dict()["final_k"] == 3
    at.slider(key=f"cut-v{v}-stage1").set_value(40).run()
    assert at.slider(key=f"cut-v{v}-final").value == final and at.session_state["spec"].to_dict()["final_k"] == final
    at.slider(key=f"cut-v{v}-final").set_value(7).run()
    at.slider(key=f"cut-v{v}-stage1").set_value(2).run()
    at.slider(key=f"cut-v{v}-stage1").set_value(30).run()
    assert at.slider(key=f"cut-v{v}-final").value == 7
    assert not at.exception and not at.error
