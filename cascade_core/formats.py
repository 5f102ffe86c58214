"""How every page, the CLI and the reports write a number: one format per kind of number.

* a metric between 0 and 1 (nDCG@10, MRR, recall): three decimals, ``0.737``;
* a change of such a metric: points (100 x the difference) with one decimal and its sign,
  ``+4.6 points``;
* a latency: milliseconds with the precision its spread supports (``33 ms`` when the calls
  spread over 20 ms, ``3.27 ms`` when they agree to a tenth), seconds from 1 s on;
* a duration (a job, a wait): hours, minutes and seconds as people say them, ``4 h 53 min``;
* a count: a whole number with thousands separators, ``1,000``;
* a p-value: two significant digits, ``1.2e-08``; money: ``$0.0123``.

Unknown values (None, NaN) are written ``?`` everywhere, never ``nan`` or ``None``.

>>> metric(0.73666), change(4.6154), ms(32.67), ms(32.67, spread=4), duration(17595), count(1000.0)
('0.737', '+4.6 points', '33 ms', '32.7 ms', '4 h 53 min', '1,000')
"""

from __future__ import annotations

import math

UNKNOWN = "?"


def known(value) -> bool:
    """A number that can be written (not None, not NaN, not infinite).

    >>> known(0.5), known(float("nan")), known(None)
    (True, False, False)
    """
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def metric(value) -> str:
    """A metric between 0 and 1, three decimals: ``0.737``."""
    return f"{float(value):.3f}" if known(value) else UNKNOWN


def points(after, before) -> float:
    """A change in points, 100 x (after - before) (numbers and pandas columns alike).

    >>> round(points(0.737, 0.691), 1)
    4.6
    """
    return 100.0 * (after - before)


def change(points_value, unit: str = "points") -> str:
    """A change already in points, one decimal with its sign: ``+4.6 points``, ``-0.3 points``.

    >>> change(-0.04), change(12.345, unit="")
    ('-0.0 points', '+12.3')
    """
    if not known(points_value):
        return UNKNOWN
    return f"{float(points_value):+.1f}" + (f" {unit}" if unit else "")


def ms(value, spread=None) -> str:
    """A latency in ms, as precise as its ``spread`` (p90 - p10 of the timed calls, in ms)
    supports: one digit more than the spread's order of magnitude, at most two decimals. Without
    a spread: a tenth under 10 ms, whole ms from 10 ms on (``32.67`` is written ``33 ms``: a timing on
    a shared CPU is not sure to the hundredth), two significant digits under 1 ms. From 1 s on, seconds.

    >>> ms(0.0731), ms(7.49), ms(32.67), ms(1872.4), ms(32.67, spread=12), ms(float("nan"))
    ('0.073 ms', '7.5 ms', '33 ms', '1.87 s', '33 ms', '?')
    """
    if not known(value):
        return UNKNOWN
    v = float(value)
    if abs(v) >= 1000:
        return f"{v / 1000:.3g} s" if abs(v) < 100_000 else f"{v / 1000:,.0f} s"
    if known(spread) and float(spread) > 0:
        decimals = min(2, max(0, 1 - math.floor(math.log10(float(spread)))))
        return f"{v:.{decimals}f} ms"
    if v == 0:
        return "0 ms"
    decimals = min(3, max(0, 1 - math.floor(math.log10(abs(v)))))
    return f"{v:.{decimals}f} ms"


def duration(seconds) -> str:
    """``45 s``, ``12 min``, ``1 h 5 min``, ``4 h 53 min``: a duration as people say it.

    >>> duration(44.6), duration(700), duration(3900), duration(17595), duration(None)
    ('45 s', '12 min', '1 h 5 min', '4 h 53 min', '?')
    """
    if not known(seconds):
        return UNKNOWN
    s = max(0, int(round(float(seconds))))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    hours, minutes = divmod(round(s / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def count(value) -> str:
    """A count as a whole number with thousands separators: ``1,000``; a mean count (an adaptive
    cut-off's) keeps one decimal: ``10.4``.

    >>> count(1000), count(10.4), count(12.0)
    ('1,000', '10.4', '12')
    """
    if not known(value):
        return UNKNOWN
    v = float(value)
    return f"{int(v):,}" if v.is_integer() else f"{v:,.1f}"


def p_value(p, prefix: bool = True) -> str:
    """``p = 1.2e-08``, ``p = 0.03``, ``p = ?`` (``prefix=False``: the number alone).

    >>> p_value(1.236e-8), p_value(0.0312, prefix=False)
    ('p = 1.2e-08', '0.031')
    """
    said = f"{float(p):.2g}" if known(p) else UNKNOWN
    return f"p = {said}" if prefix else said


def usd(value) -> str:
    """Money, with the digits a small amount needs: ``$0.0123``, ``$4.20``, ``$1,234``.

    >>> usd(0.012345), usd(4.2), usd(1234.4)
    ('$0.0123', '$4.20', '$1,234')
    """
    if not known(value):
        return UNKNOWN
    v = float(value)
    if v >= 100:
        return f"${v:,.0f}"
    if v >= 1:
        return f"${v:.2f}"
    return f"${v:.3g}"


def share(value) -> str:
    """A share between 0 and 1 as a percentage: ``12.3%``."""
    return f"{float(value):.1%}" if known(value) else UNKNOWN
