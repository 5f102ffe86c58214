"""Compare & doctor page: what it shows equals what cascade_core computes."""

import pandas as pd
import pytest

from cascade_core import doctor
from cascade_core.analysis import compare
from cascade_core.cascade import CascadeSpec
from cascade_core.doctor.provenance import experiment_checks
from cascade_core.tuning import first_pass_only
from cascade_ui import session as ui_session
from cascade_ui import state as ui_state
from tests.app.conftest import page
from tests.app.rendered import rendered


def factory(demo_state):
    """``spec -> experiment``: the app's own shared experiments for this session's dataset."""
    src = demo_state["dataset_source"]
    return lambda sp: ui_session._experiment(src["path"], src["split"], src["fmt"], ui_state.experiment_key(sp), src.get("stamp", ""))


def library(demo_state, spec_dict):
    make = factory(demo_state)
    spec = CascadeSpec.from_dict(spec_dict)
    exp = make(spec)
    return make, exp, exp.run(spec)


@pytest.mark.slow
def test_doctor_page_shows_the_library_numbers(demo_state):
    at = page("doctor", demo_state)
    at.run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    make, exp, result = library(demo_state, at.session_state["spec"].to_dict())
    costs = exp.cost_models()

    cmp = compare.single_pass(result, costs, make)
    pd.testing.assert_frame_equal(at.dataframe[0].value, cmp.table(), check_names=False)
    # the demo's stage fuses with BM25; its single pass is the same stage replacing BM25's order
    assert not cmp.same_as_cascade and cmp.baseline.spec.stages[0].combine == "replace"

    lift = compare.stage_lifts(result, make, cost_models=costs)
    shown = at.dataframe[1].value
    assert list(shown.index) == ["bi-encoder"]
    for col in ("recall@10 lift (points)", "ndcg@10 lift (points)"):
        assert shown.loc["bi-encoder", col] == pytest.approx(lift.table().loc["bi-encoder", col])

    assert shown.loc["bi-encoder", "verdict"] == lift.rows[0].verdict

    # wins and losses default to the first pass alone: the comparison every cascade must win first
    assert at.selectbox(key="wl-baseline").value.startswith("the first pass alone")
    alone = first_pass_only(result.run.spec)
    first = make(alone).run(alone)
    t = compare.wins_losses(result, first, "ndcg@10")
    metrics = {m.label: m for m in at.metric}
    assert tuple(metrics[k].value for k in ("Wins", "Losses", "Ties")) == (str(t.wins), str(t.losses), str(t.ties))
    assert metrics["Mean difference"].value == f"{100 * t.mean_diff:+.1f} points"

    checks = doctor.run_checks(result.run, exp.relevance, costs, extra=experiment_checks(exp))
    assert {c.kind for c in checks} >= {"harmful-stage", "depth-quality", "provenance", "latency-machine"}
    findings = [c.finding for c in checks if c.finding]
    shown_text = [rendered(a.value).text for a in [*at.warning, *at.info, *at.success]]
    for c in checks:
        title = c.finding.title if c.finding else c.title
        assert any(title in text for text in shown_text), title
    assert len(at.success) == sum(c.status == "ok" for c in checks)
    assert len(findings) == sum(f.title in rendered(w.value).text for f in findings for w in at.warning + at.info)
    for f in findings:   # evidence for people: recalls and shares as percentages
        shown_finding = next(t for t in shown_text if f.title in t)
        for name, value in f.evidence.items():
            if isinstance(value, float) and ("share" in name or name.startswith("recall")):
                assert f"{name} = {value:.1%}" in shown_finding

    assert len(at.get("plotly_chart")) == 3     # per-query differences, depth against quality, score distributions
    dist = doctor.distribution_table(doctor.score_distributions(result.run, exp.relevance))
    pd.testing.assert_frame_equal(at.dataframe[2].value, dist, check_names=False)

    at.radio(key="dist-scale").set_value("norm-sum").run()
    mm = doctor.distribution_table(doctor.score_distributions(result.run, exp.relevance, "norm-sum"))
    pd.testing.assert_frame_equal(at.dataframe[2].value, mm, check_names=False)
    at.selectbox(key="wl-metric").set_value("recall@10").run()
    t10 = compare.wins_losses(result, first, "recall@10")
    assert {m.label: m.value for m in at.metric}["Wins"] == str(t10.wins)


@pytest.mark.slow
def test_doctor_page_scores_what_a_lift_needs(demo_state):
    """Two stages: without the bi-encoder, the BM25 stage would see the whole pool, never scored."""
    two = dict(demo_state)
    spec = CascadeSpec.from_dict(demo_state["spec"].to_dict())
    two["spec"] = CascadeSpec.from_dict({**spec.to_dict(), "stages": [
        spec.stages[0].to_dict(), {"scorer": {"kind": "bm25"}, "keep": 10, "name": "bm25 rescoring"}]}).to_dict()
    two["spec_version"] = demo_state.get("spec_version", 0) + 1
    at = page("doctor", two)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    make, exp, result = library(two, at.session_state["spec"].to_dict())
    assert list(at.dataframe[0].value.index) == ["cascade", "single pass", "cascade / single pass"]
    lift = compare.stage_lifts(result, make)
    assert [s.describe() for s in lift.missing] == [compare.without_stage(result.run.spec, 0).describe()]
    assert pd.isna(at.dataframe[1].value.loc["bi-encoder", "ndcg@10 lift (points)"])

    at.button(key="score-lift").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    lift = compare.stage_lifts(result, make)
    assert lift.missing == []
    shown = at.dataframe[1].value
    assert shown.loc["bi-encoder", "ndcg@10 lift (points)"] == pytest.approx(
        lift.table().loc["bi-encoder", "ndcg@10 lift (points)"])
    assert all(b.key != "score-lift" for b in at.button)

    # The lift's scoring stored BM25-stage scores the cascade's own experiment had not loaded: a
    # cut-off that needs them must find them (no "missing scores" error, no scoring again).
    v = at.session_state["spec_version"]
    at.slider(key=f"cut-v{v}-stage1").set_value(60).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.dataframe[0].value.index[0] == "cascade"


def test_doctor_page_without_a_dataset_says_what_to_do():
    at = page("doctor")
    at.run()
    assert not at.exception
    assert "Data & index" in at.info[0].value
