"""Cascade presets named after common production shapes, built from the models available offline.

No pretrained cross-encoder installs offline; presets with a cross-encoder stage use the model
named in ``CROSS_ENCODER_ENV`` (a hub id or folder, for online users), else the newest student
distilled here (``cascade distill`` or the Build page; one trained on the current dataset's
corpus first), else a locally built, *untrained* stand-in that measures latency honestly and
ranks at random. The UI says which, and how a student was trained.
"""

from __future__ import annotations

import os

from cascade_core.cascade.demo import CAUTIONARY_SPEC, DEMO_SPEC
from cascade_core.distill.registry import newest_student, read_student
from cascade_core.home import cascade_home
from cascade_core.models.loading import build_tiny_cross_encoder
from cascade_core.scorers.dense import DEFAULT_BI_ENCODER

from . import session
from .access import CROSS_ENCODER_ENV

BI = DEFAULT_BI_ENCODER


def stand_in_cross_encoder() -> str:
    return build_tiny_cross_encoder(cascade_home() / "models" / "untrained-tiny-cross-encoder")


def cross_encoder_model(corpus: str | None = None) -> tuple[str, bool]:
    """The cross-encoder presets use, and whether it is the untrained stand-in.

    ``corpus``: the current dataset's corpus fingerprint (default: this session's dataset's),
    to prefer a student distilled on it; a student of another corpus is used when none is.
    """
    chosen = os.environ.get(CROSS_ENCODER_ENV)
    if chosen:
        return chosen, False
    student, _ = newest_student(corpus if corpus is not None else current_corpus())
    if student is not None:
        return str(student.path), False
    return stand_in_cross_encoder(), True


def current_corpus() -> str | None:
    """This session's dataset's corpus fingerprint (None outside a session or with no dataset)."""
    try:
        ds = session.dataset()
    except Exception:  # noqa: BLE001 - no Streamlit session (a script, a test): no dataset
        return None
    return ds.corpus.fingerprint if ds is not None else None


def is_stand_in(model: str | None) -> bool:
    return bool(model) and "untrained-tiny-cross-encoder" in model


def student_note(model: str | None, corpus: str | None = None) -> str | None:
    """A line naming a distilled student and how it was trained, or None for another model.

    ``corpus``: the current dataset's corpus fingerprint; a student trained on another corpus
    is said to be so.
    """
    student = read_student(model) if model else None
    if student is None:
        return None
    note = f"Cross-encoder: {student.describe()}."
    teacher, first = student.held_out("teacher"), student.held_out("first pass")
    if teacher is not None and first is not None:
        note += f" (Teacher {teacher:.3f}, first pass alone {first:.3f}, on the same held-out queries.)"
    if corpus is not None and student.corpus not in (None, corpus):
        note += (f" It was trained on another collection ({student.info.get('dataset', {}).get('name', '?')}); "
                 "distil one on this dataset for numbers that mean something here.")
    return note


CE = "<cross-encoder>"  # filled in by preset_spec, so that listing presets loads no model


def presets() -> dict[str, dict]:
    """Preset name -> spec dict (cross-encoder still a placeholder). The demo preset comes first,
    then the cautionary one: the same stage replacing BM25's order instead of fusing with it,
    which ranks worse than BM25 alone on the sample (the doctor's harmful-stage check finds it)."""
    import copy

    out = {DEMO_PRESET: copy.deepcopy(DEMO_SPEC), CAUTIONARY_PRESET: copy.deepcopy(CAUTIONARY_SPEC)}
    ce = CE
    out.update({
        "BM25 -> 1000 -> bi-encoder -> 100 -> cross-encoder -> 20": {
            "name": "bm25-bi-ce", "first_pass": {"kind": "bm25"}, "pool_size": 1000,
            "stages": [{"scorer": {"kind": "bi-encoder", "model": BI}, "keep": 100},
                       {"scorer": {"kind": "cross-encoder", "model": ce}, "keep": 20}], "final_k": 10},
        "Hybrid -> 500 -> cross-encoder -> 30": {
            "name": "hybrid-ce", "first_pass": {"kind": "hybrid", "model": BI},
            "pool_size": 500, "stages": [{"scorer": {"kind": "cross-encoder", "model": ce}, "keep": 30}],
            "final_k": 10},
        "Dense -> 200 -> cross-encoder -> 10": {
            "name": "dense-ce", "first_pass": {"kind": "dense", "model": BI}, "pool_size": 200,
            "stages": [{"scorer": {"kind": "cross-encoder", "model": ce}, "keep": 10}], "final_k": 10},
    })
    return out


def preset_spec(name: str, corpus: str | None = None) -> dict:
    """A preset's spec dict with its cross-encoder resolved (built on first use if a stand-in;
    a distilled student when there is one: :func:`cross_encoder_model`)."""
    import copy

    spec = copy.deepcopy(presets()[name])
    for st in spec["stages"]:
        if st["scorer"].get("model") == CE:
            st["scorer"]["model"] = cross_encoder_model(corpus)[0]
    return spec


DEMO_PRESET = "Demo: BM25 -> 100 -> bi-encoder fused with BM25 -> 20"
CAUTIONARY_PRESET = "Cautionary: BM25 -> 100 -> bi-encoder replacing BM25's order -> 20"
# What a preset is for, shown under the preset box (numbers: `cascade demo`, `cascade doctor`).
PRESET_NOTES = {
    DEMO_PRESET: "The demo: MiniLM's score fused with BM25's (norm-sum 0.5). On the bundled sample it beats BM25 "
                 "alone: nDCG@10 0.737 against 0.691.",
    CAUTIONARY_PRESET: "The cautionary example: the same MiniLM stage *replacing* BM25's order ranks worse than BM25 "
                       "alone on the sample (nDCG@10 0.682 against 0.691). Apply it and open Compare & doctor: the "
                       "doctor flags the stage and simulates the fix.",
}
