"""One protocol for every stage: a scorer scores (query, documents); a retriever finds candidates.

A new kind of stage is one small class registered under a name. The class declares all the
Build page and the CLI say about it: a label, its model (and offline default), its parameters,
whether it is pointwise, and its cost shape. Its parameters are checked, and its cache id
derived from kind, model and every parameter, with no code of its own:

>>> @register("constant")
... class ConstantScorer(Scorer):
...     label = "constant (a test kind)"
...     takes_model = False
...     parameters = (Param("value", "number", 1.0, low=0, help="the score every document gets"),)
...     cost_shape = "per-query"
...     def score(self, query, doc_ids):
...         return np.full(len(doc_ids), self.parse_params(self.config.params)["value"])
>>> scorer_class("constant").__name__
'ConstantScorer'
>>> print(describe_kind(ConstantScorer))
constant: constant (a test kind); no model; pointwise; cost per query
    value (a number >= 0, default 1.0): the score every document gets
>>> ConstantScorer(ScorerConfig("constant", params={"value": 2}), None).id
'constant:value=2'
>>> ConstantScorer.parse_params({"valeu": 2})
Traceback (most recent call last):
...
cascade_core.errors.SpecError: unknown constant parameter(s) valeu; known: value
>>> unregister("constant")   # (this example's kind is not for keeps)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from ..errors import SpecError
from ..models import ResolvedModel, resolve_model
from ..models.device import half_precision, resolve_device, timing_key
from ..models.truncation import Cuts
from ..params import Param, check_param_names

if TYPE_CHECKING:
    from ..data import Corpus, QuerySet


class Workspace(Protocol):
    """What a kind may use of the data folder it scores in (the scoring layer's
    :class:`~cascade_core.scoring.workspace.Workspace` is one): its location, the objects every
    scorer of a process shares (an index built once), and the vector index of a corpus and model."""

    home: Path
    shared_objects: dict

    def vector_index(self, corpus: "Corpus", model: ResolvedModel): ...


@dataclass(frozen=True)
class ScorerConfig:
    """What to build: a kind, a model (where the kind has one), and parameters.

    >>> ScorerConfig("cross-encoder", "my/model", {"max_length": 256}).label
    'cross-encoder(my/model)'

    A kind names the parameters that say what it *is* (``label_params``: a hybrid's fusion), and
    the label shows them when set:

    >>> ScorerConfig("hybrid", "all-MiniLM-L6-v2", {"fusion": "dbsf", "depth": 200}).label
    'hybrid(all-MiniLM-L6-v2, fusion=dbsf)'
    """

    kind: str
    model: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        shown = [f"{name}={self.params[name]}" for name in _label_params(self.kind) if name in self.params]
        inside = ", ".join(([self.model] if self.model else []) + shown)
        return f"{self.kind}({inside})" if inside else self.kind

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.model:
            out["model"] = self.model
        if self.params:
            out["params"] = dict(self.params)
        return out

    def __hash__(self) -> int:  # params is a dict; hash its items
        return hash((self.kind, self.model, tuple(sorted(self.params.items()))))


@dataclass
class ScorerContext:
    """What a scorer may need besides its config: the corpus and the workspace's shared parts."""

    corpus: "Corpus"
    workspace: "Workspace"
    # The dataset's queries (id -> text), where the plan knows them: a kind whose data is keyed
    # by query id (a run file) matches the query texts it is given to them.
    queries: "QuerySet | None" = None
    # Where models run (:mod:`cascade_core.models.device`): the setting, resolved by a kind that
    # runs a model here when it first needs it (so a BM25-only cascade never imports torch).
    device: str = "auto"
    # Where the model runs when it is decided elsewhere, not resolved on this machine: a stage
    # scored on a Ray cluster runs on the workers' device (cascade_core.models.device.cluster_device).
    resolved_device: str | None = None


COST_SHAPES = {
    # What one query costs, in words (the Build page, the CLI's help and the docs show it). The
    # cost model fits ``fixed + per_pair * candidates`` on measured calls whatever the shape.
    "per-pair": "the model reads every (query, document) pair: cost grows with the candidates",
    "per-query": "mostly encoding the query or searching an index built ahead; each candidate adds little",
    # Read, not computed here (a run file): the time that matters is the system's that made it.
    "stated": "your system's time, from the file (latency_ms per query), else the cost profile you set",
    # A server's answer time, network included, timed here per call (a batch of candidates).
    "remote": "a server's answer time per call, network included, measured from here; money from the step's cost profile",
}


class Component(ABC):
    """What scorers and retrievers share: a config, the corpus, and the workspace.

    The class attributes below are the kind's declaration: the registry's whole knowledge of it.
    """

    kind: str = ""
    label: str = ""            # for people: what it is, in a few words ("BM25 over the candidates")
    takes_model: bool = True   # False: a model given to this kind is refused, not silently ignored
    default_model: str | None = None   # used when no model is given; None with a model: one is required
    default_model_note: str = ""       # shown beside the default model (e.g. that it is a stand-in)
    model_label: str = ""              # what its model box asks for, when not a model this tool loads
    parameters: tuple["Param", ...] = ()
    cost_shape: str = "per-pair"       # a key of COST_SHAPES
    libraries: tuple[str, ...] = ()    # distributions whose version changes its scores, beside the model stack
    leading: tuple[str, ...] = ()      # parameters that say what the step is (a server's url): shown beside the kind
    uses_device: bool = False          # its model runs here, in torch: the device setting applies
    half_on_gpu: bool = False          # and in half precision on a CUDA GPU (its scores then stored apart)

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        self.config = config
        self.ctx = ctx
        self.corpus = ctx.corpus if ctx is not None else None

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        """This kind's parameters, checked and with defaults filled in; a ``SpecError`` names a bad one.

        The spec calls it when it is validated, so a misspelled name or a bad value fails before
        any work, with a message (not a ``TypeError`` from deep inside a library); constructors
        call it too. Default: the declared ``parameters``, in their order.
        """
        check_param_names(cls.kind, params, [p.name for p in cls.parameters])
        return {p.name: p.parse(cls.kind, params) for p in cls.parameters}

    @classmethod
    def check_config(cls, config: ScorerConfig) -> None:
        """Rules across the model and the parameters (a protocol that needs a model name), checked
        when a spec is read, so every front end refuses the same cascade; default: none."""

    @property
    def model_name(self) -> str | None:
        """The model asked for, or the kind's default; a ``SpecError`` when the kind needs one."""
        if not self.takes_model:
            return None
        name = self.config.model or self.default_model
        if not name:
            raise SpecError(f"a {self.kind} step needs a model: a packaged name, a local folder or a hub id")
        return name

    @property
    def resolved_model(self) -> "ResolvedModel | None":
        """:attr:`model_name` resolved once (a folder's key hashes its files)."""
        if "_resolved_model" not in self.__dict__:
            name = self.model_name
            self.__dict__["_resolved_model"] = resolve_model(name) if name else None
        return self.__dict__["_resolved_model"]

    @property
    def cuts(self) -> "Cuts":
        """The documents this step cut to its model's limit (see :mod:`cascade_core.models.truncation`); a kind that
        cuts adds to it where it cuts, and the scoring report counts them per step."""
        if "_cuts" not in self.__dict__:
            self.__dict__.setdefault("_cuts", Cuts())
        return self.__dict__["_cuts"]

    # -- what a configuration reaches outside the process (the shared dashboard's guards) ----

    @classmethod
    def _texts_of(cls, params: dict, type_: str) -> list[str]:
        values = [params.get(p.name, p.default) for p in cls.parameters if p.type == type_]
        return [str(v).strip() for v in values if v not in (None, "") and str(v).strip()]

    @classmethod
    def opened_paths(cls, params: dict) -> list[str]:
        """The files and folders a configuration opens: its ``path`` parameters' values."""
        return cls._texts_of(params, "path")

    @classmethod
    def called_urls(cls, params: dict) -> list[str]:
        """The servers a configuration calls: its ``url`` parameters' values."""
        return cls._texts_of(params, "url")

    @classmethod
    def secret_envs(cls, params: dict) -> dict[str, str]:
        """``{parameter: variable}`` of its ``secret-env`` parameters, and each one's declared default."""
        return {p.name: str(params.get(p.name, p.default) or "").strip() for p in cls.parameters
                if p.type == "secret-env"}

    @property
    def device(self) -> str:
        """Where this step's model runs (``cpu``, ``cuda:0``, ``mps``): the setting resolved on
        this machine for a kind whose model runs here; ``cpu`` for the others (BM25, a run file, a
        server's model). A setting this machine cannot meet is one ``ModelError``."""
        if "_device" not in self.__dict__:
            setting = getattr(self.ctx, "device", "auto") if self.ctx is not None else "auto"
            decided = getattr(self.ctx, "resolved_device", None) if self.ctx is not None else None
            self.__dict__["_device"] = "cpu" if not self.uses_device else decided or resolve_device(setting)
        return self.__dict__["_device"]

    @property
    def precision_suffix(self) -> str:
        """``:fp16`` for a step scoring in half precision (a GPU), so its scores are stored apart
        from float32's; empty otherwise."""
        return ":fp16" if self.half_on_gpu and half_precision(self.device) else ""

    @property
    def timing_key(self) -> str:
        """Where this step's timed calls are kept: its id, and the device when not the CPU (a GPU's
        timings never price a CPU run, nor the reverse)."""
        return timing_key(self.id, self.device)

    def stated_seconds(self, query: str) -> float | None:
        """The time the step's own data states for ``query`` (a run file's ``latency_ms``: the
        system's time, recorded instead of the time this process took), or None: timed here."""
        return None

    def scoring_notes(self) -> list[str]:
        """Lines to report after scoring (what a step met while scoring); default: none."""
        return []

    @classmethod
    def missing_files(cls, params: dict) -> list[str]:
        """The files this configuration reads that are not there, one line each (a run file
        deleted since the spec was made); default: none. Asked only after the sharing checks, so
        it tells a visitor nothing about folders outside the data roots."""
        return []

    def load_model(self) -> None:
        """Load this step's model now, if it has one; default: none.

        Loaded models are cached per process, so scoring reuses them: loading first only moves
        the failure of a mistyped model id before the work of the steps ahead of it.
        """

    def resolved_models(self) -> list["ResolvedModel"]:
        """The models whose weights make this step's scores: by default the step's own model
        (:attr:`resolved_model`), none for a kind that takes no model (BM25 and the like).

        Each stored score then records the model's content hash (:mod:`cascade_core.store.provenance`),
        and the doctor can tell when the files behind a model name changed. A kind whose model
        lives elsewhere (the hybrid first pass's dense side) overrides this; a new kind that
        forgets to still records its own model.
        """
        model = self.resolved_model if self.takes_model else None
        return [model] if model is not None else []

    id_prefix = ""   # retrievers: "first-pass:", so a kind's lists and its stage scores never share an id

    @property
    def id(self) -> str:
        """Stable cache key: kind, model key and every parameter that changes a score.

        ``KIND[:MODEL_KEY][:PARAMS]``: the model part for a kind that takes one, the parameters
        (normalised, so ``256`` and ``"256"`` share scores) but those declared ``cache=False``
        (a batch size: speed only), each part left out when empty. A kind that overrides it takes
        on the duty to change the id with everything that changes a score.
        """
        model = self.resolved_model if self.takes_model else None
        params = self.parse_params(self.config.params)
        speed_only = {p.name for p in self.parameters if not p.cache}
        signature = params_signature({k: v for k, v in params.items() if k not in speed_only})
        return ":".join([f"{self.id_prefix}{self.kind}"] + ([model.key] if model else [])
                        + ([signature] if signature else [])) + self.precision_suffix


class Scorer(Component):
    """Scores documents of the corpus for a query. Higher is better.

    ``pointwise`` scorers give each document a score that does not depend on which other
    documents are scored with it: for them "score once, cut anywhere" is exact. A listwise one
    (False) is stored per candidate list it saw (:mod:`cascade_core.cascade.listwise`). A kind
    whose parameters decide declares None and sets ``pointwise`` on each instance.
    """

    pointwise: bool = True

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        """Offline work on the document side (indexing) before timed scoring; default: none."""

    @abstractmethod
    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        """Scores of ``doc_ids`` for ``query``, as a float array in the same order."""


class Retriever(Component):
    """A first pass: finds the top-``k`` documents of the whole corpus for a query."""

    id_prefix = "first-pass:"
    cost_shape = "per-query"

    def prepare(self, progress=None) -> None:
        """Build what retrieval needs (an index); default: none."""

    @abstractmethod
    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        """The top ``k`` document ids, best first, and their scores."""

    def coverage_note(self, qrels) -> str | None:
        """A line on judged documents this first pass can never return, whatever the cut-offs (an
        existing collection missing some), said after scoring; None by default."""
        return None

    @classmethod
    def qdrant_search(cls, config: ScorerConfig, pool_size: int):
        """How Qdrant's Query API runs this first pass (:class:`~.in_qdrant.QdrantSearch`), or None
        when it does not run inside Qdrant (the export refuses it, naming the kinds that do)."""
        return None

    def vector_source(self, name: str):
        """The vectors named ``name`` of :meth:`qdrant_search`, for a collection and a query
        (:class:`~.in_qdrant.VectorSource`); only kinds that declare a Qdrant search have them."""
        raise SpecError(f"a {self.kind} first pass has no vectors for Qdrant")

    @classmethod
    def runs_in_qdrant(cls) -> bool:
        return cls.qdrant_search.__func__ is not Retriever.qdrant_search.__func__

    @classmethod
    def fused_by(cls, params: dict):
        """The :class:`~cascade_core.fusion.Fusion` this first pass fuses its lists with (a hybrid's),
        or None; the doctor's score-scale check and the Qdrant export ask it."""
        return None


_SCORERS: dict[str, type] = {}
_RETRIEVERS: dict[str, type] = {}
_ALIASES: dict[tuple[str, bool], str] = {}


def register(kind: str, *aliases: str, retriever: bool = False) -> Callable[[type], type]:
    """Class decorator: make a scorer (or first-pass retriever) kind available by name."""

    def deco(cls: type) -> type:
        cls.kind = kind
        _check_declaration(cls)
        (_RETRIEVERS if retriever else _SCORERS)[kind] = cls
        for a in aliases:
            _ALIASES[(a, retriever)] = kind
        return cls

    return deco


def unregister(kind: str, retriever: bool = False) -> None:
    """Remove a kind and its aliases (a test's or a plugin's kind, when it is done with it)."""
    (_RETRIEVERS if retriever else _SCORERS).pop(kind, None)
    for key in [k for k, v in _ALIASES.items() if v == kind and k[1] == retriever]:
        del _ALIASES[key]


def canonical_kind(kind: str, retriever: bool = False) -> str:
    return _ALIASES.get((kind, retriever), kind)


def scorer_class(kind: str) -> type:
    kind = canonical_kind(kind)
    if kind not in _SCORERS:
        raise SpecError(f"unknown stage scorer kind {kind!r}; known: {', '.join(sorted(_SCORERS))}")
    return _SCORERS[kind]


def retriever_class(kind: str) -> type:
    kind = canonical_kind(kind, retriever=True)
    if kind not in _RETRIEVERS:
        raise SpecError(f"unknown first-pass kind {kind!r}; known: {', '.join(sorted(_RETRIEVERS))}")
    return _RETRIEVERS[kind]


def _label_params(kind: str) -> tuple:
    """The parameters a kind shows in its label (its ``label_params``), () for a kind not known."""
    for registry, retriever in ((_RETRIEVERS, True), (_SCORERS, False)):
        cls = registry.get(canonical_kind(kind, retriever))
        if cls is not None:
            return tuple(getattr(cls, "label_params", ()))
    return ()


def compact_config(text: str, retriever: bool = False) -> ScorerConfig:
    """The command line's ``KIND[:REST]`` as a config: ``REST`` is the model, or, for a kind that
    takes a file instead (its ``compact_param``), that parameter's value.

    >>> compact_config("bi:all-MiniLM-L6-v2")
    ScorerConfig(kind='bi-encoder', model='all-MiniLM-L6-v2', params={})
    >>> compact_config("run:runs/bm25.trec", retriever=True)
    ScorerConfig(kind='run', model=None, params={'file': 'runs/bm25.trec'})
    """
    kind, _, rest = text.partition(":")
    kind, rest = canonical_kind(kind.strip(), retriever), rest.strip()
    cls = (_RETRIEVERS if retriever else _SCORERS).get(kind)
    param = getattr(cls, "compact_param", None)
    if param and rest:
        return ScorerConfig(kind, None, {param: rest})
    return ScorerConfig(kind, rest or None)


def compact_text(config: ScorerConfig) -> str:
    """The inverse of :func:`compact_config` (other parameters aside).

    >>> compact_text(ScorerConfig("run", None, {"file": "a.run"})), compact_text(ScorerConfig("bm25"))
    ('run:a.run', 'bm25')
    """
    cls = _SCORERS.get(canonical_kind(config.kind)) or _RETRIEVERS.get(canonical_kind(config.kind, True))
    param = getattr(cls, "compact_param", None)
    rest = config.params.get(param) if param else config.model
    return canonical_kind(config.kind) + (f":{rest}" if rest else "")


def scorer_kinds() -> list[str]:
    return sorted(_SCORERS)


def retriever_kinds() -> list[str]:
    return sorted(_RETRIEVERS)


def registered(retriever: bool = False) -> dict[str, type]:
    """Every registered kind (rerank stages, or first passes) -> its class, by name.

    What the Build page offers and the CLI's help lists: no other list of kinds exists.
    """
    table = _RETRIEVERS if retriever else _SCORERS
    return {k: table[k] for k in sorted(table)}


def aliases_of(kind: str, retriever: bool = False) -> list[str]:
    """Other names the command line accepts for ``kind`` (``bi`` for ``bi-encoder``)."""
    return sorted(a for (a, r), k in _ALIASES.items() if r == retriever and k == kind and a != kind)


def describe_kind(cls: type) -> str:
    """One kind in words: name, label, model, pointwise, cost shape; then a line per parameter."""
    if not cls.takes_model:
        model = "no model"
    elif cls.model_label and cls.default_model_note:   # not a model this tool loads: say what it is
        model = f"model: {cls.default_model_note}"
    elif cls.default_model:
        model = f"model: default {cls.default_model}"
    else:
        model = "model: required"
    facts = [model]
    if issubclass(cls, Scorer):
        facts.append(pointwise_words(cls.pointwise))
    facts.append(f"cost {cls.cost_shape.replace('-', ' ')}")
    head = f"{cls.kind}: {cls.label}; {'; '.join(facts)}"
    notes = [f"    note: {cls.default_model_note}"] if cls.takes_model and cls.default_model_note \
        and not cls.model_label else []
    return "\n".join([head] + notes + [f"    {p.describe()}" for p in cls.parameters])


def pointwise_words(pointwise: bool | None) -> str:
    """A kind's ``pointwise`` declaration in words: ``None`` is a kind whose parameters decide.

    >>> pointwise_words(True), pointwise_words(None)
    ('pointwise', 'pointwise or listwise, by its mode parameter')
    """
    if pointwise is None:
        return "pointwise or listwise, by its mode parameter"
    return "pointwise" if pointwise else "listwise (scores depend on the other candidates)"


def _check_declaration(cls: type) -> None:
    """A kind's declaration is read by the UI and the CLI: refuse a malformed one at import."""
    if not cls.label:
        cls.label = cls.kind
    if cls.cost_shape not in COST_SHAPES:
        raise ValueError(f"kind {cls.kind!r}: cost_shape must be one of {', '.join(COST_SHAPES)}, "
                         f"not {cls.cost_shape!r}")
    names = [p.name for p in cls.parameters]
    if len(set(names)) != len(names):
        raise ValueError(f"kind {cls.kind!r} declares a parameter twice: {names}")


def params_signature(params: dict) -> str:
    """``k1=0.9,b=0.4`` style string of parameters, sorted, for scorer ids."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))
