"""The doctor's checks, registered by the module that holds each: run in their declared order.

A check is one module with a function registered here (:func:`register_check`): its kind, its
title, its place in the report and whether it needs relevance judgments (without them it is "not
checked", said once, by the registry). A new check is one new module in this package, found by
importing it (the package's ``__init__`` imports every module); nothing else is edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..analysis.evaluation import Relevance
from ..cascade.simulate import CascadeRun
from ..latency.model import CostModel
from .findings import Check, Finding, Thresholds


@dataclass(frozen=True)
class CheckContext:
    """What every check may read: one simulated run, its judgments (or None), each step's cost
    model, the thresholds."""

    run: CascadeRun
    relevance: Relevance | None
    cost_models: list[CostModel]
    thresholds: Thresholds


@dataclass(frozen=True)
class RegisteredCheck:
    kind: str
    title: str
    order: int
    needs_relevance: bool
    run: Callable[[CheckContext], "Check | list[Check]"]


_CHECKS: dict[str, RegisteredCheck] = {}


def register_check(kind: str, title: str, order: int, needs_relevance: bool = True):
    """Decorator: ``fn(ctx) -> Check | list[Check]`` is the check ``kind``, run at ``order``."""
    def deco(fn):
        _CHECKS[kind] = RegisteredCheck(kind, title, order, needs_relevance, fn)
        return fn
    return deco


def registered_checks() -> list[RegisteredCheck]:
    return sorted(_CHECKS.values(), key=lambda c: c.order)


def run_checks(run: CascadeRun, relevance: Relevance | None, cost_models: list[CostModel],
               thresholds: Thresholds = Thresholds(), extra: list[Check] | None = None) -> list[Check]:
    """Every registered check's verdict, in their order, then ``extra`` (checks that need more than
    the run, such as the provenance of the stored scores: :func:`.provenance.experiment_checks`)."""
    ctx = CheckContext(run, relevance, cost_models, thresholds)
    checks: list[Check] = []
    for check in registered_checks():
        if check.needs_relevance and relevance is None:
            checks.append(Check(check.kind, check.title, "not checked", "needs relevance judgments: this dataset has none"))
            continue
        result = check.run(ctx)
        checks.extend(result if isinstance(result, list) else [result])
    checks.extend(extra or [])
    return checks


def diagnose(run: CascadeRun, relevance: Relevance | None, cost_models: list[CostModel],
             thresholds: Thresholds = Thresholds(), extra: list[Check] | None = None) -> list[Finding]:
    """The failure modes present in ``run`` (an empty list for a healthy cascade)."""
    return [c.finding for c in run_checks(run, relevance, cost_models, thresholds, extra) if c.finding]


SEVERITY_ORDER = {"warning": 0, "info": 1, "ok": 2}
STATUS_ORDER = {"flagged": 0, "ok": 1, "not checked": 2, "not applicable": 3}


def by_severity(checks: list[Check]) -> list[Check]:
    """Warnings first, then notes, passes, not checked, not applicable (stable within each):
    the finding that matters must not sit below a list of passes.

    >>> [c.status for c in by_severity([Check("a", "A", "ok", ""), Check("b", "B", "not applicable", ""),
    ...                                  Check("c", "C", "flagged", "", Finding("c", "warning", "C", ""))])]
    ['flagged', 'ok', 'not applicable']
    """
    return sorted(checks, key=lambda c: (STATUS_ORDER.get(c.status, 9) if c.finding is None
                                         else -1 + SEVERITY_ORDER.get(c.finding.severity, 1) / 10))
