"""The one-click demo: sample data, the demo preset, and every score its sliders can need; and the
three-stage preset with the shipped cross-encoder, when its scores ship with the sample."""

from __future__ import annotations

from cascade_core.cascade import CascadeSpec
from cascade_core.cascade.presets import SEED_PRESET
from cascade_core.store.shipped import find_shipped_scores

from . import access, state
from .presets import DEMO_PRESET, preset_spec

DEMO_MAX_POOL = 1000


def pool_slider_max(pool_size: int) -> int:
    """The pool sliders' right end: the demo's scored depth, or further if a loaded spec asks
    for more (a slider whose value lies past its end is an error, not a clamp).

    >>> pool_slider_max(200), pool_slider_max(2500)
    (1000, 2500)
    """
    return max(DEMO_MAX_POOL, pool_size)


def run_demo(container) -> CascadeSpec:
    """Load the sample, apply the demo preset, and score deep enough that any slider position
    (pool up to 1000, any stage keep) simulates without a model call. A read-only dashboard runs
    it only when every score is stored already."""
    state.load_dataset(state.sample_path(), split="test", label="SciFact sample (bundled)")
    spec = state.set_spec(preset_spec(DEMO_PRESET))
    deepest = spec.with_keeps(pool_size=DEMO_MAX_POOL, keeps=[DEMO_MAX_POOL] * len(spec.stages),
                              final_k=spec.final_k)
    exp = state.experiment(spec)
    if access.read_only() and not exp.estimate(deepest).empty:
        access.refuse_if_read_only("score: the demo's scores are not all stored yet")
    seed = three_stage_preset()
    with access.job_slot("preparing the demo"), \
            container.status("Preparing the demo: indexing the sample and scoring (first time only)...",
                             expanded=True) as status:
        exp.ensure_scores(deepest, progress=state.progress_callback(status))
        if seed is not None:   # the production shape with the shipped cross-encoder, ready on Build
            state.experiment(seed).ensure_scores(seed, progress=state.progress_callback(status))
        status.update(label="Demo ready: every score is stored", state="complete", expanded=False)
    return spec


def three_stage_preset() -> CascadeSpec | None:
    """Seed 001's shape (BM25 -> 1000 -> MiniLM -> 100 -> cross-encoder -> 20) when its
    cross-encoder's scores ship with the sample (then preparing it costs a few seconds: the
    first queries are scored to check the file), else None: a sample without them (a test's, a
    user's own) is not made to wait minutes for a stage the demo does not show."""
    seed = CascadeSpec.from_dict(preset_spec(SEED_PRESET))
    ce = state.experiment(seed).plan.scorers[-1]
    return seed if find_shipped_scores(state.dataset().corpus, ce.id)[0] is not None else None
