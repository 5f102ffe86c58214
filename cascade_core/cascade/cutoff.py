"""Query-adaptive cut-offs: how many candidates a stage keeps, decided per query from its scores.

A stage's cut-off is ``keep: N`` (a fixed count) or one of two adaptive rules, always bounded by
a minimum and a maximum count (the maximum is the stage's ``keep``, the width every later step and
the latency bound see):

* ``score`` -- keep candidates scoring at least ``value`` (an absolute threshold, as Qdrant's
  ``score_threshold``);
* ``drop`` -- keep candidates within ``value`` of the query's top score, ``score >= top - value``
  (in the spirit of Vespa's ``rank-score-drop-limit``, taken relative to the query's best).

Thresholds on raw scores only mean something for calibrated scores (cross-encoder logits are not;
cosine similarities drift from query to query), so ``scale: norm`` applies the rule to the stage's
combined score min-max normalised per query over the candidates it received -- the normalisation
``norm-sum`` fusion uses (:func:`cascade_core.fusion.minmax`): the top is 1, the bottom 0.

Like every cut-off it is simulated from stored scores (no model call): the scores exist for every
candidate a stage receives, only the count it keeps changes.

>>> import numpy as np
>>> c = Cutoff("drop", 0.25, min_keep=1, scale="norm")
>>> scores = np.array([[9.0, 8.0, 2.0, 1.0], [5.0, 4.9, 4.8, 4.7]])   # best first, per query
>>> c.counts(scores, np.ones((2, 4), bool), max_keep=3).tolist()     # normalised: 1, .88 | 1, .67
[2, 1]
>>> Cutoff("drop", 0.25).counts(scores, np.ones((2, 4), bool), max_keep=3).tolist()   # raw: at most 3
[1, 3]
>>> c.label(3), c.to_dict(3)
('drop 0.25 (norm), 1-3', {'drop': 0.25, 'min': 1, 'max': 3, 'scale': 'norm'})
>>> Cutoff.parse("score=0.5,min=2,max=20")
(Cutoff(mode='score', value=0.5, min_keep=2, scale='raw'), 20)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..numbers import whole_number
from ..fusion import minmax

MODES = ("score", "drop")       # the adaptive rules ("keep: N" is the fixed one, no Cutoff)
SCALES = ("raw", "norm")
_KEYS = {"score", "drop", "min", "max", "scale"}


@dataclass(frozen=True)
class Cutoff:
    """An adaptive cut-off rule; the maximum count is the stage's ``keep``."""

    mode: str                 # "score" | "drop"
    value: float
    min_keep: int = 1
    scale: str = "raw"        # "raw": the stage's combined score as it is; "norm": min-max per query

    def __post_init__(self):
        if self.mode not in MODES:
            raise SpecError(f"an adaptive cut-off is one of {', '.join(MODES)}, not {self.mode!r}")
        if self.scale not in SCALES:
            raise SpecError(f"cut-off scale must be one of {', '.join(SCALES)}, not {self.scale!r}")
        if self.mode == "drop" and not self.value >= 0:
            raise SpecError(f"a drop cut-off must be >= 0 (how far below the top score), not {self.value!r}")
        if self.scale == "norm" and not (self.mode == "drop" or 0 <= self.value <= 1):
            raise SpecError(f"a normalised score threshold lies between 0 and 1, not {self.value!r}")
        if isinstance(self.min_keep, bool) or not isinstance(self.min_keep, int) or self.min_keep < 1:
            raise SpecError(f"a cut-off's min must be a whole number >= 1, not {self.min_keep!r}")

    def counts(self, scores: np.ndarray, valid: np.ndarray, max_keep: int) -> np.ndarray:
        """``[Q]`` how many candidates each query keeps. ``scores``: the stage's combined scores,
        sorted best first per row (as the simulation orders them); ``valid``: False on padding."""
        s = minmax(scores, valid) if self.scale == "norm" else scores
        if self.mode == "score":
            passing = valid & (s >= self.value)
        else:
            top = np.where(valid, s, -np.inf).max(axis=1, keepdims=True)
            passing = valid & (s >= top - self.value)
        # Rows are sorted best first, so the passing candidates are a prefix: count them.
        n = passing.sum(axis=1)
        return np.minimum(np.clip(n, min(self.min_keep, max_keep), max_keep), valid.sum(axis=1))

    def label(self, max_keep: int) -> str:
        """Short: ``drop 0.2 (norm), 5-100`` or ``score >= 0.5, 5-100``."""
        rule = f"drop {self.value:g}" if self.mode == "drop" else f"score >= {self.value:g}"
        scale = " (norm)" if self.scale == "norm" else ""
        return f"{rule}{scale}, {self.min_keep}-{max_keep}"

    def to_dict(self, max_keep: int) -> dict:
        """As the spec's ``keep:`` mapping (see :meth:`from_dict`)."""
        return {self.mode: self.value, "min": self.min_keep, "max": max_keep, "scale": self.scale}

    def compact(self, max_keep: int) -> str:
        """As the CLI's ``--stage KIND:MODEL@...`` writes it (see :meth:`parse`)."""
        return f"{self.mode}={self.value:g},min={self.min_keep},max={max_keep}" + (
            ",scale=norm" if self.scale == "norm" else "")

    @classmethod
    def from_dict(cls, data: dict, where: str, default_max: int | None = None) -> tuple["Cutoff", int]:
        """``{drop: 0.2, min: 5, max: 100, scale: norm}`` (or ``score:``) -> (rule, max count).

        ``max`` may be left out where ``default_max`` is given (the count the stage receives).
        """
        unknown = set(data) - _KEYS
        if unknown:
            raise SpecError(f"{where}: unknown cut-off key(s) {', '.join(sorted(map(str, unknown)))}; "
                            f"known: {', '.join(sorted(_KEYS))}")
        modes = [m for m in MODES if m in data]
        if len(modes) != 1:
            raise SpecError(f"{where}: an adaptive cut-off needs exactly one of score: or drop: "
                            "(e.g. keep: {drop: 0.2, min: 5, max: 100})")
        if "max" not in data and default_max is None:
            raise SpecError(f"{where}: an adaptive cut-off needs a max (the most candidates it may keep)")
        mode = modes[0]
        try:
            value = float(data[mode])
        except (TypeError, ValueError):
            raise SpecError(f"{where}: {mode} must be a number, not {data[mode]!r}") from None
        min_keep = _count(data.get("min", 1), f"{where} min")
        max_keep = _count(data.get("max", default_max), f"{where} max")
        if min_keep > max_keep:
            raise SpecError(f"{where}: min={min_keep} is larger than max={max_keep}")
        try:
            return cls(mode, value, min_keep, str(data.get("scale", "raw"))), max_keep
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None

    @classmethod
    def parse(cls, text: str, where: str = "cut-off") -> tuple["Cutoff", int]:
        """The compact form ``drop=0.2,min=5,max=100[,scale=norm]`` (or ``score=...``)."""
        data = {}
        for part in text.split(","):
            key, eq, value = part.partition("=")
            if not eq:
                raise SpecError(f"{where} {text!r}: expected KEY=VALUE parts, e.g. drop=0.2,min=5,max=100")
            data[key.strip()] = value.strip()
        return cls.from_dict(data, f"{where} {text!r}")


def _count(value, what: str) -> int:
    return whole_number(value, what, minimum=1)
