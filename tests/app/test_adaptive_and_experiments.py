"""Per-query cut-offs on the Build and Flow pages, and saved experiments compared on their page:
what the pages show equals what the library computes."""

import pytest

from cascade_core.analysis.compare_many import compare_experiments
from cascade_core.analysis.flow import kept_count_summary
from cascade_core.analysis.saved import SavedExperiment, experiments_folder
from cascade_core.cascade.simulate import kept_counts
from cascade_ui import state as ui_state
from cascade_ui.cutoff_controls import DROP
from tests.app.conftest import page
from tests.app.rendered import rendered
from tests.app.test_analysis_pages import experiment_for

DROP_STAGE = {"drop": 0.3, "min": 3, "max": 40, "scale": "norm"}


def adaptive_state(demo_state, keep=DROP_STAGE):
    spec = dict(demo_state["spec"].to_dict())
    spec["stages"] = [{**spec["stages"][0], "keep": keep}]
    spec["final_k"] = min(spec["final_k"], keep if isinstance(keep, int) else keep["max"])
    return {**demo_state, "spec": spec, "spec_version": demo_state.get("spec_version", 0) + 1}


def test_build_page_sets_a_relative_drop(demo_state):
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.radio(key=f"keep-{v}-0-mode").set_value(DROP).run()
    at.slider(key=f"keep-{v}-0-max").set_value(50).run()
    at.number_input(key=f"keep-{v}-0-min").set_value(5).run()
    at.number_input(key=f"keep-{v}-0-drop").set_value(0.25).run()
    assert any("Normalised" in c.value for c in at.caption)       # the page says what the scale means
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    keep = at.session_state["spec"].to_dict()["stages"][0]["keep"]
    assert keep == {"drop": 0.25, "min": 5, "max": 50, "scale": "norm"}
    assert "drop 0.25 (norm), 5-50" in rendered(at.success[0].value).text


@pytest.mark.slow
def test_flow_page_shows_the_kept_count_distribution(demo_state):
    st_state = adaptive_state(demo_state)
    at = page("flow", st_state)
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 4          # funnel, Sankey, kept counts, latency
    shown = next(d.value for d in at.dataframe if "p95" in d.value.index).T   # shown a row per statistic
    exp, spec = experiment_for(demo_state, st_state["spec"])
    result = exp.run(spec)
    expected = kept_count_summary(result.run)
    for stat in ("mean", "p95"):   # shown as text, one decimal
        assert float(shown.loc["bi-encoder", stat]) == pytest.approx(expected.loc["bi-encoder", stat], abs=0.05)
    assert shown.loc["bi-encoder", "cut-off"] == "drop 0.3 (norm), 3-40"
    counts = kept_counts(result.run)["bi-encoder"]
    assert 3 <= counts.min() and counts.max() <= 40


@pytest.mark.slow
def test_experiments_page_saves_and_compares_like_the_library(demo_state):
    folder = experiments_folder(ui_state.workspace())
    variants = {"app-keep20": 20, "app-keep5": 5, "app-drop": DROP_STAGE}
    for name, keep in variants.items():
        at = page("experiments", adaptive_state(demo_state, keep))
        at.run()
        at.text_input(key="save-name").input(name).run()
        at.button(key="save-experiment").click().run()
        assert not at.error, [e.value for e in at.error]
        assert f"Saved as {name} ({name}.json)." in rendered(at.success[0].value).text
    at = page("experiments", demo_state)
    at.run()
    at.multiselect(key="cmp-names").set_value(list(variants)).run()
    at.selectbox(key="cmp-baseline").set_value("app-keep20").run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    shown, tests = at.dataframe[0].value, at.dataframe[1].value
    expected = compare_experiments([SavedExperiment.load(folder, n) for n in variants], baseline="app-keep20").table
    assert list(shown.index) == ["app-keep20", "app-keep5", "app-drop"]
    assert list(tests.index) == ["app-keep5", "app-drop"]     # the others against the baseline
    for col in ("ndcg@10", "recall@10", "predicted ms"):
        assert shown[col].tolist() == pytest.approx(expected[col].tolist()), col
    for col in ("wins", "losses", "Wilcoxon p", "Holm p"):
        assert tests[col].tolist() == pytest.approx(expected[col].tolist()[1:]), col
    assert any("Holm-corrected" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 2 and at.get("download_button")


@pytest.mark.slow   # it reads the experiments the test above saves
def test_experiments_page_refuses_other_query_sets(demo_state):
    folder = experiments_folder(ui_state.workspace())
    e = SavedExperiment.load(folder, "app-keep20")
    e.name, e.query_ids = "app-fewer", e.query_ids[:-1]
    e.per_query = {m: v[:-1] for m, v in e.per_query.items()}
    e.save(folder)
    at = page("experiments", demo_state)
    at.run()
    at.multiselect(key="cmp-names").set_value(["app-keep20", "app-fewer"]).run()
    assert at.error and "different query sets" in at.error[0].value


@pytest.mark.slow
def test_a_saved_name_is_replaced_only_when_asked(demo_state):
    folder = experiments_folder(ui_state.workspace())
    (folder / "app-twice.json").unlink(missing_ok=True)
    at = page("experiments", demo_state)
    at.run()
    at.text_input(key="save-name").input("app-twice").run()
    assert not at.warning and not at.checkbox   # a new name: nothing to replace
    at.button(key="save-experiment").click().run()
    assert "Saved as app-twice (app-twice.json)." in rendered(at.success[0].value).text
    first = (folder / "app-twice.json").read_bytes()
    # At once (no second click): the name is taken, Save waits, Replace is offered; no alarm for
    # the save just made
    assert not at.warning
    assert any("app-twice is saved. To save a changed cascade under this name, tick Replace." in
               rendered(c.value).text for c in at.caption)
    assert at.button(key="save-experiment").disabled
    assert (folder / "app-twice.json").read_bytes() == first
    at.checkbox(key="save-replace").check().run()
    assert not at.warning and not at.button(key="save-experiment").disabled
    at.button(key="save-experiment").click().run()
    # (the comparison below the form may refuse experiments other tests saved: not this one's business)
    assert not [e for e in at.error if "twice" in e.value], [e.value for e in at.error]
    assert "Replaced app-twice (app-twice.json)." in rendered(at.success[0].value).text
    assert SavedExperiment.load(folder, "app-twice").name == "app-twice"
