"""Cascade presets named after common production shapes, built from the models available offline.

No pretrained cross-encoder installs offline; presets with a cross-encoder stage use, in order:
the model named in ``CASCADE_CROSS_ENCODER`` (a hub id or folder, for online users); a student
distilled in the data folder on the current corpus; the student shipped with the sample
(``sample_data/models/``, trained on SciFact's train queries), which the sample's corpus was made
for; a student of another corpus (the pages say so); and only when none exists, a locally built,
*untrained* stand-in that measures latency honestly and ranks at random (the pages warn).

``cascade eval --preset NAME`` and the Build page read the same table:

>>> sorted(preset_names())[:2]
['bm25-bi-ce', 'cautionary']
>>> preset_spec("demo")["stages"][0]["scorer"]["kind"]
'bi-encoder'
"""

from __future__ import annotations

import copy
import os

from ..errors import SpecError
from ..fusion import NormSum
from ..home import cascade_home
from ..models.loading import build_tiny_cross_encoder
from ..models.students import newest_student
from ..scorers.dense import DEFAULT_BI_ENCODER
from .demo import CAUTIONARY_SPEC, DEMO_SPEC

CROSS_ENCODER_ENV = "CASCADE_CROSS_ENCODER"   # a hub id or folder the presets' cross-encoder should be
BI = DEFAULT_BI_ENCODER
CE = "<cross-encoder>"   # filled in by preset_spec, so that listing presets loads no model
STAND_IN_FOLDER = "untrained-tiny-cross-encoder"

DEMO_PRESET = "Demo: BM25 -> 100 -> bi-encoder fused with BM25 -> 20"
CAUTIONARY_PRESET = "Cautionary: BM25 -> 100 -> bi-encoder replacing BM25's order -> 20"
SEED_PRESET = "BM25 -> 1000 -> bi-encoder -> 100 -> cross-encoder -> 20"

# Preset title -> (short name for --preset, spec dict with the cross-encoder still a placeholder).
# The demo preset comes first, then the cautionary one: the same stage replacing BM25's order
# instead of fusing with it, which ranks worse than BM25 alone on the sample (the doctor's
# harmful-stage check finds it).
_PRESETS: dict[str, tuple[str, dict]] = {
    DEMO_PRESET: ("demo", DEMO_SPEC),
    CAUTIONARY_PRESET: ("cautionary", CAUTIONARY_SPEC),
    # The production shape, each stage fused with the score it receives by the rules fixed before
    # the sample was looked at: MiniLM with BM25 as the demo (chosen on SciFact train), the
    # cross-encoder as its distillation report fuses it (norm-sum 0.5).
    SEED_PRESET: ("bm25-bi-ce", {
        "name": "bm25-bi-ce", "first_pass": {"kind": "bm25"}, "pool_size": 1000,
        "stages": [{"scorer": {"kind": "bi-encoder", "model": BI}, "keep": 100, **NormSum(weight=0.5).to_spec()},
                   {"scorer": {"kind": "cross-encoder", "model": CE}, "keep": 20, **NormSum(weight=0.5).to_spec()}],
        "final_k": 10}),
    "Hybrid -> 500 -> cross-encoder -> 30": ("hybrid-ce", {
        "name": "hybrid-ce", "first_pass": {"kind": "hybrid", "model": BI}, "pool_size": 500,
        "stages": [{"scorer": {"kind": "cross-encoder", "model": CE}, "keep": 30}], "final_k": 10}),
    "Dense -> 200 -> cross-encoder -> 10": ("dense-ce", {
        "name": "dense-ce", "first_pass": {"kind": "dense", "model": BI}, "pool_size": 200,
        "stages": [{"scorer": {"kind": "cross-encoder", "model": CE}, "keep": 10}], "final_k": 10}),
}

# What a preset is for, shown under the preset box (numbers: `cascade demo`, `cascade doctor`).
PRESET_NOTES = {
    DEMO_PRESET: "The demo: MiniLM's score fused with BM25's (norm-sum 0.5). On the bundled sample it beats BM25 "
                 "alone: nDCG@10 0.737 against 0.691.",
    CAUTIONARY_PRESET: "The cautionary example: the same MiniLM stage *replacing* BM25's order ranks worse than BM25 "
                       "alone on the sample (nDCG@10 0.682 against 0.691). Apply it and open Compare & doctor: the "
                       "doctor flags the stage and simulates the fix.",
    SEED_PRESET: "The production shape, each stage fused with the score it receives (norm-sum 0.5). On the bundled "
                 "sample, with the student shipped with it: nDCG@10 0.787 against BM25's 0.691. The student reads "
                 "every pair (about 2 s a query for 100 pairs on 2 CPU cores): see its bar on Flow.",
}


def presets() -> dict[str, dict]:
    """Preset title -> spec dict (cross-encoder still a placeholder: nothing is loaded)."""
    return {title: copy.deepcopy(spec) for title, (_, spec) in _PRESETS.items()}


def preset_names() -> dict[str, str]:
    """Short name (``cascade eval --preset NAME``) -> preset title."""
    return {short: title for title, (short, _) in _PRESETS.items()}


def preset_title(name: str) -> str:
    """The preset a title or short name means (SpecError naming the choices otherwise)."""
    if name in _PRESETS:
        return name
    short = preset_names()
    if name in short:
        return short[name]
    raise SpecError(f"no preset {name!r}; presets: {', '.join(short)}")


def preset_spec(name: str, corpus: str | None = None) -> dict:
    """A preset's spec dict (title or short name), its cross-encoder resolved by
    :func:`cross_encoder_model` for ``corpus`` (a corpus fingerprint; None: any)."""
    spec = copy.deepcopy(_PRESETS[preset_title(name)][1])
    for stage in spec["stages"]:
        if stage["scorer"].get("model") == CE:
            stage["scorer"]["model"] = cross_encoder_model(corpus)[0]
    return spec


def cross_encoder_model(corpus: str | None = None) -> tuple[str, bool]:
    """The cross-encoder presets use, and whether it is the untrained stand-in (see the module's
    order). ``corpus``: the current dataset's corpus fingerprint, to prefer a student made for it."""
    chosen = os.environ.get(CROSS_ENCODER_ENV, "").strip()
    if chosen:
        return chosen, False
    student, _ = newest_student(corpus)
    if student is not None:
        return str(student.path), False
    return stand_in_cross_encoder(), True


def stand_in_cross_encoder() -> str:
    """The untrained stand-in's folder (built on first use)."""
    return build_tiny_cross_encoder(cascade_home() / "models" / STAND_IN_FOLDER)


def is_stand_in(model: str | None) -> bool:
    return bool(model) and STAND_IN_FOLDER in model
