"""Cascade specs, pure simulation over stored scores, and live end-to-end runs."""

from .live import LiveResult, LiveStep, live_run
from .simulate import CascadeRun, ScoreMatrix, StageResult, simulate
from .spec import COMBINES, MAX_STAGES, CascadeSpec, StageSpec, parse_first_pass, parse_stage

__all__ = ["COMBINES", "MAX_STAGES", "CascadeRun", "CascadeSpec", "LiveResult", "LiveStep", "ScoreMatrix",
           "StageResult", "StageSpec", "live_run", "parse_first_pass", "parse_stage", "simulate"]
