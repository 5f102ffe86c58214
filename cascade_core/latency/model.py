"""Latency: a cost model per scorer, fitted on measured calls, and predicted budgets per stage.

Every timed call of a scorer is stored as (pairs, characters, seconds). The model is
``ms = fixed + per_pair * pairs`` fitted by non-negative least squares, which is what a stage
costs per query when it receives ``pairs`` candidates. The fit needs calls of more than one
size: scoring times a few queries' candidates in two parts of different sizes for that (see
:func:`cascade_core.latency.timing.calibration_parts`), because a stage that always receives the whole pool would otherwise give one
size only, and a per-query cost (encoding the query) would be mistaken for a per-pair one.

A first pass is fitted ``per_query``: BM25 and a vector search score or scan the whole corpus
whatever the pool size, so a smaller pool does not make it cheaper.

Each call is fitted on its *quiet-equivalent* time: its wall time less the time it waited for a
core (:mod:`cascade_core.latency.timing`), so a figure timed while other work kept the CPU busy
predicts what a quiet machine takes; a second fit on the wall clock stays beside it. Beyond the
fit, each model keeps what makes a figure trustworthy: the number of calls it was fitted on, the
spread of the calls around the fit (quantiles of measured / fitted ms, from which the tail of the
whole cascade is sampled: :meth:`LatencyReport.tail`), and how busy the CPU was (the share of the
time the work waited for a core, the load average): timings from a busy moment are flagged. A spec's cost profiles (:mod:`cascade_core.latency.profiles`:
user-set, or measured and scaled) are applied in one place, :func:`apply_profiles`, which every
prediction goes through (:func:`predict_spec_latency`); each figure says where it comes from.

>>> m = CostModel.fit("x", np.array([[10, 0, 0.011], [20, 0, 0.021], [40, 0, 0.041]]))
>>> round(m.fixed_ms, 3), round(m.per_pair_ms, 3), round(m.predict_ms(100), 1)
(1.0, 1.0, 101.0)
>>> fp = CostModel.fit("bm25", np.array([[100, 0, 0.012], [1000, 0, 0.013], [100, 0, 0.011]]), per_query=True)
>>> round(fp.predict_ms(10), 1), round(fp.predict_ms(1000), 1)
(12.0, 12.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import nnls

from .profiles import MEASURED, SCALED, USER, CostProfile
from .timing import busy_note, quiet_equivalent_s, quiet_parallelism, waits_reported

PERCENTILES = (50, 95, 99)
MEASURED_HERE = "measured here"
MEASURED_ON_RAY = "measured in Ray workers"   # timed where a cluster scored (cascade_core.scoring.on_ray)
MEASURED_SOURCES = (MEASURED_HERE, MEASURED_ON_RAY, "measured here and in Ray workers")
QUIET_EQUIVALENT = "quiet-equivalent"   # fitted on wall time less the wait for a core
WALL_CLOCK = "wall clock"               # fitted on wall time (no wait recorded with the calls)
RATIO_QUANTILES = np.linspace(0, 100, 21)   # the spread kept per model: every 5th percentile
MIN_CALLS = 20          # a model reads the latest recording, and older ones until it has this many calls
FEW_CALLS = 5           # fewer timed calls than this: the figure is flagged as thin


@dataclass(frozen=True)
class CostModel:
    """``ms = fixed + per_pair x pairs (+ per_call x requests)`` for one step, and where it comes from.

    ``ratios``: quantiles (:data:`RATIO_QUANTILES`) of measured / fitted ms over the calls it was
    fitted on, its spread; ``basis``: what the calls' times were (:data:`QUIET_EQUIVALENT` or
    :data:`WALL_CLOCK`); ``waited``: the share of the calls' wall time spent waiting for a core;
    ``load``: the load average while timed; ``wall``: the same calls fitted on the wall clock;
    ``base``: the measured model a cost profile was applied to (:func:`apply_profile`).

    >>> m = CostModel("ce", 2.0, 0.5, 40, per_call_ms=100.0, pairs_per_call=20)
    >>> m.predict_ms(30)     # 2 + 0.5 x 30 + two requests of 100 ms
    217.0
    """

    scorer_id: str
    fixed_ms: float
    per_pair_ms: float
    n_calls: int
    source: str = MEASURED_HERE
    per_call_ms: float = 0.0
    pairs_per_call: int = 0
    ratios: tuple[float, ...] = ()
    basis: str = ""          # QUIET_EQUIVALENT or WALL_CLOCK for measured calls; "" for none
    waited: float = float("nan")
    load: float = float("nan")
    device: str = "cpu"      # where its calls were timed ("cuda:0 (NVIDIA ...)" on a GPU): said beside the figure
    profile: CostProfile | None = field(default=None, compare=False)
    base: "CostModel | None" = field(default=None, compare=False, repr=False)
    wall: "CostModel | None" = field(default=None, compare=False, repr=False)

    @classmethod
    def fit(cls, scorer_id: str, calls: np.ndarray, per_query: bool = False) -> "CostModel":
        """Fit on rows ``(n_pairs, n_chars, seconds)``.

        ``per_query``: the cost does not depend on the pairs (a first pass): the median call.
        With one call size only (costs stored before calibration), all cost is taken per pair:
        the cautious reading, which never predicts a deeper cut-off cheaper than it is.
        """
        calls = np.asarray(calls, dtype=float).reshape(-1, 3)
        if len(calls) == 0:
            return cls(scorer_id, float("nan"), float("nan"), 0)
        n, ms = calls[:, 0], calls[:, 2] * 1000.0
        if per_query:
            return cls(scorer_id, float(np.median(ms)), 0.0, len(calls))
        if len(np.unique(n)) < 2:
            per = float(np.median(ms / np.maximum(n, 1)))
            return cls(scorer_id, 0.0, per, len(calls))
        design = np.column_stack([np.ones_like(n), n])
        (fixed, per), _ = nnls(design, ms)
        # Calls slowed by something else on the machine (a busy CPU, a first-call warm-up) are
        # outliers, not costs: drop residuals beyond 3 MADs once and refit.
        resid = ms - design @ np.array([fixed, per])
        mad = np.median(np.abs(resid - np.median(resid))) or 1e-9
        keep = np.abs(resid - np.median(resid)) <= 3 * 1.4826 * mad
        if keep.sum() >= 2 and len(np.unique(n[keep])) >= 2:
            (fixed, per), _ = nnls(design[keep], ms[keep])
        return cls(scorer_id, float(fixed), float(per), len(calls))

    @classmethod
    def from_records(cls, scorer_id: str, rows: np.ndarray, per_query: bool = False,
                     min_calls: int = MIN_CALLS) -> "CostModel":
        """Fit on :meth:`ScoreStore.cost_rows` (newest first): the latest recording, and older
        ones until ``min_calls`` calls of more than one size (so a fresh ``cascade calibrate``
        decides the figure, and a recording of two queries does not); on the calls'
        quiet-equivalent times where every one has one (else the wall clock), with the spread of
        those calls around the fit, the wall-clock fit beside it, and how busy the CPU was.

        >>> nan = float("nan")      # (n_pairs, n_chars, wall s, recorded_at, quiet s, cpu s, load)
        >>> rows = np.array([[10, 0, 0.024, 2, 0.012, 0.02, 4.0], [20, 0, 0.044, 2, 0.022, 0.04, 4.0],
        ...                  [10, 0, 0.05, 1, nan, nan, nan]])
        >>> m = CostModel.from_records("x", rows, min_calls=2)
        >>> m.n_calls, round(m.per_pair_ms, 3), m.basis, round(m.wall.per_pair_ms, 3), round(m.waited, 2)
        (2, 1.0, 'quiet-equivalent', 2.0, 0.5)
        """
        rows = np.asarray(rows, dtype=float).reshape(-1, 7)
        if len(rows) == 0:
            return cls(scorer_id, float("nan"), float("nan"), 0)
        # The quiet-equivalent floored at the CPU time over the parallelism the step's quiet calls
        # show (all recordings kept: a busy recording is read with what quiet ones taught).
        rows = rows.copy()
        wait = rows[:, 2] - rows[:, 4]
        rows[:, 4] = quiet_equivalent_s(rows[:, 2], wait, rows[:, 5], quiet_parallelism(rows[:, 2], wait, rows[:, 5]))
        stamps = list(dict.fromkeys(rows[:, 3].tolist()))   # recordings, newest first
        take = len(rows)
        for i in range(1, len(stamps) + 1):
            chosen = np.isin(rows[:, 3], stamps[:i])
            if chosen.sum() >= min_calls and (per_query or len(np.unique(rows[chosen, 0])) >= 2):
                take = int(np.flatnonzero(chosen)[-1]) + 1
                break
        rows = rows[:take]
        wall_s, quiet_s = rows[:, 2], rows[:, 4]
        quiet = bool(np.isfinite(quiet_s).all())
        seconds = quiet_s if quiet else wall_s
        model = cls.fit(scorer_id, np.column_stack([rows[:, :2], seconds]), per_query=per_query)
        wall = cls.fit(scorer_id, rows[:, :3], per_query=per_query) if quiet else model
        fitted = np.array([model.predict_ms(n) for n in rows[:, 0]])
        with np.errstate(all="ignore"):
            ratio = seconds * 1000.0 / fitted
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        known = np.isfinite(quiet_s)
        waited = float((wall_s[known] - quiet_s[known]).sum() / wall_s[known].sum()) \
            if known.any() and wall_s[known].sum() > 0 else float("nan")
        loads = rows[:, 6][np.isfinite(rows[:, 6])]
        return replace(model, ratios=tuple(np.percentile(ratio, RATIO_QUANTILES).round(4)) if len(ratio) else (),
                       basis=QUIET_EQUIVALENT if quiet else WALL_CLOCK, waited=waited,
                       load=float(np.median(loads)) if len(loads) else float("nan"), wall=wall)

    @property
    def known(self) -> bool:
        return math.isfinite(self.fixed_ms) and math.isfinite(self.per_pair_ms)

    def calls_for(self, n_pairs):
        """Requests a batch API needs for ``n_pairs`` (0 without a per-call cost)."""
        if not self.pairs_per_call:
            return np.zeros_like(np.asarray(n_pairs, dtype=float))
        return np.ceil(np.asarray(n_pairs, dtype=float) / self.pairs_per_call)

    def predict_ms(self, n_pairs):
        """Predicted ms for a call of ``n_pairs`` (a number, or an array of them)."""
        n = np.asarray(n_pairs, dtype=float)
        ms = self.fixed_ms + self.per_pair_ms * n + self.per_call_ms * self.calls_for(n)
        return float(ms) if ms.ndim == 0 else ms

    @property
    def spread(self) -> tuple[float, float]:
        """(p10, p90) of measured / fitted over its calls: (1, 1) when it has none (a user-set cost)."""
        if not self.ratios:
            return (1.0, 1.0)
        return (float(np.interp(10, RATIO_QUANTILES, self.ratios)), float(np.interp(90, RATIO_QUANTILES, self.ratios)))

    def sample_ratios(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Random measured / fitted ratios drawn from its spread (all 1 without one)."""
        if not self.ratios:
            return np.ones(shape)
        return np.interp(rng.uniform(0, 100, shape), RATIO_QUANTILES, self.ratios)

    def wall_ms(self, n_pairs):
        """Predicted wall-clock ms for ``n_pairs`` as the calls were timed (busy CPU and all);
        the same as :meth:`predict_ms` when the calls had no quiet-equivalent."""
        return (self.wall or self).predict_ms(n_pairs)

    @property
    def busy(self) -> str | None:
        """The busy-CPU line for its calls, or None (see :func:`cascade_core.latency.timing.busy_note`)."""
        return busy_note(self.waited, self.load) if self.basis else None


def apply_profile(model: CostModel, profile: CostProfile | None) -> CostModel:
    """``model`` as ``profile`` prices it: the one place a profile meets a measured model.

    Applied to the measured model underneath (``model.base``), so applying twice changes nothing.

    >>> measured = CostModel("ce", 0.0, 2.0, 30, ratios=(0.5, 1.0, 2.0))
    >>> gpu = apply_profile(measured, CostProfile("scaled", factor=0.025))
    >>> gpu.per_pair_ms, gpu.source, apply_profile(gpu, gpu.profile) == gpu
    (0.05, 'measured x 0.025', True)
    >>> api = apply_profile(measured, CostProfile("user", per_call_ms=400, pairs_per_call=20))
    >>> api.predict_ms(50), api.source, api.ratios
    (1200.0, 'user-set: 400 ms per call of 20 pairs', ())
    """
    base = model.base or model
    profile = profile or CostProfile()
    if profile.kind == SCALED:
        f = profile.factor
        # scaled from the quiet-equivalent figure: how busy this CPU was says nothing of the target's
        return replace(base, fixed_ms=base.fixed_ms * f, per_pair_ms=base.per_pair_ms * f,
                       per_call_ms=base.per_call_ms * f, source=profile.describe(), profile=profile, base=base,
                       basis="", wall=None)
    if profile.kind == USER:
        return CostModel(base.scorer_id, profile.fixed_ms, profile.per_pair_ms, 0, source=profile.describe(),
                         per_call_ms=profile.per_call_ms, pairs_per_call=profile.pairs_per_call,
                         profile=profile, base=base, device=base.device)
    # the measured figure keeps its own source: "measured here", or where else it was timed (Ray workers)
    return replace(base, source=base.source or MEASURED_HERE, profile=profile if profile.kind == MEASURED else None,
                   base=None)


def apply_profiles(spec, models) -> list[CostModel]:
    """Each step's model priced by ``spec``'s cost profile for it (measured here by default)."""
    profiles = spec.cost_profiles if hasattr(spec, "cost_profiles") else {}
    return [apply_profile(m, profiles.get(name)) for name, m in zip(spec.stage_names, models)]


@dataclass(frozen=True)
class StageLatency:
    name: str
    n_pairs: float          # candidates the step scores per query
    predicted_ms: float     # NaN when the scorer has no recorded cost yet
    cumulative_ms: float
    over_budget: bool       # the cumulative time passes the budget at this step
    source: str = MEASURED_HERE      # where the figure comes from: "measured here", "user-set: ...", "measured x 0.025"
    low_ms: float = float("nan")     # p10 of the step's calls around the fit, at this many pairs
    high_ms: float = float("nan")    # p90
    n_calls: int = 0                 # timed calls the figure rests on (0 for a user-set one)
    usd_per_query: float = 0.0       # from the profile's prices (0 without)
    wall_ms: float = float("nan")    # the wall clock as the calls were timed (busy CPU and all)
    basis: str = ""                  # QUIET_EQUIVALENT, WALL_CLOCK, or "" (not measured here)
    busy: str | None = None          # the busy-CPU line of its calls (timing.busy_note), or None
    waited: float = float("nan")     # the share of its calls' wall time spent waiting for a core
    load: float = float("nan")       # the load average while they were timed

    @property
    def note(self) -> str | None:
        """Why this figure is not to be trusted as it is, or None (a busy CPU's timings are said
        even though the figure is their quiet-equivalent: that is an estimate)."""
        if not math.isfinite(self.predicted_ms):
            return "no recorded cost yet"
        if self.busy:
            return self.busy
        if self.basis == WALL_CLOCK and self.n_calls and waits_reported():
            return "wall clock: timed before waits for a core were recorded (re-measure with cascade calibrate)"
        if not self.source.startswith(MEASURED_SOURCES) or self.n_calls >= FEW_CALLS or self.n_calls == 0:
            return None
        return f"only {self.n_calls} timed calls"


@dataclass(frozen=True)
class TailLatency:
    """The whole cascade's predicted per-query latency distribution (:meth:`LatencyReport.tail`)."""

    p50: float
    p95: float
    p99: float
    sum_of_medians: float     # each step's median, added: what a per-step table suggests
    draws: int

    def to_dict(self) -> dict:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "sum_of_medians": self.sum_of_medians,
                "draws": self.draws}


@dataclass(frozen=True)
class LatencyReport:
    stages: list[StageLatency]
    budget_ms: float | None
    # What the tail is sampled from: pairs per step and query [steps, queries], and the models.
    pairs: np.ndarray | None = field(default=None, compare=False, repr=False)
    models: tuple = field(default=(), compare=False, repr=False)

    @property
    def total_ms(self) -> float:
        return self.stages[-1].cumulative_ms if self.stages else 0.0

    @property
    def within_budget(self) -> bool | None:
        return None if self.budget_ms is None else self.total_ms <= self.budget_ms

    @property
    def first_over_budget(self) -> str | None:
        return next((s.name for s in self.stages if s.over_budget), None)

    @property
    def wall_total_ms(self) -> float:
        """The total as the calls were timed, wall clock (a busy CPU's waits and all)."""
        return float(sum(s.wall_ms for s in self.stages if math.isfinite(s.wall_ms)))

    @property
    def busy_steps(self) -> list[str]:
        """The steps whose calls were timed on a busy CPU (their figures: quiet-equivalent)."""
        return [s.name for s in self.stages if s.busy]

    @property
    def notes(self) -> list[str]:
        """Why figures here are not to be trusted as they are, one line per reason (step names said).

        >>> busy = CostModel("f", 5, 0, 30, basis=QUIET_EQUIVALENT, waited=0.48, load=4.1)
        >>> rep = predict_latency(["first pass", "ce"], [100, 100], [busy, CostModel("c", 0, 1, 3)], budget_ms=50)
        >>> rep.notes[1]
        'ce: only 3 timed calls'
        >>> rep.notes[0].startswith("first pass: timed on a busy CPU (the work waited for a core 48% of the time")
        True
        """
        return [f"{s.name}: {s.note}" for s in self.stages if s.note] + ([self.devices_note] if self.devices_note else [])

    @property
    def devices_note(self) -> str | None:
        """A line when the steps' figures were measured on different devices (a GPU's beside the
        CPU's): the total adds times from different hardware, which holds only if the cascade is
        deployed the same way. None when every measured figure comes from one device.

        >>> predict_latency(["first pass", "ce"], [100, 100], [CostModel("f", 5, 0, 30),
        ...                 CostModel("c", 0, 1, 30, device="cuda:0 (NVIDIA H100)")]).devices_note
        'measured on different devices (first pass: cpu; ce: cuda:0 (NVIDIA H100)): the total holds for a cascade deployed the same way'
        """
        measured = [(m, s) for m, s in zip(self.models, self.stages) if s.source.startswith(MEASURED_SOURCES)]
        if len({m.device for m, _ in measured}) < 2:
            return None
        return ("measured on different devices (" + "; ".join(f"{s.name}: {m.device}" for m, s in measured)
                + "): the total holds for a cascade deployed the same way")

    @property
    def trusted(self) -> bool:
        return not self.notes

    def busy_line(self) -> str | None:
        """The busy steps' waits in one sentence (None when no step was timed on a busy CPU).

        >>> busy = CostModel("f", 5, 0, 30, basis=QUIET_EQUIVALENT, waited=0.7, load=5.0)
        >>> print(predict_latency(["first pass", "ce"], [10, 10], [busy, CostModel("c", 0, 1, 30)]).busy_line())
        Timed on a busy CPU: first pass waited for a core 70% of the time (load average 5.0): the figures leave the waits out.
        """
        busy = [s for s in self.stages if s.busy]
        if not busy:
            return None
        parts = [f"{s.name} waited for a core {s.waited:.0%} of the time" if math.isfinite(s.waited)
                 else s.name for s in busy]
        loads = [s.load for s in busy if math.isfinite(s.load)]
        load = f" (load average {max(loads):.1f})" if loads else ""
        return f"Timed on a busy CPU: {', '.join(parts)}{load}: the figures leave the waits out."

    def verdict(self) -> str:
        """The budget verdict in one line, with what the tool itself distrusts about the figure.

        >>> busy = CostModel("f", 106, 0, 30, basis=QUIET_EQUIVALENT, waited=0.5, load=4.0,
        ...                  wall=CostModel("f", 212, 0, 30))
        >>> print(predict_latency(["first pass"], [10], [busy], 100).verdict())
        Predicted 106.0 ms per query: over the 100 ms budget (first pass timed on a busy CPU: predicted from the time the work ran, its quiet-equivalent; 212.0 ms as timed, wall clock)
        """
        head = f"Predicted {self.total_ms:.1f} ms per query"
        if self.budget_ms is not None:
            head += (f": within the {self.budget_ms:g} ms budget" if self.within_budget
                     else f": over the {self.budget_ms:g} ms budget")
        if self.busy_steps:
            head += (f" ({', '.join(self.busy_steps)} timed on a busy CPU: predicted from the time the work ran, its "
                     f"quiet-equivalent; {self.wall_total_ms:.1f} ms as timed, wall clock)")
        return head

    @property
    def usd_per_1k_queries(self) -> float:
        """Money per 1,000 queries from the profiles' prices (0 when none is set)."""
        return 1000.0 * sum(s.usd_per_query for s in self.stages)

    def tail(self, draws: int = 200, seed: int = 0) -> TailLatency:
        """Predicted p50/p95/p99 of the whole cascade per query, and the sum of the steps' medians.

        Each query's steps are priced at *its* candidate counts, each step's time multiplied by a
        ratio drawn from that step's recorded spread (measured / fitted per call), independently
        per step; ``draws`` draws per query. So a step with a heavy tail, or queries with more
        candidates, lift p95 above the sum of medians, as a live run would (steps without a known
        cost add nothing; a user-set step has no spread).
        """
        if self.pairs is None or not self.models:
            return TailLatency(*(float("nan"),) * 4, 0)
        # The same cost models, candidate counts and draws give the same tail: a slider move that
        # leaves every step's counts as they were (a cut-off whose next step costs nothing, a
        # page redrawn) draws nothing again (60,000 draws a step for 300 queries: ~10 ms).
        key = (tuple(repr(m) for m in self.models), tuple(np.asarray(n, dtype=float).tobytes() for n in self.pairs),
               draws, seed)
        known = _TAILS.get(key)
        if known is None:
            known = _TAILS[key] = self._draw_tail(draws, seed)
            while len(_TAILS) > TAILS_KEPT:
                _TAILS.pop(next(iter(_TAILS)), None)
        return known

    def _draw_tail(self, draws: int, seed: int) -> TailLatency:
        rng = np.random.default_rng(seed)
        per_step = []
        for model, n in zip(self.models, self.pairs):
            if not model.known:
                per_step.append(np.zeros((len(n), draws)))
                continue
            ms = np.asarray(model.predict_ms(n), dtype=float).reshape(-1, 1)
            per_step.append(ms * model.sample_ratios(rng, (len(n), draws)))
        total = np.sum(per_step, axis=0).ravel()
        p = np.percentile(total, PERCENTILES)
        medians = float(sum(np.median(x) for x in per_step))
        return TailLatency(float(p[0]), float(p[1]), float(p[2]), medians, draws)


_TAILS: dict = {}   # LatencyReport.tail's last results, by what they were drawn from
TAILS_KEPT = 32


def predict_latency(names: list[str], n_pairs: list[float], models: list[CostModel],
                    budget_ms: float | None = None, pairs: np.ndarray | None = None) -> LatencyReport:
    """Per-step predicted cost per query, cumulated, against an optional budget; each figure with
    its source, spread, calls and how busy the CPU was when timed. ``pairs``: per step and query,
    for the tail."""
    stages, total = [], 0.0
    for name, n, model in zip(names, n_pairs, models):
        ms = model.predict_ms(n) if model.known else float("nan")
        total += 0.0 if np.isnan(ms) else ms
        over = budget_ms is not None and total > budget_ms
        lo, hi = model.spread
        usd = (model.profile.usd_per_query(ms, float(np.mean(model.calls_for(n))), float(n))
               if model.profile and model.known else 0.0)
        source = model.source if model.device == "cpu" or model.source != MEASURED_HERE else \
            f"{MEASURED_HERE} on {model.device}"
        wall = model.wall_ms(n) if model.known else float("nan")
        stages.append(StageLatency(name, float(n), ms, total, over, source, ms * lo, ms * hi, model.n_calls,
                                   usd, wall, model.basis, model.busy, model.waited, model.load))
    return LatencyReport(stages, budget_ms, pairs, tuple(models))


def pairs_per_step(spec, lengths, counts: dict | None = None) -> list[float]:
    """Candidates each step of ``spec`` scores per query (mean over queries): the one count that
    every latency prediction uses (simulation, tuner, comparisons, explanations, the doctor).

    The first pass counts what it keeps (its cost is per query anyway); each stage what it
    receives, ``min(the cut-off before it, the query's first-pass list length)``. ``lengths``:
    each query's first-pass list length (:attr:`ScoreMatrix.lengths`).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}, {"scorer": {"kind": "bm25"}, "keep": 5}]})
    >>> pairs_per_step(spec, [100, 40])
    [70.0, 70.0, 20.0]
    """
    return [float(row.mean()) for row in pairs_per_query(spec, lengths, counts)]


def pairs_per_query(spec, lengths, counts: dict | None = None) -> np.ndarray:
    """``[steps, queries]``: the candidates each step scores for each query (see :func:`pairs_per_step`).

    ``counts``: ``{stage name: [Q] kept per query}`` of the adaptive stages, from a simulation
    (:func:`cascade_core.cascade.simulate.kept_counts`): a query-adaptive cut-off is priced at each
    query's actual count. Without them an adaptive stage counts as keeping its maximum: an upper
    bound (what must be scored, as the scoring estimate needs).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}, {"scorer": {"kind": "bm25"}, "keep": 5}]})
    >>> pairs_per_query(spec, [100, 40]).tolist()
    [[100.0, 40.0], [100.0, 40.0], [20.0, 20.0]]
    >>> adaptive = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 5,
    ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": {"drop": 0.2, "min": 5, "max": 50}},
    ...                {"scorer": {"kind": "bm25"}, "keep": 5}]})
    >>> pairs_per_query(adaptive, [100, 40], {"bm25": [8, 30]})[2].tolist()   # each query's own count
    [8.0, 30.0]
    """
    kept = np.minimum(np.asarray(lengths, dtype=float).reshape(-1), spec.pool_size)
    rows = [kept]
    for stage in spec.stages:
        rows.append(kept)
        limit = stage.keep
        if stage.cutoff is not None and counts is not None and stage.name in counts:
            limit = np.asarray(counts[stage.name], dtype=float).reshape(-1)
        kept = np.minimum(kept, limit)
    return np.vstack(rows)


def predict_spec_latency(spec, lengths, models: list[CostModel], budget_ms: float | None = None,
                         counts: dict | None = None) -> LatencyReport:
    """``spec``'s predicted cost per query from cost models and list lengths alone (no simulation),
    each step priced by the spec's cost profile for it (:func:`apply_profiles`). ``counts``: the
    adaptive stages' per-query kept counts from a simulation (:func:`pairs_per_query`); the mean
    prices the mean, each query's own count prices the tail (:meth:`LatencyReport.tail`)."""
    pairs = pairs_per_query(spec, lengths, counts)
    return predict_latency(spec.stage_names, [float(r.mean()) for r in pairs], apply_profiles(spec, models),
                           budget_ms, pairs)


def percentiles(samples_ms, qs=PERCENTILES) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` of ``samples_ms`` (NaN when empty).

    >>> percentiles([1.0, 2.0, 3.0])["p50"]
    2.0
    """
    arr = np.asarray(samples_ms, dtype=float)
    return {f"p{q}": float(np.percentile(arr, q)) if arr.size else float("nan") for q in qs}


AGREEMENT = 0.25   # live within this share of the prediction (p50 and p95): the two agree


def agreement_line(predicted: dict[str, float], measured: dict[str, float]) -> tuple[bool, str]:
    """Whether a live run agrees with the prediction (p50 and p95 within :data:`AGREEMENT`, both
    quiet-equivalent), and the sentence that says so with the ratios.

    >>> agreement_line({"p50": 5.0, "p95": 8.0}, {"p50": 5.5, "p95": 8.4})
    (True, 'Live against predicted: p50 x1.10, p95 x1.05: within 25%, the prediction holds here.')
    >>> agreement_line({"p50": 5.1, "p95": 8.5}, {"p50": 6.6, "p95": 9.2})[1]
    'Live against predicted: p50 x1.29, p95 x1.08: p50 is more than 25% off; run more queries, or re-measure the costs (cascade calibrate, or Re-measure step costs on Flow) where the live run was timed.'
    """
    ratios = {q: measured[q] / predicted[q] for q in ("p50", "p95")
              if predicted.get(q, 0) > 0 and math.isfinite(measured.get(q, float("nan")))}
    if len(ratios) < 2:
        return True, ""
    off = [q for q, r in ratios.items() if abs(r - 1) > AGREEMENT]
    head = f"Live against predicted: p50 x{ratios['p50']:.2f}, p95 x{ratios['p95']:.2f}"
    if not off:
        return True, f"{head}: within {AGREEMENT:.0%}, the prediction holds here."
    return False, (f"{head}: {' and '.join(off)} {'is' if len(off) == 1 else 'are'} more than {AGREEMENT:.0%} off; run "
                   "more queries, or re-measure the costs (cascade calibrate, or Re-measure step costs on Flow) where the live "
                   "run was timed.")


def tail_comparison(tail: TailLatency, measured: dict[str, float], wall: dict[str, float] | None = None) -> list[dict]:
    """Predicted against measured end-to-end percentiles, one row per percentile: ``measured`` is
    quiet-equivalent, as predictions are (``{"p50": ms, ...}``: :attr:`LiveMeasurement.total`);
    ``wall``, the same run's wall clock, is shown beside.

    >>> tail_comparison(TailLatency(10.0, 20.0, 30.0, 9.0, 100), {"p50": 11.0, "p95": 25.0, "p99": 33.0})[1]
    {'percentile': 'p95', 'predicted ms': 20.0, 'measured ms': 25.0, 'measured / predicted': 1.25}
    """
    rows = []
    for q in PERCENTILES:
        p, m = getattr(tail, f"p{q}"), measured.get(f"p{q}", float("nan"))
        rows.append({"percentile": f"p{q}", "predicted ms": p, "measured ms": m,
                     "measured / predicted": m / p if p > 0 else float("nan")}
                    | ({"wall clock ms": wall.get(f"p{q}", float("nan"))} if wall is not None else {}))
    return rows
