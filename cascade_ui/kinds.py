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
    hint = (f"Empty: the default, {default}." if default else cls.default_model_note or "This kind needs a model.")
    value = container.text_input(cls.model_label or MODEL_LABEL, current or default or "", key=key, help=hint)
    if default and cls.default_model_note and (value or default) == default:
        container.info(cls.default_model_note)
    return value.strip() or None


def param_widgets(container, cls, params: dict, key: str, skip=(), only=None) -> dict:
    """Widgets for the declared parameters of ``cls`` (a stage kind or a fusion), but ``skip`` (or
    only those in ``only``); return the params for the spec.

    Parameters it does not declare (or ``skip``) are kept as given. A declared one is written
    when it was given or differs from its default, and a given value left unchanged is written
    back exactly as given (``1`` stays ``1``, not ``1.0``: scorer ids show values). A parameter
    shown only with another's value (``only_with``: RRF's k beside ``fusion: rrf``) is drawn, and
    kept, only while that value is chosen.
    """
    owner = getattr(cls, "kind", "") or cls.name
    drawn = [p for p in cls.parameters if p.name not in skip and (only is None or p.name in only)]
    out = {k: v for k, v in params.items() if k not in {p.name for p in drawn}}
    chosen = {}
    for p in cls.parameters:
        try:
            chosen[p.name] = p.parse(owner, params)
        except SpecError:   # a bad loaded value: show the default; "Use" reports the rule
            chosen[p.name] = p.default
    for p in drawn:
        if p.only_with and chosen.get(p.only_with[0]) != p.only_with[1]:
            out.pop(p.name, None)   # another choice's parameter: not shown, not kept
            continue
        current = chosen[p.name]
        value = chosen[p.name] = _widget(container, p, current, f"{key}-{p.name}")
        if p.name in params and value == current:
            out[p.name] = params[p.name]
        elif p.name in params or value != p.default:
            out[p.name] = value
    return out


def lead_params(cls) -> set[str]:
    """The parameters others are shown with (a hybrid's ``fusion``) and those shown with them, and
    the one that says what the step is where a kind takes no model (a run's ``file``, its
    ``compact_param``), and those a kind declares ``leading`` (a rerank API's protocol and url): what
    the Build page puts beside the kind rather than in its parameters' expander.

    >>> sorted(lead_params(kind_class("hybrid", retriever=True))), lead_params(kind_class("run"))
    (['fusion', 'rrf_k', 'weight'], {'file'})
    """
    leads = {p.only_with[0] for p in cls.parameters if p.only_with}
    compact = getattr(cls, "compact_param", None)
    return (leads | {p.name for p in cls.parameters if p.only_with} | ({compact} if compact else set())
            | set(cls.leading))


def _widget(container, p, current, key: str):
    if p.type == "bool":
        return container.checkbox(p.name, bool(current), key=key, help=p.help or None)
    if p.kind_of_text:   # text, a path, a URL, the name of a key's variable
        return container.text_input(p.name, str(current), key=key, help=p.help or None).strip()
    if p.type == "choice":
        options = list(p.choices)
        return container.selectbox(p.name, options, index=options.index(current) if current in options else 0,
                                   key=key, help=p.help or None)
    whole = p.type == "int"
    if not whole and p.low is not None and p.high is not None and not p.low_open and p.high - p.low <= 1:
        # a share, a weight: a slider over its whole range
        return container.slider(p.name, float(p.low), float(p.high), float(current), step=0.05, key=key,
                                help=p.help or None)
    cast = int if whole else float
    low = None if p.low is None else (p.low + (1 if whole else 0) if p.low_open else p.low)
    if low is not None and p.low_open and not whole:
        low = None   # "> 0" has no smallest float: the spec check refuses 0 with a message
    step = 1 if whole else (0.05 if p.high is not None and p.high <= 1 else 0.1)
    return container.number_input(p.name, min_value=None if low is None else cast(low),
                                  max_value=None if p.high is None else cast(p.high), value=cast(current),
                                  step=cast(step), key=key, help=p.help or None,
                                  **({} if whole else {"format": "%g"}))
