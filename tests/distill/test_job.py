"""A distillation job's state on disk, as any page reads it: a silent "running" job was
interrupted (its process died), a cancelled one is stopped and resumable, the newest first."""

import json
import time

from cascade_core.distill.job import JOB_FILE, STALE_AFTER_S, cancel_job, jobs, new_job_folder, read_job, write_job


def test_a_running_job_whose_heartbeat_stopped_reads_as_interrupted(tmp_path):
    out = new_job_folder(tmp_path, "scifact")
    write_job(out, {"state": "running", "request": {}, "started": "2026-01-01T00:00:00",
                    "progress": {"task": "training the student", "done": 800, "total": 16000, "unit": "pairs",
                                 "eta_s": 1500.0}})
    job = read_job(out)
    assert job.state == "running" and job.active and not job.resumable
    assert job.describe_progress() == "training the student: 800 of 16,000 pairs, 25 min left"
    record = json.loads((out / JOB_FILE).read_text())
    record["updated"] = time.time() - STALE_AFTER_S - 1   # the process that wrote it is gone
    (out / JOB_FILE).write_text(json.dumps(record))
    job = read_job(out)
    assert job.state == "interrupted" and job.resumable
    assert job.describe_progress() == "training the student: 800 of 16,000 pairs"   # no time left: not running


def test_jobs_are_listed_newest_first_and_a_cancel_is_a_file(tmp_path):
    first, second = new_job_folder(tmp_path, "a/b c"), None
    write_job(first, {"state": "stopped", "started": "2026-01-01T00:00:00"})
    second = new_job_folder(tmp_path, "a/b c")
    assert second != first and "/" not in second.name and " " not in second.name
    write_job(second, {"state": "failed", "started": "2026-01-02T00:00:00", "message": "no judged queries"})
    assert [j.out for j in jobs(tmp_path)] == [second, first]
    cancel_job(first)
    assert (first / ".cancel").exists()
    assert read_job(tmp_path / "nothing") is None
    (second / JOB_FILE).write_text("{not json")   # a damaged record: no job, never a traceback
    assert [j.out for j in jobs(tmp_path)] == [first]


def test_a_damaged_record_reads_as_a_failed_job_not_a_traceback(tmp_path):
    out = new_job_folder(tmp_path, "data")
    out.mkdir(parents=True)
    (out / JOB_FILE).write_text(json.dumps({"state": "dancing", "updated": "soon", "message": 7,
                                            "progress": {"done": "many", "total": 1e308}, "request": []}))
    job = read_job(out)
    assert (job.state, job.progress, job.message, job.request) == ("failed", {}, "", {})
    assert job.describe_progress() == "failed"
    (out / JOB_FILE).write_text('{"state": "running", "updated": 1e999, "progress": {"done": Infinity, "total": 2}}')
    job = read_job(out)   # non-finite numbers: unknown, so no progress, and a heartbeat that says nothing
    assert job.progress == {} and job.state == "interrupted"
