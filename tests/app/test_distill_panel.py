"""Build page, distillation panel: estimate, train a (tiny) student from the session's cascade on
generated queries, read the report, put the student in the cascade; the pages then name it."""

import shutil
import time
from pathlib import Path

import pytest

from tests.app.conftest import page
from tests.app.rendered import shown


@pytest.fixture
def tidy_registry():
    """Students trained here are removed afterwards: the presets of other tests must not pick them."""
    yield
    from cascade_core.models.students import registry

    shutil.rmtree(registry(), ignore_errors=True)


def _tiny(at):
    at.radio(key="distill-source").set_value("queries generated from documents").run()
    at.number_input(key="distill-generate").set_value(4).run()
    at.number_input(key="distill-pairs").set_value(8).run()      # one step of 4 lists of 8
    at.number_input(key="distill-layers").set_value(1).run()
    at.number_input(key="distill-len").set_value(32).run()
    at.number_input(key="distill-serve").set_value(64).run()
    at.number_input(key="distill-held").set_value(3).run()


def _until_ended(at, seconds: float = 240):
    """Run the page again until no training job runs (the job is a background thread)."""
    from cascade_core.distill.job import jobs

    end = time.monotonic() + seconds
    while any(j.active for j in jobs()) and time.monotonic() < end:
        time.sleep(0.5)
    at.run()
    assert not any(j.active for j in jobs()), "the job did not end"


def _stored_scores() -> int:
    from cascade_ui import session

    return session.workspace().store.n_scores()


@pytest.mark.slow
def test_estimate_train_report_and_use_the_student(demo_state, tidy_registry):
    at = page("build", demo_state)
    at.run()
    assert not at.exception
    _tiny(at)
    before = _stored_scores()
    at.button(key="distill-estimate").click().run()
    assert not at.error, [e.value for e in at.error]
    estimate = " ".join(shown(i.value) for i in at.info if "Before any work" in i.value)
    assert "Teacher scoring first" in estimate and "Training: 8 pairs" in estimate and "in all" in estimate
    assert _stored_scores() == before                     # the estimate did no work: nothing scored
    at.button(key="distill-train").click().run()          # a short job: no question, it starts
    assert not at.error, [e.value for e in at.error]
    _until_ended(at)
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


@pytest.mark.slow
def test_a_long_job_asks_first_cancel_keeps_a_checkpoint_and_resume_finishes(demo_state, tidy_registry):
    from cascade_core.distill.job import jobs

    at = page("build", demo_state)
    at.run()
    _tiny(at)
    at.number_input(key="distill-pairs").set_value(400_000).run()   # days here: it must ask
    at.button(key="distill-train").click().run()
    assert not jobs()                                                  # nothing started
    assert any("This is a long job" in shown(w.value) for w in at.warning)
    at.button(key="distill-no").click().run()
    assert not jobs() and not any("This is a long job" in w.value for w in at.warning)
    at.button(key="distill-train").click().run()
    at.button(key="distill-yes").click().run()
    [job] = jobs()
    end = time.monotonic() + 120
    while not (job.progress.get("task", "").startswith("training") and job.progress.get("done")) \
            and time.monotonic() < end:   # the teacher is scored first; cancel once training has begun
        time.sleep(0.3)
        job = jobs()[0]
    at.run()
    cancel = [b for b in at.button if b.key and b.key.startswith("distill-cancel-")]
    assert cancel, "no Cancel button while the job runs"
    cancel[0].click().run()
    _until_ended(at)
    [job] = jobs()
    assert job.state == "stopped" and "checkpoint" in job.message
    assert (job.out / ".checkpoint").is_dir()
    done_at = job.progress["done"]
    assert any("was stopped" in shown(w.value) for w in at.warning)
    # A refreshed page (a new session) finds the stopped run too, with Resume.
    fresh = page("build", demo_state)
    fresh.run()
    assert any("was stopped" in shown(w.value) for w in fresh.warning)
    fresh.number_input(key="distill-pairs").set_value(8).run()   # the form is not the job: it resumes its own
    fresh.button(key=f"distill-resume-{job.out.name}").click().run()
    time.sleep(3)
    resumed = jobs()[0]
    assert resumed.state in ("running", "stopped") and resumed.progress.get("done", done_at) >= done_at
    from cascade_core.distill.job import cancel_job

    cancel_job(resumed.out)   # 400,000 pairs are not for a test: stop it again
    _until_ended(fresh)
    assert jobs()[0].state == "stopped"


def test_the_stand_in_is_refused_as_teacher_and_a_stored_one_proposed(demo_state, tidy_registry):
    from cascade_core.cascade import CascadeSpec
    from cascade_core.cascade.presets import stand_in_cross_encoder

    at = page("build", demo_state)
    at.run()
    spec = at.session_state["spec"].to_dict()   # the demo's: every score stored (demo_state ran it)
    spec["stages"].append({"scorer": {"kind": "cross-encoder", "model": stand_in_cross_encoder()}, "keep": 10})
    at.session_state["spec"] = CascadeSpec.from_dict(spec)
    at.run()
    warnings = [shown(w.value) for w in at.warning]
    assert any("cannot be the teacher" in w and "untrained stand-in" in w for w in warnings), warnings
    assert at.button(key="distill-train").disabled
    proposal = [shown(i.value) for i in at.info if "best teacher the stored scores support" in shown(i.value)]
    assert proposal and "nDCG@10" in proposal[0], [i.value for i in at.info]
    at.button(key="distill-use-teacher").click().run()
    assert all(s["scorer"].get("model") != stand_in_cross_encoder()
               for s in at.session_state["spec"].to_dict()["stages"])
    assert not at.button(key="distill-train").disabled
    assert not any("cannot be the teacher" in shown(w.value) for w in at.warning)


def test_the_presets_use_a_distilled_student(demo_state, tidy_registry, tmp_path, monkeypatch):
    from cascade_core.models import students as registry_module
    from cascade_core.models.students import SHIPPED_STUDENTS, registry
    from cascade_ui.presets import cross_encoder_model, student_note

    shipped, stand_in = cross_encoder_model("any")
    assert Path(shipped).parent == SHIPPED_STUDENTS and stand_in is False   # nothing distilled: the shipped one
    with monkeypatch.context() as m:
        m.setattr(registry_module, "SHIPPED_STUDENTS", tmp_path / "no-shipped-student")
        assert cross_encoder_model("any")[1] is True             # nor shipped: the stand-in
    folder = registry() / "elsewhere-1"
    shutil.copytree(Path(cross_encoder_model("any")[0]), folder)
    (folder / "distilled.json").write_text('{"complete": true, "name": "elsewhere-1", "created": "2025-01-01", '
                                           '"dataset": {"name": "other", "corpus": "x"}, "settings": {"layers": 2, '
                                           '"base": "all-MiniLM-L6-v2"}}')
    model, stand_in = cross_encoder_model("mine")
    assert (model, stand_in) == (str(folder), False)
    note = student_note(model, "mine")
    assert "elsewhere-1" in note and "another collection (other)" in note and "not evaluated" in note
