"""What every doctor check returns: a :class:`Check` (its verdict) and, when flagged, a
:class:`Finding` (evidence and fix). Shared by the checks in this package.

>>> c = Check("harmful-stage", "Does bi-encoder rank better than its input?", "ok", "it does",
...           stage="bi-encoder")
>>> c.to_dict()["severity"], c.to_dict()["stage"]
('ok', 'bi-encoder')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import formats


@dataclass(frozen=True)
class Thresholds:
    pool_min_gain: float = 0.02      # recall still rising: +2 points between the pool and depth N
    pool_min_payoff: float = 0.5     # ... and the deeper pool lifts the final nDCG@10 or recall by 0.5 points
    gap_min_loss: float = 0.10       # cheap step drops >= 10% of the relevant documents it receives
    gap_min_ndcg: float = 0.05       # ... and the heavy stage ranks its candidates >= 5 points better


@dataclass(frozen=True)
class Finding:
    """One failure mode found: what, how sure, the numbers, and what to do."""

    kind: str                        # pool-too-small | quality-gap | latency-regression | score-scales | ...
    severity: str                    # "warning", or "info" where the evidence says it costs little
    title: str
    explanation: str
    evidence: dict = field(default_factory=dict)
    fix: str = ""
    stage: str | None = None         # the step it is about (None: the cascade as a whole)


@dataclass(frozen=True)
class Check:
    """One check's verdict, flagged or not, with a one-line reason."""

    kind: str
    title: str
    status: str                      # flagged | ok | not checked | not applicable
    summary: str
    finding: Finding | None = None
    evidence: dict = field(default_factory=dict)
    stage: str | None = None         # the step it is about (None: the cascade as a whole)

    @property
    def severity(self) -> str:
        """``warning`` or ``info`` for a finding (as it says), ``ok`` for a pass, ``info`` otherwise
        (not checked, not applicable: nothing wrong was seen, but nothing was shown right either)."""
        if self.finding is not None:
            return self.finding.severity
        return "ok" if self.status == "ok" else "info"

    def to_dict(self) -> dict:
        """The check for a JSON report: ``check``, ``severity``, ``stage``, ``status``, ``title``,
        ``summary``, ``evidence``, ``fix`` (empty unless flagged) and, when flagged, ``explanation``."""
        f = self.finding
        out = {"check": self.kind, "severity": self.severity, "stage": self.stage if f is None else (f.stage or self.stage),
               "status": self.status, "title": f.title if f else self.title, "summary": self.summary,
               "evidence": dict(f.evidence if f else self.evidence), "fix": f.fix if f else ""}
        if f is not None:
            out["explanation"] = f.explanation
        return out


def format_evidence(value, name: str = "") -> str:
    """An evidence value for people, in the format its name says (:mod:`cascade_core.formats`):
    recalls and shares as percentages, points signed with one decimal, milliseconds as latencies,
    p-values with two digits, metrics (nDCG@10 ...) with three decimals, counts as counts.

    >>> format_evidence(0.1234, "share dropped"), format_evidence(12.345, "gap (points)"), format_evidence(7)
    ('12.3%', '+12.3', '7')
    >>> format_evidence(0.65, "nDCG@10 in"), format_evidence(32.67, "cascade ms"), format_evidence(1.2e-8, "Wilcoxon p")
    ('0.650', '33 ms', '1.2e-08')
    """
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return formats.UNKNOWN
    words = name.lower()
    if "share" in words or words.startswith("recall"):
        return formats.share(value)
    if "points" in words:
        return formats.change(value, unit="")
    if words.endswith(" ms") or words == "ms":
        return formats.ms(value)
    if words.endswith(" p") or words.startswith("p ") or words == "p":
        return formats.p_value(value, prefix=False)
    if value.is_integer():
        return formats.count(value)
    return formats.metric(value) if abs(value) < 10 else f"{value:,.3g}"
