"""The Present page (issue 28): the demo's story for a stakeholder, every number the library's,
no warning box, every panel in order; and the same story offline (``cascade report --present``)."""

import pytest

from cascade_core.analysis.lift import first_pass_lift
from cascade_core.present import story
from tests.app.conftest import page
from tests.app.rendered import shown
from tests.app.test_analysis_pages import experiment_for

pytestmark = pytest.mark.slow   # the demo's state: over the fast tier's budget


@pytest.fixture
def evaluated(demo_state):
    exp, spec = experiment_for(demo_state, demo_state["spec"].to_dict())
    return exp, exp.run(spec, budget_ms=demo_state.get("budget_ms"))


def test_the_story_is_the_librarys_numbers(evaluated):
    exp, result = evaluated
    s = story(result, exp)
    lift = first_pass_lift(result.run, result.evaluation, result.latency)
    assert s.change.after == pytest.approx(lift.changes["ndcg@10"].after)
    assert s.change.test.wins == lift.changes["ndcg@10"].test.wins
    assert [b.kind for b in s.stages] == [exp.spec.first_pass.kind] + [st.scorer.kind for st in exp.spec.stages]
    # the frontier holds this cascade, and the first pass alone, simulated from the same scores
    assert s.frontier.loc[s.current, "ndcg@10"] == pytest.approx(lift.changes["ndcg@10"].after)
    assert s.frontier["first_pass_only"].any()
    roles = list(s.alternatives[""])
    assert sum("this cascade" in r for r in roles) == 1 and any("first pass alone" in r for r in roles)
    # losses add up: lost at some step + reaching the final lists = every judged-relevant document
    assert int(s.lost["lost"].sum()) + s.relevant_final == s.relevant_total
    assert all(c.page for c in s.caveats) and s.caveats


def test_present_page_tells_the_story_without_a_warning_box(demo_state, evaluated):
    exp, result = evaluated
    s = story(result, exp)
    at = page("present", demo_state)
    at.run()
    assert not at.exception and not at.error
    assert not at.warning, [w.value for w in at.warning]
    heads = [h.value for h in at.subheader]
    assert heads == ["1. The cascade", "2. What it buys", "3. What it costs", "4. The trade-off",
                     "5. What it still loses", "Caveats"]
    quality = next(m for m in at.metric if m.label.startswith("nDCG@10"))
    assert quality.value == f"{s.change.after:.3f}" and "points vs the first pass alone" in quality.delta
    texts = " ".join(shown(m.value) for m in at.markdown).lower()
    assert f"better on {s.change.test.wins} queries, worse on {s.change.test.losses}" in texts
    assert any("this cascade" in r for r in at.dataframe[0].value[""])
    captions = " ".join(shown(c.value) for c in at.caption)
    for caveat in s.caveats:
        assert caveat.text in captions
    assert len(at.get("plotly_chart")) == 3


def test_present_without_judgments_says_what_cannot_be_measured_and_still_the_cost(tiny_beir, tmp_path):
    import shutil

    from cascade_core.present.story import NOT_MEASURED

    lines = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")   # its own corpus
    shutil.copy(tiny_beir / "queries.jsonl", tmp_path / "queries.jsonl")
    state = {"dataset_source": {"path": str(tmp_path), "split": None, "fmt": "auto", "label": "no qrels",
                                "stamp": ""},
             "spec": {"name": "two steps", "first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 5,
                      "stages": [{"scorer": {"kind": "bm25"}, "keep": 10}]}, "spec_version": 1}
    at = page("present", state)
    at.run()
    assert not at.exception and not at.error and not at.warning
    assert NOT_MEASURED in [shown(m.value) for m in at.markdown]
    assert [h.value for h in at.subheader] == ["1. The cascade", "2. What it buys", "3. What it costs", "Caveats"]
    assert any(m.label.startswith("Typical query") for m in at.metric)
    assert any("No relevance judgments" in shown(c.value) for c in at.caption)


def test_a_student_made_for_another_collection_is_a_caveat(demo_state):
    from pathlib import Path

    student = Path(__file__).resolve().parents[2] / "sample_data" / "models" / "scifact-student"
    exp, spec = experiment_for(demo_state, {
        "first_pass": {"kind": "bm25"}, "pool_size": 6, "final_k": 3,
        "stages": [{"scorer": {"kind": "cross-encoder", "model": str(student)}, "keep": 3}]})
    exp.ensure_scores(spec)
    s = story(exp.run(spec), exp)
    assert [c.page for c in s.caveats if "model was trained on" in c.text] == ["Build"]
