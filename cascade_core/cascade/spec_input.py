"""What a spec file may contain before it is read as a spec: bounded size, the right types.

YAML aliases let a few hundred bytes stand for billions of values ("billion laughs"):
``yaml.safe_load`` shares the aliased objects, so loading is quick, but anything that walks the
result (``str()``, JSON, a table) expands it. So a spec's text is capped (``MAX_SPEC_BYTES``),
the loaded value is walked with a budget (``MAX_VALUES``, aliases counted as often as they are
used, depth ``MAX_DEPTH``), and the free-text fields are checked to be short strings. Every
refusal is one :class:`~cascade_core.errors.SpecError` line.

>>> load_yaml("name: demo\\nfinal_k: 10")
{'name': 'demo', 'final_k': 10}
>>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
...     f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\\n"
...     for p, c in zip("abcdefgh", "bcdefghi")) + "name: *i\\n"
>>> load_yaml(bomb)
Traceback (most recent call last):
...
cascade_core.errors.SpecError: the spec expands to more than 100,000 values (YAML aliases repeat the same part many times?): refused
>>> text_field(["a"], "name")
Traceback (most recent call last):
...
cascade_core.errors.SpecError: name must be a short text, not a list
"""

from __future__ import annotations

import yaml

from ..errors import SpecError
from ..readback import MAX_DIGITS, cut

MAX_SPEC_BYTES = 1_000_000   # a spec is a few hundred bytes; a megabyte is not a spec
MAX_VALUES = 100_000         # values after aliases are expanded
MAX_DEPTH = 50               # nesting of mappings and lists
MAX_TEXT = 200               # characters of a name, a kind, a combine rule
MAX_MODEL = 1000             # characters of a model (a hub id or a local path)
MAX_PARAM_TEXT = 10_000      # characters of a text parameter (a server URL, a prompt)


class OversizedNumber(SpecError):
    """A number in a spec (or a --param value) too long to be one anyone meant."""


class _BoundedLoader(yaml.SafeLoader):
    """YAML's safe loader whose integers are short: ``int()`` of a 5,000-digit number raises a
    ValueError naming ``sys.set_int_max_str_digits`` (a traceback, not a spec error)."""

    def construct_yaml_int(self, node):
        text = str(node.value)
        if sum(c.isalnum() for c in text) > MAX_DIGITS:
            raise OversizedNumber(f"the spec has a number of {len(text):,} characters (line {node.start_mark.line + 1}): "
                            f"{cut(text)}")
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def load_yaml(text: str):
    """``yaml.safe_load(text)`` with its size, expansion, nesting and numbers bounded (one SpecError line).

    >>> load_yaml("pool_size: " + "9" * 5000)
    Traceback (most recent call last):
    ...
    cascade_core.cascade.spec_input.OversizedNumber: the spec has a number of 5,000 characters (line 1): 9999999999999999999999999…
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is {len(text):,} characters long: more than {MAX_SPEC_BYTES:,} is not a spec")
    try:
        data = yaml.load(text, Loader=_BoundedLoader)   # noqa: S506 - a SafeLoader, bounded
    except yaml.YAMLError as exc:
        raise SpecError(f"the spec is not valid YAML: {str(exc).splitlines()[0]}") from exc
    except RecursionError:
        raise SpecError(f"the spec nests deeper than {MAX_DEPTH} levels") from None
    check_bounded(data)
    return data


def check_bounded(data) -> None:
    """Refuse a value that expands to more than ``MAX_VALUES`` values or nests deeper than ``MAX_DEPTH``
    (a recursive alias does both); walked with a budget, so checking it costs little either way."""
    budget = MAX_VALUES
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise SpecError(f"the spec expands to more than {MAX_VALUES:,} values (YAML aliases repeat the "
                            "same part many times?): refused")
        if depth > MAX_DEPTH:
            raise SpecError(f"the spec nests deeper than {MAX_DEPTH} levels (a recursive YAML alias?): refused")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for kv in value.items() for v in kv)
        elif isinstance(value, (list, tuple, set)):
            stack.extend((v, depth + 1) for v in value)


def text_field(value, what: str, max_len: int = MAX_TEXT, default: str = "") -> str:
    """A short free-text field (a name): a string (or a number, as YAML reads ``name: 2024``) of at
    most ``max_len`` characters on one line; None or empty gives ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"{what} must be a short text, not a {_type_name(value)}")
    text = str(value)
    if len(text) > max_len:
        raise SpecError(f"{what} is {len(text):,} characters long: at most {max_len} allowed")
    if "\n" in text or "\r" in text:
        raise SpecError(f"{what} must be one line")
    return text


def check_spec_fields(data: dict) -> None:
    """Type-check a spec mapping's free-text fields (the rest is checked where it is parsed)."""
    check_bounded(data)
    text_field(data.get("name"), "name")
    text_field(data.get("executor"), "executor")
    stages = data.get("stages")
    steps = [("first_pass", data.get("first_pass"))]
    if isinstance(stages, list):
        for i, sd in enumerate(stages, start=1):
            if isinstance(sd, dict):
                text_field(sd.get("name"), f"stage {i} name")
                text_field(sd.get("combine"), f"stage {i} combine")
                steps.append((f"stage {i} scorer", sd.get("scorer")))
    for where, sc in steps:
        if isinstance(sc, str):
            text_field(sc, where, MAX_TEXT + MAX_MODEL)
        elif isinstance(sc, dict):
            text_field(sc.get("kind"), f"{where} kind")
            text_field(sc.get("model"), f"{where} model", MAX_MODEL)
            params = sc.get("params")
            if isinstance(params, dict):
                for key, value in params.items():
                    text_field(key, f"{where} parameter name")
                    if not (value is None or isinstance(value, (str, int, float, bool))):
                        raise SpecError(f"{where} parameter {key}: must be a number, text or true/false, "
                                        f"not a {_type_name(value)}")
                    if isinstance(value, str) and len(value) > MAX_PARAM_TEXT:
                        raise SpecError(f"{where} parameter {key} is {len(value):,} characters long: at most "
                                        f"{MAX_PARAM_TEXT:,} allowed")


def _type_name(value) -> str:
    return {dict: "mapping", list: "list", tuple: "list", set: "set"}.get(type(value), type(value).__name__)
