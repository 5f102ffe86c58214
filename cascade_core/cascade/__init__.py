"""Cascade specs, pure simulation over stored scores, and live end-to-end runs.

Imports ``fusion``, ``latency`` (cost profiles) and the scorer registry (to check a spec's kinds),
never a model: :func:`simulate` is pure NumPy over a :class:`ScoreMatrix`.
"""

from .cutoff import Cutoff
from .live import LiveResult, LiveStep, live_run
from .simulate import CascadeRun, ScoreMatrix, StageResult, kept_counts, simulate
from .spec import (MAX_STAGES, CascadeSpec, StageSpec, clamp_cutoffs, keep_within, parse_first_pass,
                   parse_stage)

__all__ = ["clamp_cutoffs", "keep_within", "MAX_STAGES", "CascadeRun", "Cutoff", "kept_counts", "CascadeSpec", "LiveResult", "LiveStep", "ScoreMatrix",
           "StageResult", "StageSpec", "live_run", "parse_first_pass", "parse_stage", "simulate"]
