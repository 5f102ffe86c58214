"""Tune page: plateaus, the budget tuner's recommendation, held-out check, exports."""

import html
import io
import zipfile

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from cascade_core import doctor
from cascade_core.tuning import (OBJECTIVES, best_within_budget, grid_search, holdout_validation, recall_at_cutoffs,
                                 tuning_grid)
from tests.app.conftest import page
from tests.app.rendered import shown
from tests.app.test_analysis_pages import experiment_for

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)

CHEAPEST = "cheapest within 1 point of the best recall@10"


def sidebar_budget(at):
    """The one latency budget of the app: the sidebar's (Tune has no budget of its own)."""
    return at.number_input(key=f"cut-v{at.session_state['spec_version']}-budget")


def tuned_page(demo_state, budget=1000.0, objective=None):
    """The Tune page after pressing Tune (with ``budget``, and ``objective`` if given)."""
    at = page("tune", demo_state)
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    sidebar_budget(at).set_value(budget).run()
    if objective is not None:
        at.radio(key="tune-objective").set_value(objective).run()
    at.button(key="tune-run").click().run()
    assert not at.exception
    return at


def library_grid(demo_state, at, budget):
    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    grid = tuning_grid(spec, values=at.slider(key="tune-values").value,
                       max_pool=int(at.number_input(key="tune-max-pool").value))
    return exp, spec, grid_search(exp, grid, budget)


@pytest.fixture
def deferred_downloads(monkeypatch):
    """file name -> the callable a download button builds its file with (on click, not per rerun)."""
    made = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return made


def test_tuner_recommends_what_the_library_does_and_applies_it(demo_state):
    at = tuned_page(demo_state)
    assert not at.error, [e.value for e in at.error]
    exp, spec, lib = library_grid(demo_state, at, 1000.0)
    best = lib.spec_at(best_within_budget(lib))
    assert best.describe() in shown(at.success[0].value)
    assert len(at.get("plotly_chart")) == 1
    held_out = {m.label: m.value for m in at.metric}
    assert "Held-out nDCG@10" in held_out and "±" in held_out["Held-out nDCG@10"]

    at.button(key="tune-apply").click().run()
    assert at.session_state["spec"].to_dict()["pool_size"] == best.pool_size
    assert [s["keep"] for s in at.session_state["spec"].to_dict()["stages"]] == [s.keep for s in best.stages]
    # said once, the button gone (it is the cascade in use), named after what it is now
    assert any(shown(s.value).startswith(f"Applied: {best.describe()}") for s in at.success)
    assert not [b for b in at.button if b.key == "tune-apply"]
    assert at.session_state["spec"].name == f"tuned: {best.describe()}"
    assert not at.get("progress")   # the tuning's progress bar went once it finished


def test_recall_at_the_current_cut_off_comes_from_the_library(demo_state):
    at = page("tune", demo_state)
    at.run()
    table = at.dataframe[0].value
    assert list(table.index) == ["first pass", "bi-encoder"]
    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    expected = recall_at_cutoffs(exp.run(spec).run, exp.relevance)
    assert table["recall at it"].to_dict() == pytest.approx(expected)


@pytest.fixture
def slow_first_pass(demo_state):
    """The demo's first pass priced at 50 ms a query (cost records added for the test, removed
    after): then not even the first pass alone fits a 1 ms budget, whatever this machine's speed."""
    exp, _ = experiment_for(demo_state, demo_state["spec"].to_dict())
    store, scorer = exp.workspace.store, exp.plan.scorer_ids[0]
    conn = store._conn()
    before = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM costs").fetchone()[0]
    store.record_costs(scorer, [(100, 0, 0.050)] * 5000)
    exp._cost_models = None
    yield exp
    with conn:
        conn.execute("DELETE FROM costs WHERE rowid > ?", (before,))
    exp._cost_models = None


def test_no_combination_within_an_impossible_budget_shows_the_closest(demo_state, slow_first_pass):
    at = tuned_page(demo_state, budget=1.0)
    assert any("No combination fits a 1 ms budget" in e.value for e in at.error)
    closest = next(d.value for d in at.dataframe if "over by ms" in d.value.columns)
    assert len(closest) >= 1 and (closest["over by ms"] > 0).all()
    # the cheapest option is the first pass alone, 49 ms over
    assert closest["predicted ms"].iloc[0] == pytest.approx(50.0)
    assert closest["over by ms"].iloc[0] == pytest.approx(49.0)
    assert closest["combination"].iloc[0] == "bm25 -> 10 -> final 10"


def test_a_new_budget_is_judged_without_tuning_again_and_quoted_as_used(demo_state, slow_first_pass):
    at = tuned_page(demo_state, budget=1000.0)
    assert not at.error
    sidebar_budget(at).set_value(1.0).run()
    # The message quotes the budget the (absent) choice was made against: the sidebar's.
    assert [e.value for e in at.error if "No combination fits" in e.value] == [
        "No combination fits a 1 ms budget, not even the first pass alone. The closest (the cheapest on the "
        "Pareto frontier) and how far over each is:"]
    assert not at.success
    assert {m.label: m.value for m in at.metric}["Budget (ms per query)"] == "1"


def test_the_tuner_searches_how_stages_combine_and_the_first_pass_alone(demo_state):
    at = tuned_page(demo_state)
    exp, spec, lib = library_grid(demo_state, at, 1000.0)
    table = lib.table
    assert table["first_pass_only"].sum() == 1
    assert set(table["combine bi-encoder"]) == {"-", "replace", "rrf k=60", "norm-sum 0.3", "norm-sum 0.5",
                                                "norm-sum 0.7", "dbsf"}   # every fusion, DBSF added in one file
    best = lib.spec_at(best_within_budget(lib))
    at.button(key="tune-apply").click().run()
    applied = at.session_state["spec"].to_dict()
    assert [(s.get("combine", "replace"), s.get("weight")) for s in applied["stages"]] == [
        (st.combine, st.fusion.params().get("weight")) for st in best.stages]


def test_an_objective_that_ignores_the_budget_says_so_when_its_choice_is_over_it(demo_state):
    at = tuned_page(demo_state, budget=1.0, objective=CHEAPEST)
    assert any("ignores the budget" in c.value for c in at.caption)
    assert not at.success
    assert any("over the 1 ms budget: this objective ignores it" in w.value for w in at.warning)


def test_changing_the_grid_asks_for_a_new_run(demo_state):
    at = tuned_page(demo_state)
    assert len(at.get("plotly_chart")) == 1
    at.slider(key="tune-values").set_value(3).run()
    assert not at.get("plotly_chart")
    assert any("grid settings changed" in i.value for i in at.info)
    at.button(key="tune-run").click().run()
    assert len(at.get("plotly_chart")) == 1


def test_held_out_folds_choose_by_the_chosen_objective(demo_state):
    at = tuned_page(demo_state, objective=CHEAPEST)
    assert not at.error, [e.value for e in at.error]
    exp, spec, lib = library_grid(demo_state, at, 1000.0)
    rule = OBJECTIVES[CHEAPEST]
    assert lib.spec_at(rule(lib)).describe() in shown(at.success[0].value)
    expected = holdout_validation(lib, k=at.slider(key="tune-folds").value,
                                  repeats=at.slider(key="tune-repeats").value, rule=rule)
    folds = at.dataframe[1].value
    assert folds["pool_size"].tolist() == expected.folds["pool_size"].tolist()
    assert folds["held-out ndcg@10"].tolist() == pytest.approx(expected.folds["held-out ndcg@10"].tolist())
    assert any(CHEAPEST in c.value for c in at.caption)


def test_a_result_belongs_to_its_cascade_and_dataset(demo_state):
    at = tuned_page(demo_state)
    assert len(at.get("plotly_chart")) == 1
    tuned_spec = dict(at.session_state["spec"].to_dict())

    # Moving a cut-off keeps the result: that is what tuning is about.
    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(15).run()
    assert at.session_state["spec"].to_dict()["final_k"] == tuned_spec["final_k"]
    assert len(at.get("plotly_chart")) == 1 and at.button(key="tune-apply")

    # Another cascade (here: without its bi-encoder stage): the old chart and "Apply" are gone.
    at.session_state["spec"] = {**tuned_spec, "stages": []}
    at.session_state["spec_version"] = v + 1
    at.run()
    assert not at.exception
    assert not at.get("plotly_chart")
    assert not [b for b in at.button if b.key == "tune-apply"]
    assert any("press **Tune** again" in i.value for i in at.info)

    # The cascade it was tuned for again: the result shows again.
    at.session_state["spec"] = tuned_spec
    at.session_state["spec_version"] = v + 2
    at.run()
    assert len(at.get("plotly_chart")) == 1

    # Another dataset (here: the same folder re-uploaded with other contents, i.e. a new stamp).
    at.session_state["dataset_source"] = {**demo_state["dataset_source"], "stamp": "another-upload"}
    at.run()
    assert not at.exception
    assert not at.get("plotly_chart")
    assert not [b for b in at.button if b.key == "tune-apply"]


def test_largest_pool_stops_where_the_sliders_stop(demo_state):
    at = page("tune", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    assert at.number_input(key="tune-max-pool").max == at.slider(key=f"cut-v{v}-pool").max == 1000


def test_exports_are_built_on_click_only(demo_state, deferred_downloads, monkeypatch):
    import cascade_core.export.snippets
    import cascade_draw.report

    built = []
    for module, name in ((cascade_draw.report, "html_report"), (cascade_core.export.snippets, "trec_runs_zip")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k: built.append(_n) or _f(*a, **k))
    at = page("tune", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(9).run()
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) >= {"Spec (YAML)", "Python snippet", "TREC run files (zip)", "HTML report"}
    assert built == []  # two reruns, no report or zip built
    snippet = next(c.value for c in at.code if "CascadeSpec.from_yaml" in c.value)
    compile(snippet, "run_cascade.py", "exec")  # valid Python
    assert "CascadeSpec.from_yaml" in snippet

    names = zipfile.ZipFile(io.BytesIO(deferred_downloads["cascade-runs.zip"]())).namelist()
    assert names[-1] == "final.run" and built == ["trec_runs_zip"]


def test_html_report_has_doctor_findings_tuning_and_every_chart(demo_state, deferred_downloads):
    # A pool of 5 loses relevant documents that BM25 ranks just below it: the doctor flags it.
    state = {**demo_state, "spec": {**demo_state["spec"].to_dict(), "pool_size": 5, "final_k": 5,
                                    "stages": [{**demo_state["spec"].to_dict()["stages"][0], "keep": 5}]}}
    at = tuned_page(state)
    assert not at.error
    report = deferred_downloads["cascade-report.html"]()

    exp, spec = experiment_for(demo_state, at.session_state["spec"].to_dict())
    findings = doctor.diagnose(exp.run(spec).run, exp.relevance, exp.cost_models())
    assert findings and "<h2>Doctor</h2>" in report
    for f in findings:
        assert html.escape(f.title) in report
    for chart_title in ("Candidates through the cascade", "Relevant documents kept and lost",
                        "Latency budget:", "Recall funnel: judged-relevant documents still present",
                        "Recall@k of each step over the candidates it receives",
                        "Quality vs latency of every combination", "Held-out validation", "Metrics per stage",
                        "Against the first pass alone", "What each stage does to the list it receives"):
        assert chart_title.lower() in report.lower(), chart_title
    # The Pareto chart marks the current spec and the recommendation.
    assert '"name":"current spec"' in report and '"name":"recommended"' in report
    assert "tuning objective" in report


def test_the_first_pass_is_offered_as_a_qdrant_request(demo_state):
    """Issue 12, part 2: the Tune page's export offers the Query API request and its qdrant-client code."""
    import json

    from cascade_core.cascade import CascadeSpec
    from cascade_core.export.qdrant import plan

    at = page("tune", demo_state)
    at.run()
    assert not at.exception
    buttons = {b.proto.label for b in at.get("download_button")}
    assert {"Query API request (JSON)", "qdrant-client code"} <= buttons
    expected = plan(CascadeSpec.from_dict(demo_state["spec"].to_dict())).request
    assert any(c.value == json.dumps(expected, indent=2) for c in at.code)
    assert any("Qdrant returns exactly the simulated first pass" in s.value for s in at.info)
