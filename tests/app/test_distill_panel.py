"""Build page, distillation panel: estimate, train a (tiny) student from the session's cascade on
generated queries, read the report, put the student in the cascade; the pages then name it."""

import shutil
from pathlib import Path

import pytest

from tests.app.conftest import page
from tests.app.rendered import shown


@pytest.fixture
def tidy_registry():
    """Students trained here are removed afterwards: the presets of other tests must not pick them."""
    yield
    from cascade_core.distill.registry import registry

    shutil.rmtree(registry(), ignore_errors=True)


def _tiny(at):
    at.radio(key="distill-source").set_value("queries generated from documents").run()
    at.number_input(key="distill-generate").set_value(4).run()
    at.number_input(key="distill-pairs").set_value(8).run()      # one step of 4 lists of 8
    at.number_input(key="distill-layers").set_value(1).run()
    at.number_input(key="distill-len").set_value(32).run()
    at.number_input(key="distill-serve").set_value(64).run()
    at.number_input(key="distill-held").set_value(3).run()


@pytest.mark.slow
def test_estimate_train_report_and_use_the_student(demo_state, tidy_registry):
    at = page("build", demo_state)
    at.run()
    assert not at.exception
    _tiny(at)
    at.button(key="distill-estimate").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("should take about" in i.value for i in at.info)
    at.button(key="distill-train").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("distilled student" in s.value and "generated from documents" in s.value for s in at.success)
    table = at.dataframe[-1].value
    assert list(table.index) == ["first pass", "teacher", "student", "student + first pass"]
    out = at.session_state["distill-result"]["out"]
    assert (Path(out) / "distilled.json").exists() and (Path(out) / "config.json").exists()
    at.button(key="distill-use").click().run()
    spec = at.session_state["spec"].to_dict()
    assert spec["stages"][0]["scorer"] == {"kind": "cross-encoder", "model": out}
    flow = page("flow", at)
    flow.run()
    assert not flow.exception
    notes = [shown(i.value) for i in flow.info]
    assert any("distilled student" in note and "held-out nDCG@10" in note for note in notes), notes
    assert not any("stand-in" in w.value for w in flow.warning)


def test_the_presets_use_a_distilled_student(demo_state, tidy_registry, tmp_path):
    from cascade_core.distill.registry import registry
    from cascade_ui.presets import cross_encoder_model, student_note

    assert cross_encoder_model("any")[1] is True                 # nothing distilled: the stand-in
    folder = registry() / "elsewhere-1"
    shutil.copytree(Path(cross_encoder_model("any")[0]), folder)
    (folder / "distilled.json").write_text('{"complete": true, "name": "elsewhere-1", "created": "2025-01-01", '
                                           '"dataset": {"name": "other", "corpus": "x"}, "settings": {"layers": 2, '
                                           '"base": "all-MiniLM-L6-v2"}}')
    model, stand_in = cross_encoder_model("mine")
    assert (model, stand_in) == (str(folder), False)
    note = student_note(model, "mine")
    assert "elsewhere-1" in note and "another collection (other)" in note and "not evaluated" in note
