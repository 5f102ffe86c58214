"""The one-click demo: sample data, the demo preset, and every score its sliders can need; and the
three-stage preset with the shipped cross-encoder, when its scores ship with the sample.

What the click waits for is only the demo's own scores: the model libraries are imported in the
background as soon as the first page shows (:func:`warm_up`), the demo's model loads (and, in a
fresh data folder, exports to ONNX) beside the first pass, and the three-stage preset's scores are
prepared later, in the background, in a pause after Build is opened, at the lowest CPU priority
(:func:`prepare_three_stage_preset`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time

import streamlit as st

from cascade_core.cascade import CascadeSpec
from cascade_core.cascade.presets import SEED_PRESET
from cascade_core.models.fast_encoder import exports_elsewhere
from cascade_core.store.shipped import find_shipped_scores

from . import access, session, state
from .presets import DEMO_PRESET, preset_spec

DEMO_MAX_POOL = 1000
SEED_PENDING = "demo-seed-pending"   # session key: the demo ran; its three-stage preset is prepared when Build opens


def pool_slider_max(pool_size: int) -> int:
    """The pool sliders' right end: the demo's scored depth, or further if a loaded spec asks
    for more (a slider whose value lies past its end is an error, not a clamp).

    >>> pool_slider_max(200), pool_slider_max(2500)
    (1000, 2500)
    """
    return max(DEMO_MAX_POOL, pool_size)


_started: dict[str, threading.Thread] = {}   # background work of this process, by name: once each
_lock = threading.Lock()


IDLE_S = 2.0   # low-priority work starts once no page has run for this long


def in_background(name: str, work, low_priority: bool = False) -> threading.Thread:
    """Run ``work()`` in a daemon thread, once per process and ``name`` (a second call returns the
    first thread). Errors are left to the foreground: whatever failed here is done again there,
    where its error is shown. ``low_priority``: the work waits for a pause (no page run for
    :data:`IDLE_S`), and then yields the CPU to everything else (Linux: nice 19 for this thread and
    the threads it starts, such as ONNX Runtime's): one Python process shares one interpreter lock,
    so work beside a page's run slows it whatever its priority; the longest hold of it, a model's
    ONNX export (seconds: a slider move after a pause on Build took 1.5 s), goes to a child process
    (:func:`~cascade_core.models.fast_encoder.exports_elsewhere`)."""
    def run():
        if low_priority:
            while session.idle_s() < IDLE_S:
                time.sleep(0.25)
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except (AttributeError, OSError):   # not Linux: the same work at normal priority
                pass
        try:
            with exports_elsewhere() if low_priority else contextlib.nullcontext():
                work()
        except Exception:  # noqa: BLE001, S110 - done again, and reported, in the foreground
            pass

    with _lock:
        if name not in _started:
            _started[name] = threading.Thread(target=run, name=f"cascade-{name}", daemon=True)
            _started[name].start()
        return _started[name]


def _import_model_libraries() -> None:
    importlib.import_module("sentence_transformers")   # torch and transformers with it: the slow imports
    state.settle_heap()   # some 300,000 objects for good: out of the garbage collector's way


def warm_up() -> None:
    """Import the model libraries (torch, transformers, sentence-transformers: seconds) in the
    background, once per server process, so that the demo's first model load does not wait for
    them. Called by the first page; a read-only dashboard loads no model for the demo."""
    if not access.read_only():
        in_background("import-models", _import_model_libraries)


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
    with access.job_slot("preparing the demo"), \
            container.status("Preparing the demo: indexing the sample and scoring (first time only)...",
                             expanded=True) as status:
        if not exp.estimate(deepest).empty:
            # The stage's model (imports, weights, the ONNX export in a fresh data folder: the
            # longest part) loads beside the first pass; scoring then finds it loaded (models are
            # cached per process, and a load in progress is waited for, not repeated).
            plan = exp.plan.with_spec(deepest)
            in_background(f"load-models-{spec.scorer_key()}",
                          lambda: [scorer.load_model() for scorer in plan.scorers])
        exp.ensure_scores(deepest, progress=state.progress_callback(status))
        state.settle_heap()   # the index, the model: loaded for good
        status.update(label="Demo ready: every score is stored", state="complete", expanded=False)
    if not access.read_only():
        st.session_state[SEED_PENDING] = True   # prepared once Build, which offers it, is opened
    return spec


def prepare_three_stage_preset() -> None:
    """After the demo, when Build (which offers the preset) is opened: the three-stage preset's
    cross-encoder is loaded and its shipped scores checked and imported in the background, once
    per server, in the first pause and at the lowest priority (nothing is done when all is
    stored), so that the preset applies at once a little later. Not in the demo's ready time, and
    no work for a visitor who never opens Build. Applied before that is done, the preset scores as
    any cascade does, waiting for this work rather than repeating it."""
    if not st.session_state.pop(SEED_PENDING, False) or state.dataset() is None:
        return
    seed = three_stage_preset()
    if seed is None:
        return
    seed_exp = state.experiment(seed)
    in_background(f"prepare-{seed.scorer_key()}", lambda: seed_exp.ensure_scores(seed), low_priority=True)


def three_stage_preset() -> CascadeSpec | None:
    """Seed 001's shape (BM25 -> 1000 -> MiniLM -> 100 -> cross-encoder -> 20) when its
    cross-encoder's scores ship with the sample (then preparing it costs a few seconds: the first
    queries are scored to check the file), else None: a sample without them (a test's, a user's
    own) is not made to wait minutes for a stage the demo does not show."""
    seed = CascadeSpec.from_dict(preset_spec(SEED_PRESET))
    ce = state.experiment(seed).plan.scorers[-1]
    return seed if find_shipped_scores(state.dataset().corpus, ce.id)[0] is not None else None
