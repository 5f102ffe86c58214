"""Cost profiles: what each step of a cascade costs where it will *run*, not where it was timed.

Timings are measured on the machine the tool runs on; a team deploys elsewhere (the
cross-encoder on a GPU, the LLM behind an API). A spec carries, per step, one profile:

* ``measured`` -- the cost model fitted on this machine's timed calls (the default);
* ``user`` -- set by hand: ``fixed_ms`` per query plus ``per_pair_ms`` per candidate, or, for an
  API that takes a batch, ``per_call_ms`` per request of up to ``pairs_per_call`` candidates
  (requests are counted one after another: ``ceil(pairs / pairs_per_call)`` of them);
* ``scaled`` -- the measured model times a ``factor`` ("the same model on a GPU is 40x faster"
  is ``factor: 0.025``), its measured spread kept.

Optional prices turn time into money: ``usd_per_hour`` (the hardware the step runs on, paid
for the time it is busy), ``usd_per_call`` (an API's price per request: a measured profile
says how many candidates one request takes with ``pairs_per_call``) and ``usd_per_1k_searches``
(a rerank API's price per 1,000 searches, a search being one query with up to 100 documents, as
Cohere counts them).

In a spec (YAML), keyed by step name (``first pass`` or a stage's name)::

    costs:
      cross-encoder: {per_pair_ms: 0.05, fixed_ms: 2}      # user-set
      llm: {per_call_ms: 400, pairs_per_call: 20, usd_per_call: 0.002}
      rerank-api: {usd_per_1k_searches: 2.0}               # measured, priced
      bi-encoder: {factor: 0.025}                          # measured, scaled

The same in the CLI's compact form (``--cost STEP=PROFILE``): ``2+0.05`` (fixed + per pair),
``400/20`` (per call / pairs per call), ``x0.025`` (scaled), ``measured``.

>>> p = parse_profile("2+0.05", "cross")
>>> p.describe(), p.to_dict()
('user-set: 2 ms + 0.05 ms/pair', {'fixed_ms': 2.0, 'per_pair_ms': 0.05})
>>> parse_profile({"factor": 0.025}, "bi").describe()
'measured x 0.025'
>>> parse_profile("400/20", "llm").describe()
'user-set: 400 ms per call of 20 pairs'
>>> parse_profile({"factor": -1}, "bi")
Traceback (most recent call last):
...
cascade_core.errors.SpecError: costs of bi: factor must be a number > 0, not -1
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SpecError

MEASURED, USER, SCALED = "measured", "user", "scaled"
FIRST_PASS = "first pass"
FIRST_PASS_ALIASES = ("first pass", "first-pass", "first_pass")
USER_KEYS = ("fixed_ms", "per_pair_ms", "per_call_ms", "pairs_per_call")
PRICE_KEYS = ("usd_per_hour", "usd_per_call", "usd_per_1k_searches")
SEARCH_UNIT_PAIRS = 100   # a rerank API's "search": one query with up to 100 documents
KEYS = ("profile", "factor") + USER_KEYS + PRICE_KEYS


@dataclass(frozen=True)
class CostProfile:
    """One step's cost profile (see the module docstring); build it with :func:`parse_profile`."""

    kind: str = MEASURED
    fixed_ms: float = 0.0
    per_pair_ms: float = 0.0
    per_call_ms: float = 0.0
    pairs_per_call: int = 0
    factor: float = 1.0
    usd_per_hour: float = 0.0
    usd_per_call: float = 0.0
    usd_per_1k_searches: float = 0.0

    @property
    def is_default(self) -> bool:
        """Measured, no price: what a step without an entry gets (left out of a spec's YAML)."""
        return self == CostProfile()

    def describe(self) -> str:
        """Where a latency figure comes from, in words (shown beside every figure)."""
        if self.kind == SCALED:
            return f"measured x {self.factor:g}"
        if self.kind == USER:
            parts = []
            if self.fixed_ms or not (self.per_pair_ms or self.per_call_ms):
                parts.append(f"{self.fixed_ms:g} ms")
            if self.per_pair_ms:
                parts.append(f"{self.per_pair_ms:g} ms/pair")
            if self.per_call_ms:
                parts.append(f"{self.per_call_ms:g} ms per call of {self.pairs_per_call} pairs")
            return "user-set: " + " + ".join(parts)
        return "measured here"

    def to_dict(self) -> dict:
        """The YAML/JSON form: only what was set (the kind follows from the keys)."""
        out: dict = {}
        if self.kind == SCALED:
            out["factor"] = self.factor
        elif self.kind == USER:
            if self.fixed_ms or not (self.per_pair_ms or self.per_call_ms):
                out["fixed_ms"] = self.fixed_ms
            if self.per_pair_ms:
                out["per_pair_ms"] = self.per_pair_ms
            if self.per_call_ms:
                out.update({"per_call_ms": self.per_call_ms, "pairs_per_call": self.pairs_per_call})
        elif self.kind == MEASURED and any(getattr(self, k) for k in PRICE_KEYS):
            out["profile"] = MEASURED
            if self.pairs_per_call:
                out["pairs_per_call"] = self.pairs_per_call
        for k in PRICE_KEYS:
            if getattr(self, k):
                out[k] = getattr(self, k)
        return out

    def usd_per_query(self, ms: float, calls: float, pairs: float = 0.0) -> float:
        """What one query costs in money at this step: its busy time at the hourly price, its
        calls at the per-call price, its searches (``pairs`` in units of 100) at the search
        price; 0 without prices. A measured profile counts calls by its ``pairs_per_call``.

        >>> CostProfile(usd_per_1k_searches=2.0).usd_per_query(50.0, 0, 150)   # 2 searches
        0.004
        """
        if not calls and self.pairs_per_call and pairs:
            calls = math.ceil(pairs / self.pairs_per_call)
        searches = math.ceil(pairs / SEARCH_UNIT_PAIRS) if pairs else 0
        return (ms / 3_600_000.0 * self.usd_per_hour + calls * self.usd_per_call
                + searches * self.usd_per_1k_searches / 1000.0)


def parse_profile(value, step: str) -> CostProfile:
    """A profile from a spec's mapping or the CLI's compact string (module docstring); refused
    with one line naming the step when a key or a number is wrong."""
    where = f"costs of {step}"
    if isinstance(value, CostProfile):
        return value
    if isinstance(value, str):
        return _parse_text(value.strip(), where)
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a mapping such as {{per_pair_ms: 0.05}} or {{factor: 0.025}}, "
                        f"not {value!r}")
    unknown = set(map(str, value)) - set(KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(KEYS)}")
    prices = {k: _number(value[k], f"{where}: {k}", 0) for k in PRICE_KEYS if k in value}
    has_user = [k for k in USER_KEYS if k in value]
    timed = [k for k in has_user if k != "pairs_per_call"]   # pairs_per_call alone: a measured step's priced batch
    kind = str(value.get("profile") or (SCALED if "factor" in value else USER if timed else MEASURED))
    if kind not in (MEASURED, USER, SCALED):
        raise SpecError(f"{where}: profile must be measured, user or scaled, not {kind!r}")
    if kind == SCALED:
        if has_user:
            raise SpecError(f"{where}: a scaled profile takes a factor only, not {', '.join(has_user)}")
        if "factor" not in value:
            raise SpecError(f"{where}: a scaled profile needs a factor (e.g. 0.025 for 40x faster)")
        factor = _number(value["factor"], f"{where}: factor", 0, strict=True)
        if prices.get("usd_per_call"):
            raise SpecError(f"{where}: a scaled profile counts no calls: price it per hour or with "
                            "usd_per_1k_searches, or set it by hand per call (per_call_ms, pairs_per_call)")
        return CostProfile(SCALED, factor=factor, **prices)
    if kind == MEASURED:
        # pairs_per_call, beside a per-call price: how many candidates one priced request takes
        timing = [k for k in has_user if not (k == "pairs_per_call" and "usd_per_call" in value)]
        if timing or "factor" in value:
            raise SpecError(f"{where}: a measured profile takes no {', '.join(timing or ['factor'])}"
                            + (" (pairs_per_call only beside usd_per_call)" if "pairs_per_call" in timing else ""))
        per_call = int(_number(value.get("pairs_per_call", 0), f"{where}: pairs_per_call", 0))
        if prices.get("usd_per_call") and per_call < 1:
            raise SpecError(f"{where}: usd_per_call on a measured step needs pairs_per_call (the candidates one "
                            "priced call takes), or price it with usd_per_1k_searches")
        return CostProfile(MEASURED, pairs_per_call=per_call, **prices)
    if "factor" in value:
        raise SpecError(f"{where}: give either a factor (scaled) or ms figures (user-set), not both")
    if not has_user:
        raise SpecError(f"{where}: a user-set profile needs fixed_ms, per_pair_ms or per_call_ms")
    nums = {k: _number(value.get(k, 0), f"{where}: {k}", 0) for k in ("fixed_ms", "per_pair_ms", "per_call_ms")}
    per_call = int(_number(value.get("pairs_per_call", 0), f"{where}: pairs_per_call", 0))
    if nums["per_call_ms"] and per_call < 1:
        raise SpecError(f"{where}: per_call_ms needs pairs_per_call, a whole number >= 1 (pairs one request takes)")
    if per_call and not nums["per_call_ms"]:
        raise SpecError(f"{where}: pairs_per_call needs per_call_ms (what one request costs)")
    if "pairs_per_call" in value and float(value["pairs_per_call"]) != per_call:
        raise SpecError(f"{where}: pairs_per_call must be a whole number, not {value['pairs_per_call']!r}")
    return CostProfile(USER, pairs_per_call=per_call, **nums, **prices)


def _parse_text(text: str, where: str) -> CostProfile:
    """The CLI's compact form: ``measured``, ``x0.025``, ``2+0.05``, ``0.05`` (per pair), ``400/20``."""
    t = text.replace(" ", "").lower()
    try:
        if t in ("measured", "measuredhere", ""):
            return CostProfile()
        if t[0] in "x*":
            return parse_profile({"factor": t[1:]}, where[len("costs of "):])
        if "/" in t:
            per_call, _, pairs = t.partition("/")
            return parse_profile({"per_call_ms": per_call, "pairs_per_call": pairs}, where[len("costs of "):])
        if "+" in t:
            fixed, _, per_pair = t.partition("+")
            return parse_profile({"fixed_ms": fixed, "per_pair_ms": per_pair}, where[len("costs of "):])
        float(t)   # a bare number is ms per pair; anything else is not a profile at all
        return parse_profile({"per_pair_ms": t}, where[len("costs of "):])
    except SpecError:
        raise
    except (ValueError, IndexError):
        pass
    raise SpecError(f"{where}: cannot read {text!r}; expected measured, xFACTOR (e.g. x0.025), FIXED+PER_PAIR "
                    "(ms, e.g. 2+0.05) or PER_CALL/PAIRS (e.g. 400/20)")


def step_key(name: str) -> str:
    """A step name as a spec's ``costs:`` keys it (``first-pass`` and ``first_pass`` read as
    ``first pass``)."""
    name = str(name).strip()
    return FIRST_PASS if name.lower() in FIRST_PASS_ALIASES else name


def parse_costs(data, step_names: list[str]) -> tuple[tuple[str, CostProfile], ...]:
    """A spec's ``costs:`` mapping, each key a step of ``step_names``; default profiles are left
    out (so a spec round-trips). An unknown step is refused, naming the known ones.

    >>> parse_costs({"first-pass": "measured", "ce": "x0.5"}, ["first pass", "ce"])
    (('ce', CostProfile(kind='scaled', fixed_ms=0.0, per_pair_ms=0.0, per_call_ms=0.0, pairs_per_call=0, factor=0.5, usd_per_hour=0.0, usd_per_call=0.0, usd_per_1k_searches=0.0)),)
    >>> parse_costs({"cross": "x0.5"}, ["first pass", "ce"])
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: costs: no step named 'cross'; steps: first pass, ce
    """
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise SpecError("costs must be a mapping from step name to a cost profile, e.g. "
                        "{cross-encoder: {per_pair_ms: 0.05}}")
    out = {}
    for name, value in data.items():
        key = step_key(name)
        if key not in step_names:
            raise SpecError(f"costs: no step named {name!r}; steps: {', '.join(step_names)}")
        profile = parse_profile(value, key)
        if not profile.is_default:
            out[key] = profile
    return tuple((n, out[n]) for n in step_names if n in out)


def _number(value, what: str, low: float, strict: bool = False) -> float:
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a number, not {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(x) or x < low or (strict and x <= low):
        raise SpecError(f"{what} must be a number {'>' if strict else '>='} {low:g}, not {value!r}")
    return x
