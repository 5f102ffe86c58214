"""Before scoring, the estimate (a dry run); a cancelled run keeps what it scored; ``calibrate``
re-times every step without scoring; the busy-CPU check. Real BM25 and a real (tiny) CrossEncoder."""

import subprocess
import sys
import time

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.errors import CascadeError, ScoringCancelled
from cascade_core.latency.timing import cores, waits_reported
from cascade_core.progress import cancellable

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def spec_for(cross_model, pool=40, keep=10):
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": pool, "final_k": 5,
                                  "stages": [{"scorer": {"kind": "cross-encoder", "model": cross_model}, "keep": keep}]})


def no_model_calls(exp, monkeypatch):
    monkeypatch.setattr(exp.plan.retriever, "retrieve", lambda *a, **k: pytest.fail("retrieved"))
    for scorer in exp.plan.scorers:
        monkeypatch.setattr(scorer, "score", lambda *a, **k: pytest.fail("scored"))


def test_the_estimate_is_a_dry_run_that_matches_what_scoring_does(tiny_dataset, workspace, tiny_cross_encoder,
                                                                   monkeypatch):
    spec = spec_for(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    n_q = len(exp.queries)
    with monkeypatch.context() as m:
        no_model_calls(exp, m)
        before = exp.estimate()
    fp, cross = before.steps
    assert (fp.units, fp.first_pass, fp.exact) == (n_q, True, True)
    assert not cross.exact and cross.units == n_q * 40     # the first pass is missing: an upper bound
    assert "not timed yet: default" in cross.basis and before.seconds > 0
    assert "up to" in before.describe()

    exp.ensure_scores(spec.prefix(0))                      # the first pass only: now the stage is exact
    with monkeypatch.context() as m:
        no_model_calls(exp, m)
        middle = exp.estimate()
    assert middle.steps[0].units == 0 and middle.steps[1].exact and middle.steps[0].basis == "measured here"
    report = exp.ensure_scores()
    assert middle.steps[1].units == report.scored_pairs["cross-encoder"]
    after = exp.estimate()
    assert after.empty and after.describe() == "nothing to score: every score needed is stored"
    # once timed, the stage's rate comes from its own cost model
    deeper = exp.estimate(spec.with_keeps(pool_size=60, keeps=[10]))
    assert deeper.steps[1].basis == "measured here" and deeper.steps[1].units > 0


def test_a_cancelled_run_keeps_what_it_scored(tiny_dataset, workspace, tiny_cross_encoder):
    spec = spec_for(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores(spec.prefix(0))
    cross_id = exp.plan.scorers[0].id
    events = []

    def stop_after_three(event):
        events.append(event)

    progress = cancellable(stop_after_three, lambda: sum(e.task.startswith("scoring") for e in events) >= 3)
    with pytest.raises(ScoringCancelled, match="what was scored is stored"):
        exp.ensure_scores(progress=progress)
    stored = workspace.store.n_scores(cross_id)
    assert 0 < stored < len(exp.queries) * 40
    assert len(workspace.store.costs(cross_id)) > 0          # the calls timed before the cancel are kept
    rest = exp.ensure_scores()
    assert rest.scored_pairs["cross-encoder"] == len(exp.queries) * 40 - stored


def test_calibrate_retimes_every_step_without_scoring(tiny_dataset, workspace, tiny_cross_encoder, monkeypatch):
    spec = spec_for(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    with pytest.raises(CascadeError, match="score the cascade first"):
        exp.calibrate(5)
    exp.ensure_scores()
    store = workspace.store
    n_scores = [store.n_scores(sid) for sid in exp.plan.scorer_ids]
    n_costs = [len(store.costs(sid)) for sid in exp.plan.scorer_ids]
    report = exp.calibrate(6)
    assert [store.n_scores(sid) for sid in exp.plan.scorer_ids] == n_scores      # no new score
    assert report.calls["first pass"] == 6 and report.calls["cross-encoder"] == 9   # half the queries split in two
    assert [len(store.costs(sid)) for sid in exp.plan.scorer_ids] == [n + report.calls[name] for n, name in
                                                                      zip(n_costs, spec.stage_names)]
    for sid in exp.plan.scorer_ids:   # the latest recording carries each call's CPU time
        latest = store.cost_rows(sid)[0]
        assert np.isfinite(latest[5]) and latest[5] >= 0
    assert "Re-measured on 6 queries" in report.describe()


def hogs(n: int):
    """``n`` CPU-bound processes (``while True: pass``), stopped by the caller."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_a_prediction_from_a_busy_cpu_stays_near_the_quiet_one(tiny_dataset, workspace, tiny_cross_encoder):
    """Every timed call stores its wall time, CPU time, wait for a core, threads and load; the
    prediction (from the time the work ran) barely moves when busy processes run beside the timing,
    while the wall clock does. A loose bound: no absolute time is asserted."""
    spec = spec_for(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    exp.calibrate(12)
    store = workspace.store
    stored = store._conn().execute("SELECT seconds, cpu_s, wait_s, threads, load FROM costs "
                                   "ORDER BY rowid DESC LIMIT 1").fetchone()
    assert stored[0] > 0 and stored[1] >= 0 and stored[3] >= 1 and stored[4] is not None
    assert stored[2] is None or 0 <= stored[2] <= stored[0]   # NULL where the system does not report waits
    quiet = exp.run().latency
    busy_procs = hogs(2 * cores())   # twice the cores: every call has to wait for one
    try:
        time.sleep(0.5)
        exp.calibrate(12)
    finally:
        for p in busy_procs:
            p.kill()
            p.wait()
    busy = exp.run().latency
    if not waits_reported():   # (not Linux) the wall clock is all there is: said so, nothing predicted from it
        assert all(s.basis == "wall clock" for s in busy.stages)
        return
    assert all(s.basis == "quiet-equivalent" for s in busy.stages)
    assert busy.total_ms < 2.0 * quiet.total_ms and busy.total_ms > 0.5 * quiet.total_ms
    assert busy.wall_total_ms > busy.total_ms
    assert busy.busy_steps and "timed on a busy CPU" in " ".join(busy.notes)


def test_live_runs_and_the_predicted_tail_side_by_side(tiny_dataset, workspace, tiny_cross_encoder):
    spec = spec_for(tiny_cross_encoder)
    exp = Experiment(tiny_dataset, spec, workspace)
    exp.ensure_scores()
    tail = exp.run().latency.tail()
    measured = exp.measure_live(3)
    assert 0 < tail.p50 <= tail.p95 <= tail.p99 and tail.sum_of_medians > 0
    assert set(measured.total) == {"p50", "p95", "p99"} and measured.total["p95"] > 0
    # the warm-up run is apart and labelled; quiet-equivalent never exceeds the wall clock
    assert len(measured.warmup_ms) == 1 and measured.warmup_ms[0] > 0 and measured.queries == 3
    assert all(measured.quiet["total"][p] <= measured.wall["total"][p] + 1e-9 for p in ("p50", "p95", "p99"))
    assert "warm-up run" in measured.describe() and "load average" in measured.load_line()
