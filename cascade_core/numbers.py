"""Numbers read from specs and flags: one rule for "a whole number", with a one-line error.

>>> whole_number("20", "keep"), whole_number(5.0, "min", minimum=1)
(20, 5)
>>> whole_number(0, "max", minimum=1)
Traceback (most recent call last):
...
cascade_core.errors.SpecError: max must be a whole number >= 1, not 0
"""

from __future__ import annotations

from .errors import SpecError


def whole_number(value, what: str, minimum: int | None = None) -> int:
    """``value`` as an int (``"20"``, ``20.0`` pass; ``True``, ``2.5``, ``"x"`` do not)."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a whole number, not {value!r}")
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{what} must be a whole number, not {value!r}") from None
    if not as_float.is_integer():
        raise SpecError(f"{what} must be a whole number, not {value!r}")
    if minimum is not None and as_float < minimum:
        raise SpecError(f"{what} must be a whole number >= {minimum}, not {value!r}")
    return int(as_float)
