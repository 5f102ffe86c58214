"""Widgets for any registered stage kind, drawn from its declaration (no list of kinds here).

The Build page asks the registry (:func:`cascade_core.scorers.registered`) which kinds exist,
how to name them, whether they take a model and its default, and which parameters they have
(type, default, range, choices, help); this module turns one kind's declaration into widgets.
A kind added in one file appears here with no edit.
"""

from __future__ import annotations

from cascade_core.errors import SpecError
from cascade_core.scorers import COST_SHAPES, registered
from cascade_core.scorers.base import pointwise_words

MODEL_LABEL = "Model (packaged name, local folder or hub id)"


def kind_choices(retriever: bool = False) -> tuple[list[str], dict[str, str]]:
    """The registered kinds (stages, or first passes) and their labels for people.

    >>> kinds, labels = kind_choices(retriever=True)
    >>> "bm25" in kinds, labels["bm25"]
    (True, 'BM25 (lexical)')
    """
    classes = registered(retriever)
    return list(classes), {k: c.label or k for k, c in classes.items()}


def kind_class(kind: str, retriever: bool = False):
    return registered(retriever)[kind]


def kind_caption(cls) -> str:
    """One line under the kind selector: pointwise or not, and what one query costs.

    >>> kind_caption(kind_class("cross-encoder"))
    'pointwise; cost per pair: the model reads every (query, document) pair: cost grows with the candidates'
    """
    parts = []
    if hasattr(cls, "pointwise"):
        parts.append(pointwise_words(cls.pointwise).replace(" (", ": ").rstrip(")"))
    parts.append(f"cost {cls.cost_shape.replace('-', ' ')}: {COST_SHAPES[cls.cost_shape]}")
    return "; ".join(parts)


def model_widget(container, cls, current: str | None, key: str) -> str | None:
    """A model box when the kind takes one (pre-filled with ``current`` or the kind's default)."""
    if not cls.takes_model:
        return None
    default = cls.default_model
    hint = (f"Empty: the default, {default}." if default else "This kind needs a model.")
    value = container.text_input(MODEL_LABEL, current or default or "", key=key, help=hint)
    if default and cls.default_model_note and (value or default) == default:
        container.info(cls.default_model_note)
    return value.strip() or None


def param_widgets(container, cls, params: dict, key: str, skip=()) -> dict:
    """Widgets for ``cls``'s declared parameters (but ``skip``); return the params for the spec.

    Parameters the kind does not declare (or ``skip``) are kept as given. A declared one is
    written when it was given or differs from its default, and a given value left unchanged is
    written back exactly as given (``1`` stays ``1``, not ``1.0``: scorer ids show values).
    """
    out = {k: v for k, v in params.items() if k in skip or k not in {p.name for p in cls.parameters}}
    shown = [p for p in cls.parameters if p.name not in skip]
    for p in shown:
        try:
            current = p.parse(cls.kind, params)
        except SpecError:   # a bad loaded value: show the default; "Use" reports the rule
            current = p.default
        value = _widget(container, p, current, f"{key}-{p.name}")
        if p.name in params and value == current:
            out[p.name] = params[p.name]
        elif p.name in params or value != p.default:
            out[p.name] = value
    return out


def _widget(container, p, current, key: str):
    if p.type == "bool":
        return container.checkbox(p.name, bool(current), key=key, help=p.help or None)
    if p.type == "text":
        return container.text_input(p.name, str(current), key=key, help=p.help or None).strip()
    if p.type == "choice":
        options = list(p.choices)
        return container.selectbox(p.name, options, index=options.index(current) if current in options else 0,
                                   key=key, help=p.help or None)
    whole = p.type == "int"
    cast = int if whole else float
    low = None if p.low is None else (p.low + (1 if whole else 0) if p.low_open else p.low)
    if low is not None and p.low_open and not whole:
        low = None   # "> 0" has no smallest float: the spec check refuses 0 with a message
    step = 1 if whole else (0.05 if p.high is not None and p.high <= 1 else 0.1)
    return container.number_input(p.name, min_value=None if low is None else cast(low),
                                  max_value=None if p.high is None else cast(p.high), value=cast(current),
                                  step=cast(step), key=key, help=p.help or None,
                                  **({} if whole else {"format": "%g"}))
