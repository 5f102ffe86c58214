"""The fusions there are, by name: registered once, asked by every reader.

The spec reads a stage's ``combine:`` and its parameters through :func:`fusion_from_spec`; the
Build page offers :func:`registered_fusions`; ``cascade tune --combine`` reads
:func:`parse_fusion`; the tuner and the doctor try :func:`tuning_candidates`; the hybrid first pass
offers the fusions that fuse separate lists (:func:`list_fusions`). No other list of fusions exists.
"""

from __future__ import annotations

from ..errors import SpecError
from .base import Fusion

_FUSIONS: dict[str, type[Fusion]] = {}


def register_fusion(cls: type[Fusion]) -> type[Fusion]:
    """Class decorator: make a fusion available by its ``name`` (checked at import)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a fusion needs a name")
    names = [p.name for p in cls.parameters]
    if len(set(names)) != len(names):
        raise ValueError(f"fusion {cls.name!r} declares a parameter twice: {names}")
    for values in cls.tuning:   # the values the tuner tries must be valid ones
        cls(**values)
    _FUSIONS[cls.name] = cls
    return cls


def unregister_fusion(name: str) -> None:
    """Remove a fusion (a test's or a plugin's, when it is done with it)."""
    _FUSIONS.pop(name, None)


def registered_fusions() -> dict[str, type[Fusion]]:
    """Every fusion by name, in their declared ``position`` (``replace`` first), then by name."""
    return dict(sorted(_FUSIONS.items(), key=lambda kv: (kv[1].position, kv[0])))


def fusion_names() -> list[str]:
    return list(registered_fusions())


def fusion_class(name: str) -> type[Fusion]:
    if name not in _FUSIONS:
        raise SpecError(f"combine must be one of {', '.join(fusion_names())}, not {name!r}")
    return _FUSIONS[name]


def make_fusion(name: str, **params) -> Fusion:
    """The fusion called ``name`` with these parameters (checked; missing ones take defaults).

    >>> make_fusion("rrf", rrf_k=2).label
    'rrf k=2'
    >>> make_fusion("rrf", weight=0.5)
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: unknown rrf parameter(s) weight; known: rrf_k
    """
    return fusion_class(name)(**params)


def parse_fusion(text: str) -> Fusion:
    """A fusion from its short form, ``NAME[:VALUE[:VALUE]]``, values in the order of its parameters.

    >>> parse_fusion("norm-sum:0.3").label, parse_fusion("rrf").label, parse_fusion("dbsf").label
    ('norm-sum 0.3', 'rrf k=60', 'dbsf')
    """
    name, *values = [part.strip() for part in text.strip().split(":")]
    cls = fusion_class(name)
    if len(values) > len(cls.parameters):
        raise SpecError(f"{text!r}: {name} takes {len(cls.parameters) or 'no'} value(s)"
                        + (f" ({', '.join(p.name for p in cls.parameters)})" if cls.parameters else ""))
    return cls(**{p.name: v for p, v in zip(cls.parameters, values)})


def fusion_param_names() -> set[str]:
    """Every parameter name some fusion takes: the keys a spec's stage may carry beside ``combine``."""
    return {p.name for cls in _FUSIONS.values() for p in cls.parameters}


def fusion_from_spec(data: dict, where: str) -> Fusion:
    """The fusion a spec's stage mapping names (``combine:`` and its parameters beside it).

    A parameter of another fusion is refused, naming whose it is (it would otherwise be ignored).

    >>> fusion_from_spec({"combine": "norm-sum", "weight": 0.3}, "stage 1").label
    'norm-sum 0.3'
    >>> fusion_from_spec({"combine": "rrf", "weight": 0.3}, "stage 1")
    Traceback (most recent call last):
    ...
    cascade_core.errors.SpecError: stage 1: weight is a parameter of norm-sum, not of rrf
    """
    name = data.get("combine", "replace")
    if not isinstance(name, str):
        raise SpecError(f"{where}: combine must be one of {', '.join(fusion_names())}, not {name!r}")
    try:
        cls = fusion_class(name)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    own = {p.name for p in cls.parameters}
    for key in sorted(set(data) & fusion_param_names() - own):
        owners = [n for n, c in registered_fusions().items() if key in {p.name for p in c.parameters}]
        raise SpecError(f"{where}: {key} is a parameter of {' and '.join(owners)}, not of {name}")
    try:
        return cls(**{k: data[k] for k in own if k in data})
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None


def tuning_candidates(names=None) -> tuple[Fusion, ...]:
    """The fusions the tuner and the doctor's fixes try: each fusion (or those in ``names``) at each
    of its declared ``tuning`` parameter sets, ``replace`` first.

    >>> [f.label for f in tuning_candidates()]
    ['replace', 'rrf k=60', 'norm-sum 0.3', 'norm-sum 0.5', 'norm-sum 0.7', 'dbsf']
    """
    return tuple(cls(**values) for name, cls in registered_fusions().items()
                 if names is None or name in names for values in cls.tuning)


def list_fusions() -> dict[str, type[Fusion]]:
    """The fusions that fuse separate ranked lists (what a hybrid first pass may use)."""
    return {n: c for n, c in registered_fusions().items() if c.fuses_lists}
