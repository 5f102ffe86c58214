"""Declared parameters: what a stage kind or a fusion takes, with its type, range and default.

One declaration serves every reader: the spec checks a value against it when it is read (one
``SpecError`` naming the kind and the rule), the Build page draws a widget from it, the CLI's help
lists it, the shared dashboard's guards check values by type (a ``path`` must lie under the data
roots, a ``url`` among the allowed servers, a ``secret-env`` must name the allowed variable), and
a scorer's cache id includes it unless it only changes speed (``cache=False``: a batch size).

>>> p = Param("b", "number", 0.4, low=0, high=1, help="length normalisation")
>>> p.parse("bm25", {"b": "0.75"}), p.parse("bm25", {})
(0.75, 0.4)
>>> Param("base_url", "url", "", help="server URL").kind_of_text
'url'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import SpecError

# text-valued types: what the text names, so the sharing checks can apply one rule per type
TEXT_TYPES = ("text", "path", "url", "secret-env")
PARAM_TYPES = ("number", "int", "bool", "choice") + TEXT_TYPES


@dataclass(frozen=True)
class Param:
    """One parameter of a kind: name, type, default, range or choices, and a help line.

    ``type``: ``number`` (int or float), ``int`` (whole number), ``bool``, ``choice`` (one of
    ``choices``), or text: ``text`` (free), ``path`` (a file or folder on this machine), ``url``
    (a server) or ``secret-env`` (the *name* of an environment variable holding a key, never the
    key). ``low``/``high`` bound numbers (``low_open``: strictly above ``low``). ``cache``: False
    for a parameter that changes speed only (a batch size): scores made with any value are the
    same, so it stays out of the scorer's cache id.

    >>> p = Param("b", "number", 0.4, low=0, high=1, help="length normalisation")
    >>> p.parse("bm25", {"b": "0.75"}), p.parse("bm25", {})
    (0.75, 0.4)
    >>> p.describe()
    'b (a number between 0 and 1, default 0.4): length normalisation'
    >>> Param("fusion", "choice", "rrf", choices=("rrf", "norm-sum")).parse("hybrid", {"fusion": "max"})
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: hybrid parameter fusion must be one of rrf, norm-sum, not 'max'
    >>> Param("base_url", "text", "", help="server URL").parse("llm", {"base_url": " http://h:8000/v1 "})
    'http://h:8000/v1'
    """

    name: str
    type: str
    default: object
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    help: str = ""
    cache: bool = True
    # shown only while another parameter has a value, e.g. ("fusion", "rrf"): RRF's k beside
    # the choice of fusion (still checked whenever given)
    only_with: tuple = ()

    @property
    def kind_of_text(self) -> str | None:
        """``text``, ``path``, ``url`` or ``secret-env`` for a text parameter; None otherwise."""
        return self.type if self.type in TEXT_TYPES else None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: type must be one of {', '.join(PARAM_TYPES)}")
        if self.type == "choice" and self.default not in self.choices:
            raise ValueError(f"parameter {self.name}: default {self.default!r} is not among its choices")

    def parse(self, kind: str, params: dict):
        """``params[name]`` (or the default), checked; a ``SpecError`` names the kind and the rule."""
        if self.type == "bool":
            return bool_param(kind, params, self.name, self.default)
        if self.type in TEXT_TYPES:
            value = params.get(self.name, self.default)
            if value is None:
                value = ""
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise SpecError(f"{kind} parameter {self.name} must be text, not {value!r}")
            return str(value).strip()
        if self.type == "choice":
            value = params.get(self.name, self.default)
            if value not in self.choices:
                raise SpecError(f"{kind} parameter {self.name} must be one of "
                                f"{', '.join(map(str, self.choices))}, not {value!r}")
            return value
        return number_param(kind, params, self.name, self.default, self.low, self.high,
                            low_open=self.low_open, whole=self.type == "int")

    def describe(self) -> str:
        """``name (rule, default D): help``, for help texts and listings."""
        if self.type == "bool":
            rule = "true or false"
        elif self.type in TEXT_TYPES:
            rule = {"text": "text", "path": "a path", "url": "a URL",
                    "secret-env": "the name of an environment variable"}[self.type]
        elif self.type == "choice":
            rule = "one of " + ", ".join(map(str, self.choices))
        else:
            rule = _requirement(self.low, self.high, self.low_open, self.type == "int")
        default = str(self.default).lower() if isinstance(self.default, bool) else (
            "none" if self.default == "" else self.default)
        text = f"{self.name} ({rule}, default {default})"
        return f"{text}: {self.help}" if self.help else text


def check_param_names(kind: str, params: dict, known) -> None:
    """Refuse parameter names ``kind`` does not have, listing those it has.

    >>> check_param_names("cross-encoder", {"max_lenght": 256}, ("max_length", "batch_size"))
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: unknown cross-encoder parameter(s) max_lenght; known: batch_size, max_length
    """
    unknown = set(params) - set(known)
    if unknown:
        raise SpecError(f"unknown {kind} parameter(s) {', '.join(sorted(map(str, unknown)))}; "
                        f"known: {', '.join(sorted(known)) or 'none (it takes no parameters)'}")


def number_param(kind: str, params: dict, name: str, default, low=None, high=None, *,
                 low_open: bool = False, whole: bool = False):
    """``params[name]`` (or ``default``) checked to be a finite number in range.

    Numbers come back as given (so scorer ids, which show them, stay the same); numeric strings
    are converted; whole numbers come back as ``int``.

    >>> number_param("bm25", {"k1": 1.2}, "k1", 0.9, low=0)
    1.2
    >>> number_param("cross-encoder", {"max_length": "256"}, "max_length", 512, low=1, whole=True)
    256
    >>> number_param("bm25", {"b": "abc"}, "b", 0.4, low=0, high=1)
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: bm25 parameter b must be a number between 0 and 1, not 'abc'
    """
    value = params.get(name, default)
    num = _as_number(value)
    if (num is None or not math.isfinite(num) or (whole and not float(num).is_integer())
            or (low is not None and not (num > low if low_open else num >= low))
            or (high is not None and not num <= high)):
        raise SpecError(f"{kind} parameter {name} must be {_requirement(low, high, low_open, whole)}, "
                        f"not {value!r}")
    return int(num) if whole else num


def bool_param(kind: str, params: dict, name: str, default: bool) -> bool:
    """``params[name]`` (or ``default``) checked to be true or false (a string like "no" is truthy)."""
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise SpecError(f"{kind} parameter {name} must be true or false, not {value!r}")
    return value


def _as_number(value):
    """``value`` as an int or float, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _requirement(low, high, low_open: bool, whole: bool) -> str:
    """What a value must be, in words: ``a number between 0 and 1``, ``a whole number >= 1``."""
    what = "a whole number" if whole else "a number"
    if low is not None and high is not None and not low_open:
        return f"{what} between {low} and {high}"
    if low is not None:
        what += f" {'>' if low_open else '>='} {low}"
    if high is not None:
        what += f"{' and' if low is not None else ''} <= {high}"
    return what
