"""The presets as a dashboard session sees them: resolved for the session's dataset, and the line
that names the student behind a cross-encoder (the table itself: :mod:`cascade_core.cascade.presets`).
"""

from __future__ import annotations

from cascade_core.cascade import presets as core
from cascade_core.cascade.presets import CAUTIONARY_PRESET, DEMO_PRESET, PRESET_NOTES, is_stand_in, presets
from cascade_core.models.students import student_note

from . import session

__all__ = ["CAUTIONARY_PRESET", "DEMO_PRESET", "PRESET_NOTES", "cross_encoder_model", "current_corpus",
           "is_stand_in", "preset_spec", "presets", "student_note"]


def current_corpus() -> str | None:
    """This session's dataset's corpus fingerprint (None outside a session or with no dataset)."""
    try:
        ds = session.dataset()
    except Exception:  # noqa: BLE001 - no Streamlit session (a script, a test): no dataset
        return None
    return ds.corpus.fingerprint if ds is not None else None


def preset_spec(name: str, corpus: str | None = None) -> dict:
    """:func:`cascade_core.cascade.presets.preset_spec` for this session's dataset by default."""
    return core.preset_spec(name, corpus if corpus is not None else current_corpus())


def cross_encoder_model(corpus: str | None = None) -> tuple[str, bool]:
    """:func:`cascade_core.cascade.presets.cross_encoder_model` for this session's dataset by default."""
    return core.cross_encoder_model(corpus if corpus is not None else current_corpus())
