"""Tune page: plateaus, the budget tuner's recommendation, held-out check, exports."""

from cascade_core.tuning import best_within_budget, cutoff_grid, grid_search
from tests.app.conftest import page
from tests.app.test_analysis_pages import experiment_for


def test_tuner_recommends_what_the_library_does_and_applies_it(demo_state):
    at = page("tune", demo_state)
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    plateau_table = at.dataframe[0].value
    assert list(plateau_table.index) == ["first pass", "bi-encoder"]

    at.number_input(key="tune-budget").set_value(1000.0).run()
    at.button(key="tune-run").click().run()
    assert not at.error, [e.value for e in at.error]
    exp, spec = experiment_for(demo_state, at.session_state["spec"])
    lib = grid_search(exp, cutoff_grid(spec, values=5, max_pool=int(at.number_input(key="tune-max-pool").value)), 1000.0)
    best = lib.spec_at(best_within_budget(lib))
    assert best.describe() in at.success[0].value
    assert len(at.get("plotly_chart")) == 1
    held_out = {m.label: m.value for m in at.metric}
    assert "Held-out nDCG@10" in held_out and "±" in held_out["Held-out nDCG@10"]

    at.button(key="tune-apply").click().run()
    assert at.session_state["spec"]["pool_size"] == best.pool_size


def test_no_combination_within_an_impossible_budget(demo_state):
    at = page("tune", demo_state)
    at.run()
    at.number_input(key="tune-budget").set_value(1.0).run()
    at.button(key="tune-run").click().run()
    assert any("No combination fits" in e.value for e in at.error)


def test_exports_are_real_files(demo_state):
    at = page("tune", demo_state)
    at.run()
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) >= {"Spec (YAML)", "Python snippet", "TREC run files (zip)", "HTML report"}
    snippet = at.code[-1].value
    compile(snippet, "run_cascade.py", "exec")  # valid Python
    assert "CascadeSpec.from_yaml" in snippet
