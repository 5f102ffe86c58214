"""The doctor's ``latency-regression`` check: a cascade no faster than its single-pass baseline.

**Latency regression** (``latency-regression``): the cascade predicted to cost as much as, or
more than, its single-pass baseline (the heaviest stage over the whole pool, see
:func:`cascade_core.analysis.compare.baseline_spec`). Needs every step's cost measured; not applicable to
a first pass and one stage, which *is* its single-pass baseline. Fix: drop the stages before
the heavy one or cut harder before it.
"""

from __future__ import annotations

from ..analysis.compare import baseline_spec, heaviest_stage, list_lengths, models_for, predicted_latency
from ..cascade.simulate import CascadeRun
from ..latency.model import CostModel
from .findings import Check, Finding
from .registry import register_check

KIND, TITLE = "latency-regression", "Latency against a single pass"


def check_latency(run: CascadeRun, cost_models: list[CostModel]) -> Check:
    kind, title = KIND, TITLE
    spec = run.spec
    if len(spec.stages) < 2:
        return Check(kind, title, "not applicable",
                     "a first pass and one stage costs what its single pass costs (the same stage over the same "
                     "pool): no latency to save; the single-pass table compares their quality only (the stage "
                     "as configured against the stage ranking by its own score)")
    if len(cost_models) < len(spec.stage_names) or not all(m.known for m in cost_models):
        return Check(kind, title, "not checked", "some step has no measured cost yet: score it once to measure it")
    lengths = list_lengths(run.matrix)
    h = heaviest_stage(spec, cost_models)
    base = baseline_spec(spec, cost_models)
    cascade = predicted_latency(spec, cost_models, lengths)
    single = predicted_latency(base, models_for(base, spec, cost_models), lengths)
    heavy = spec.stages[h].name
    heavy_in_cascade = cascade.stages[h + 1].predicted_ms
    heavy_alone = single.stages[1].predicted_ms
    others = [s for s in cascade.stages[1:] if s.name != heavy]
    others_ms = sum(s.predicted_ms for s in others)
    ev = {"cascade ms": cascade.total_ms, "single pass ms": single.total_ms,
          "ratio": cascade.total_ms / single.total_ms if single.total_ms else float("nan"),
          "heavy stage": heavy, f"{heavy} ms in the cascade": heavy_in_cascade,
          f"{heavy} ms over the whole pool": heavy_alone,
          "saved on the heavy stage ms": heavy_alone - heavy_in_cascade,
          "other stages ms": others_ms}
    if cascade.total_ms < single.total_ms:
        return Check(kind, title, "ok", f"the cascade is predicted at {cascade.total_ms:.1f} ms per query, "
                     f"{ev['ratio']:.2f} x the single pass ({single.total_ms:.1f} ms)", evidence=ev)
    names = ", ".join(s.name for s in others)
    before = [s.name for s in spec.stages[:h]]
    finding = Finding(
        kind, "warning", f"Latency regression: the cascade costs {cascade.total_ms:.1f} ms, the single pass "
        f"{single.total_ms:.1f} ms",
        f"Running {heavy} over the whole pool of {spec.pool_size} is predicted at {heavy_alone:.1f} ms; the cascade "
        f"saves {heavy_alone - heavy_in_cascade:.1f} ms of it but spends {others_ms:.1f} ms on {names}.", ev,
        (f"Cut harder before {heavy} (it receives {cascade.stages[h + 1].n_pairs:.0f} candidates) or drop "
         f"{', '.join(before)}: " if before else f"Drop {names}: ")
        + f"the single pass ({base.describe()}) is faster.")
    return Check(kind, title, "flagged", finding.title, finding, ev)


@register_check(KIND, TITLE, order=50, needs_relevance=False)
def _registered(ctx):
    return check_latency(ctx.run, ctx.cost_models)
