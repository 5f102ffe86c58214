"""Reading back what was written: JSON from files, logs and links, bounded, in one place.

Python's ``json`` accepts more than JSON: ``Infinity``, ``NaN`` and ``1e309`` (read as ``inf``);
integers of any length (past 4,300 digits it raises a ``ValueError`` naming
``sys.set_int_max_str_digits``); nesting as deep as the stack (then a ``RecursionError``).
Every file the tool reads back -- the judgment logs, saved experiments, manifests, an index's
``cascade.json``, the last session, view links -- may have been hand-edited, truncated or
written by someone hostile, so each is read through :func:`loads`: bounded in length, refusing
non-finite numbers, over-long integers and deep nesting, and failing with one
:class:`Unreadable` line (a :class:`~cascade_core.errors.CascadeError`) whose quoted text is
cut (:func:`cut`) -- never a traceback, never 5,000 digits on a screen.

A log of records (JSON lines) is read by :func:`read_lines`: a bad line is skipped and kept
as a :class:`SkippedLine` (its number and why), every other line is read.

>>> loads('{"grade": 2, "who": "ana"}')
{'grade': 2, 'who': 'ana'}
>>> loads('{"grade": Infinity}')
Traceback (most recent call last):
...
cascade_core.readback.Unreadable: not a finite number: Infinity
>>> loads('{"grade": 1e309}', what="judgments.jsonl:3")
Traceback (most recent call last):
...
cascade_core.readback.Unreadable: judgments.jsonl:3: not a finite number: 1e309
>>> loads("[" * 50_000)
Traceback (most recent call last):
...
cascade_core.readback.Unreadable: nested deeper than 64 levels
>>> loads("9" * 5000)
Traceback (most recent call last):
...
cascade_core.readback.Unreadable: a number of 5,000 digits: 9999999999999999999999999…
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import CascadeError

MAX_DIGITS = 100       # an id or a count: a longer integer is damage, not data
MAX_DEPTH = 64         # nesting: every record the tool writes is 3 levels deep at most
MAX_CHARS = 10_000_000  # one JSON document read back (a saved experiment is kilobytes)
CUT = 25               # characters of a refused value that are quoted


class Unreadable(CascadeError):
    """Text that is not the JSON the tool wrote (damaged, hand-edited or hostile): one line."""


def cut(text, n: int = CUT) -> str:
    """``text`` as at most ``n`` characters, an ellipsis saying it was longer.

    >>> cut("1" * 5000, 8), cut("short")
    ('11111111…', 'short')
    """
    text = str(text)
    return text if len(text) <= n else text[:n] + "…"


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Unreadable(f"a number of {len(text.lstrip('-')):,} digits: {cut(text)}")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unreadable(f"not a finite number: {cut(text)}")
    return value


def _constant(text: str):
    raise Unreadable(f"not a finite number: {text}")


def _float_or_unknown(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def loads(text: str | bytes, what: str = "", max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH,
          non_finite: str = "refuse"):
    """``text`` parsed as strict JSON, or :class:`Unreadable` (``what`` names the place: a file,
    ``file:line``). Strict: finite numbers only, integers of at most ``MAX_DIGITS`` digits, at
    most ``max_chars`` characters, nested at most ``max_depth`` levels.

    ``non_finite="unknown"`` reads ``NaN``, ``Infinity`` and ``1e309`` as ``None`` instead: for
    records of measurements this tool wrote itself before it wrote them as ``null`` (see
    :func:`dumps`), where a missing figure is "not measured", never a reason to lose the record.

    >>> loads('{"ms": NaN, "n": 1e309}', non_finite="unknown")
    {'ms': None, 'n': None}

    >>> loads(b'[1, 2.5, "x"]'), loads('{"a": [[1]]}', max_depth=3)
    ([1, 2.5, 'x'], {'a': [[1]]})
    >>> loads('{"a": [[1]]}', max_depth=2)
    Traceback (most recent call last):
    ...
    cascade_core.readback.Unreadable: nested deeper than 2 levels
    >>> loads("{'a': 1}", what="view link")
    Traceback (most recent call last):
    ...
    cascade_core.readback.Unreadable: view link: not valid JSON: Expecting property name enclosed in double quotes (column 2)
    """
    where = f"{what}: " if what else ""
    if len(text) > max_chars:
        raise Unreadable(f"{where}{len(text):,} characters: more than {max_chars:,} is not what was written here")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"{where}not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") \
                from None
    # Only a text with that many brackets can nest that deep: the exact depth is measured then.
    if text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth:
        raise Unreadable(f"{where}nested deeper than {max_depth} levels")
    try:
        if non_finite == "unknown":
            return json.loads(text, parse_int=_int, parse_float=_float_or_unknown, parse_constant=lambda _: None)
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except Unreadable as exc:
        raise Unreadable(f"{where}{exc}") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{where}not valid JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:   # pragma: no cover - the checks above come first
        raise Unreadable(f"{where}not valid JSON: {cut(exc, 80)}") from None


def finite(value):
    """``value`` with every non-finite float (NaN, infinities) replaced by ``None``, through
    dicts, lists and tuples: what :func:`dumps` writes, so :func:`loads` can read it back.

    >>> finite({"a": [1.5, float("nan")], "b": (float("inf"),)})
    {'a': [1.5, None], 'b': [None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value, **kwargs) -> str:
    """``value`` as strict JSON that :func:`loads` reads back: non-finite numbers written as
    ``null`` (Python's ``json`` would write ``NaN``, which no strict reader takes).

    >>> dumps({"ms": float("nan"), "x": 1})
    '{"ms": null, "x": 1}'
    """
    return json.dumps(finite(value), allow_nan=False, **kwargs)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside strings (for a text that may be any length)."""
    depth = deepest = 0
    for b in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if b in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def read_json(path: str | Path, what: str = "", max_chars: int = MAX_CHARS, non_finite: str = "refuse"):
    """The JSON document in the file ``path``, read by :func:`loads`; a file that cannot be read
    is :class:`Unreadable` too (one line naming it).

    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "meta.json"
    >>> _ = p.write_text('{"dim": NaN}')
    >>> read_json(p, "the index's metadata")
    Traceback (most recent call last):
    ...
    cascade_core.readback.Unreadable: the index's metadata: not a finite number: NaN
    """
    path = Path(path)
    what = what or str(path)
    try:
        size = path.stat().st_size
        if size > max_chars * 4:   # UTF-8: at most 4 bytes a character; no need to read it all
            raise Unreadable(f"{what}: {size:,} bytes: more than {max_chars:,} characters is not what was "
                             "written here")
        data = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    return loads(data, what, max_chars, non_finite=non_finite)


def read_record(path: str | Path, what: str = "", max_chars: int = MAX_CHARS,
                non_finite: str = "refuse") -> dict:
    """:func:`read_json` of a file that holds one JSON object (``{...}``).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.json"
    >>> _ = p.write_text("[1]")
    >>> read_record(p, "x.json")
    Traceback (most recent call last):
    ...
    cascade_core.readback.Unreadable: x.json: a list, where a JSON object ({...}) belongs
    """
    data = read_json(path, what, max_chars, non_finite)
    if not isinstance(data, dict):
        raise Unreadable(f"{what or path}: a {_kind(data)}, where a JSON object ({{...}}) belongs")
    return data


def shipped_manifest(path: Path, corpus, instead: str) -> tuple[dict | None, str]:
    """The manifest (``path`` with ``.json``) of a file shipped beside a corpus (its vectors, a
    step's scores), read strictly and checked against the corpus's fingerprint: ``(manifest, "")``;
    ``(None, "")`` when nothing is shipped (not worth saying); ``(None, why not)`` otherwise, the
    reason ending with ``instead`` (what is done rather: "encoding instead").
    """
    manifest = path.with_suffix(".json")
    if not path.is_file() or not manifest.is_file():
        return None, ""
    try:
        meta = read_record(manifest)
    except Unreadable as exc:
        return None, f"{exc}: {instead}"
    if meta.get("corpus") != corpus.fingerprint:
        return None, f"{path.name} was made for another version of this corpus: {instead}"
    return meta, ""


@dataclass(frozen=True)
class SkippedLine:
    """A line of a log that was not read: its number (from 1) and why."""

    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: {self.reason}"


@dataclass
class LinesRead:
    """What :func:`read_lines` gives: the records in file order, and the lines it skipped."""

    records: list = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)


def read_lines(lines: Iterable[bytes | str], check: Callable[[dict], object] | None = None,
               first_number: int = 1, max_line: int = 1_000_000) -> LinesRead:
    """Each non-blank line of a JSON-lines log read by :func:`loads` (at most ``max_line``
    characters) as one object, then by ``check`` (which returns the record to keep, or raises
    :class:`~cascade_core.errors.CascadeError`, ``ValueError``, ``KeyError`` or ``TypeError`` to
    refuse it). A refused line is skipped, with its number and reason; the others are all kept.

    >>> def grade(rec):
    ...     if rec.get("grade") not in (0, 1, 2):
    ...         raise ValueError(f"grade {cut(rec.get('grade'))!s} is not 0, 1 or 2")
    ...     return rec["grade"]
    >>> got = read_lines([b'{"grade": 2}', b'{"grade": 7}', b'', b'{"grade": Infinity}', b'{"gra'], grade)
    >>> got.records, [str(s) for s in got.skipped]
    ([2], ['line 2: grade 7 is not 0, 1 or 2', 'line 4: not a finite number: Infinity', 'line 5: not valid JSON: Unterminated string starting at (column 2)'])
    """
    out = LinesRead()
    for number, line in enumerate(lines, start=first_number):
        if not line.strip():
            continue
        try:
            rec = loads(line, max_chars=max_line)
            if not isinstance(rec, dict):
                raise Unreadable(f"a {_kind(rec)}, where a JSON object belongs")
            out.records.append(check(rec) if check is not None else rec)
        except (CascadeError, ValueError, KeyError, TypeError) as exc:
            reason = str(exc) if not isinstance(exc, KeyError) else f"no {cut(exc.args[0])!r} field"
            out.skipped.append(SkippedLine(number, reason))
    return out


def _kind(value) -> str:
    return {dict: "JSON object", list: "list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "number")
