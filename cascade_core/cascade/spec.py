"""CascadeSpec: a first pass, a pool size, 0-4 rerank stages with cut-offs, and a final k.

Serialisable to YAML and JSON; every invalid spec is refused with a message saying what to change.

>>> spec = CascadeSpec.from_dict({
...     "first_pass": {"kind": "bm25"}, "pool_size": 100,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 20}],
...     "final_k": 10})
>>> spec.describe()
'bm25 -> 100 -> bi-encoder(all-MiniLM-L6-v2) -> 20 -> final 10'
>>> CascadeSpec.from_yaml(spec.to_yaml()) == spec
True

Semantics, stated once: each stage scores *every* candidate it receives, orders them by its
(combined) score, keeps the top ``keep`` and **drops the rest** (nothing is appended below).
``combine:`` says how a stage's scores meet the order it received: one of the registered fusions
(:mod:`cascade_core.fusion`: ``replace``, the default, keeps the stage's own score alone; others
fuse it with the incoming scores), its parameters beside it (``combine: rrf`` with ``rrf_k: 60``).
A fusion that normalises over the candidates present is exact in simulation: it is recomputed
over exactly the candidates each cut-off leaves.

A stage's cut-off may also adapt per query (:mod:`cascade_core.cascade.cutoff`): ``keep:
{drop: 0.2, min: 5, max: 100, scale: norm}`` keeps the candidates within 0.2 of the query's top
(normalised) score, at least 5 and at most 100; ``keep: {score: 0.5, ...}`` an absolute threshold.
Its ``keep`` is then the maximum, the bound every later cut-off and the latency bound see.

A spec may also say what each step costs where it will run (``costs:``, by step name: user-set,
or measured and scaled; see :mod:`cascade_core.latency.profiles`). Profiles change predicted latency
only, never what is scored: they are not part of :meth:`CascadeSpec.scorer_key`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..errors import SpecError
from ..fusion import Fusion, Replace, fusion_from_spec, fusion_names, fusion_param_names
from ..latency.profiles import CostProfile, parse_costs
from ..models.device import cluster_device, parse_device, resolve_device
from ..numbers import whole_number
from ..readback import Unreadable, loads
from ..scorers import (ScorerConfig, canonical_kind, compact_config, compact_text, retriever_class, retriever_kinds,
                       scorer_class, scorer_kinds)
from .cutoff import Cutoff
from .executor import Executor, parse_executor
from .spec_input import MAX_SPEC_BYTES, check_spec_fields, load_yaml

MAX_STAGES = 4
MAX_POOL = 10_000


@dataclass(frozen=True)
class StageSpec:
    scorer: ScorerConfig
    keep: int
    name: str = ""
    # how the stage's scores meet the order it received (:mod:`cascade_core.fusion`): a name and
    # its parameters, written beside ``combine:`` in YAML
    fusion: Fusion = field(default_factory=Replace)
    # None: keep exactly ``keep``; else a per-query rule with ``keep`` as its maximum count
    cutoff: Cutoff | None = None

    @property
    def adaptive(self) -> bool:
        return self.cutoff is not None

    @property
    def cutoff_label(self) -> str:
        """``20`` for a fixed cut-off, ``drop 0.2 (norm), 5-100`` for an adaptive one."""
        return self.cutoff.label(self.keep) if self.cutoff else str(self.keep)

    @property
    def combine(self) -> str:
        """The fusion's name, as the spec's ``combine:`` says it (``replace`` by default)."""
        return self.fusion.name

    def with_fusion(self, fusion: Fusion) -> "StageSpec":
        """A copy combining by ``fusion`` (what the tuner and the doctor's fixes try)."""
        return replace(self, fusion=fusion)

    def to_dict(self) -> dict:
        out = {"name": self.name, "scorer": self.scorer.to_dict(),
               "keep": self.cutoff.to_dict(self.keep) if self.cutoff else self.keep}
        if self.fusion.mixes:   # replace, the default, is left out
            out.update(self.fusion.to_spec())
        return out


@dataclass(frozen=True)
class CascadeSpec:
    first_pass: ScorerConfig
    pool_size: int = 100
    stages: tuple[StageSpec, ...] = field(default_factory=tuple)
    final_k: int = 10
    name: str = ""
    # Per step name, where its latency comes from (:mod:`cascade_core.latency.profiles`); a step
    # without an entry is priced as measured here. Not part of the scorer key: same scores.
    costs: tuple[tuple[str, CostProfile], ...] = ()
    # Where the steps' models run (:mod:`cascade_core.models.device`: auto, cpu, cuda, cuda:N, mps):
    # a run setting, not part of the scorer key (a kind scoring in half precision on a GPU says so
    # in its own id).
    device: str = "auto"
    # Where scoring runs (:mod:`cascade_core.cascade.executor`: local, ray, ray:ADDRESS): a run
    # setting like the device, not part of the scorer key (a cluster's scores are the same scores).
    executor: str = "local"

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(_name_stages(self.stages)))
        object.__setattr__(self, "device", parse_device(self.device))
        object.__setattr__(self, "executor", parse_executor(self.executor))
        # A derived spec (a prefix, the cascade without a stage, the first pass alone) keeps the
        # profiles of the steps it still has: the user's typos are refused in from_dict instead.
        names = self.stage_names
        object.__setattr__(self, "costs", tuple((n, p) for n, p in dict(self.costs).items() if n in names))
        self.validate()

    # -- validation --------------------------------------------------------------------------

    def validate(self) -> None:
        fp_kind = canonical_kind(self.first_pass.kind, retriever=True)
        if fp_kind not in retriever_kinds():
            raise SpecError(f"unknown first pass {self.first_pass.kind!r}; choose one of "
                            f"{', '.join(retriever_kinds())}")
        _check_params(retriever_class(fp_kind), self.first_pass, "first_pass")
        _positive_int(self.pool_size, "pool_size")
        if self.pool_size > MAX_POOL:
            raise SpecError(f"pool_size {self.pool_size} is above the limit of {MAX_POOL}")
        if len(self.stages) > MAX_STAGES:
            raise SpecError(f"a cascade has at most {MAX_STAGES} rerank stages; this one has {len(self.stages)}")
        previous, previous_name = self.pool_size, "pool_size"
        names = set()
        for i, st in enumerate(self.stages, start=1):
            label = f"stage {i} ({st.name or st.scorer.kind})"
            if canonical_kind(st.scorer.kind) not in scorer_kinds():
                raise SpecError(f"{label}: unknown scorer kind {st.scorer.kind!r}; choose one of "
                                f"{', '.join(scorer_kinds())}")
            _check_params(scorer_class(st.scorer.kind), st.scorer, label)
            _positive_int(st.keep, f"{label}: keep")
            if st.cutoff is not None and st.cutoff.min_keep > st.keep:
                raise SpecError(f"{label}: the cut-off's min={st.cutoff.min_keep} is larger than its max={st.keep}")
            if st.keep > previous:
                raise SpecError(f"{label}: keep={st.keep} is larger than {previous_name}={previous}; "
                                "cut-offs must not grow from one stage to the next")
            if not isinstance(st.fusion, Fusion):   # its parameters were checked when it was made
                raise SpecError(f"{label}: combine must be a fusion ({', '.join(fusion_names())}), not {st.fusion!r}")
            if st.name in names:
                raise SpecError(f"two stages are named {st.name!r}; stage names must be unique")
            names.add(st.name)
            previous, previous_name = st.keep, f"the keep of stage {i}"
        _positive_int(self.final_k, "final_k")
        if self.final_k > previous:
            raise SpecError(f"final_k={self.final_k} is larger than {previous_name}={previous}")

    # -- convenience -------------------------------------------------------------------------

    @property
    def cost_profiles(self) -> dict[str, CostProfile]:
        """``{step name: profile}`` of the steps not priced as measured here."""
        return dict(self.costs)

    def with_costs(self, costs: dict) -> "CascadeSpec":
        """A copy with these cost profiles (a mapping as in YAML; unknown steps are refused).

        >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
        ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}]})
        >>> spec.with_costs({"bm25": "x0.5"}).cost_profiles["bm25"].describe()
        'measured x 0.5'
        """
        return replace(self, costs=parse_costs(costs, self.stage_names))

    def with_costs_from(self, other: "CascadeSpec") -> "CascadeSpec":
        """A copy with ``other``'s profiles of the steps this spec has (an edited cascade keeps them)."""
        return replace(self, costs=other.costs)


    @property
    def stage_names(self) -> list[str]:
        """The first pass, then each stage's name."""
        return ["first pass"] + [st.name for st in self.stages]

    @property
    def keeps(self) -> list[int]:
        """How many candidates survive each step: the pool, then each stage's keep."""
        return [self.pool_size] + [st.keep for st in self.stages]

    def with_keeps(self, pool_size: int | None = None, keeps: list[int] | None = None,
                   final_k: int | None = None) -> "CascadeSpec":
        """A copy with other cut-offs (what a slider does), brought within "cut-offs never grow"
        (:func:`clamp_cutoffs`): a stage asked to keep more than it receives keeps all it receives.

        >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
        ...     "stages": [{"scorer": {"kind": "bm25"}, "keep": 20}], "final_k": 10})
        >>> spec.with_keeps(pool_size=10, keeps=[50], final_k=30).describe()
        'bm25 -> 10 -> bm25 -> 10 -> final 10'
        """
        pool, kept, final = clamp_cutoffs(int(pool_size or self.pool_size),
                                          [st.keep for st in self.stages] if keeps is None else keeps,
                                          int(final_k or self.final_k))
        return replace(self, pool_size=pool, stages=tuple(_with_keep(st, k) for st, k in zip(self.stages, kept)),
                       final_k=final)

    def prefix(self, n_stages: int) -> "CascadeSpec":
        """The first pass and the first ``n_stages`` stages (final_k clipped to fit)."""
        stages = self.stages[:n_stages]
        last = stages[-1].keep if stages else self.pool_size
        return replace(self, stages=stages, final_k=min(self.final_k, last))

    def scorer_key(self) -> str:
        """What must be scored, and nothing else: the first pass and each stage's scorer, in order.

        Cut-offs, combinations and names are left out: every spec with the same key simulates from
        one stored score matrix (one :class:`~cascade_core.analysis.experiment.Experiment`). The one
        answer to "do these two specs share scorers?".

        >>> a = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
        ...     "stages": [{"scorer": {"kind": "bi", "model": "m"}, "keep": 20}]})
        >>> b = a.with_keeps(pool_size=50, keeps=[5], final_k=5)
        >>> a.scorer_key() == b.scorer_key(), a.scorer_key() == a.prefix(0).scorer_key()
        (True, False)
        """
        configs = [(self.first_pass, True)] + [(st.scorer, False) for st in self.stages]
        return json.dumps([{**c.to_dict(), "kind": canonical_kind(c.kind, retriever=r)} for c, r in configs],
                          sort_keys=True)

    def runs_models_here(self) -> bool:
        """Whether a step's model runs in this process (where the device setting applies): a
        BM25-only cascade, or one of run files and servers, runs nothing here.

        >>> CascadeSpec.from_dict({"first_pass": "bm25", "pool_size": 5}).runs_models_here()
        False
        """
        steps = [retriever_class(self.first_pass.kind)] + [scorer_class(st.scorer.kind) for st in self.stages]
        return any(cls.uses_device for cls in steps) or any(
            canonical_kind(st.scorer.kind) == "llm" and not (st.scorer.params or {}).get("base_url")
            for st in self.stages)   # the llm kind runs here unless it calls a server

    def check_device(self) -> None:
        """A device this machine lacks is refused now (one ``ModelError``), when a step's model
        runs here; ``auto`` and ``cpu`` always do."""
        executor = Executor.parse(self.executor)
        executor.check()   # no Ray installed, or a cluster out of reach: one line before any work
        if not executor.is_local:
            cluster_device(self.device)   # a device a cluster cannot give (mps): refused now
        # on a cluster the workers have the device, not necessarily this machine
        if self.device not in ("auto", "cpu") and self.runs_models_here() and self.executor == "local":
            resolve_device(self.device)

    def missing_files(self) -> list[str]:
        """Files the steps read that are not there, one line each (see each kind's
        ``missing_files``): a spec can be valid and still name a run file deleted since.

        >>> CascadeSpec.from_dict({"first_pass": "run:/no/such.run", "pool_size": 5}).missing_files()
        ['run file /no/such.run: no such file']
        """
        steps = [(retriever_class(self.first_pass.kind), self.first_pass)] + \
            [(scorer_class(st.scorer.kind), st.scorer) for st in self.stages]
        return [line for cls, config in steps for line in cls.missing_files(config.params)]

    def same_steps(self, other: "CascadeSpec") -> bool:
        """Whether ``other`` runs the same steps: the same scorers (:meth:`scorer_key`) combined the
        same way at each stage. Cut-offs may differ. A name given to a cascade still fits a spec
        with the same steps; one whose scorers or fusions changed needs another (or none).

        >>> a = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
        ...     "stages": [{"scorer": {"kind": "bi", "model": "m"}, "keep": 20}]})
        >>> a.same_steps(a.with_keeps(keeps=[5], final_k=5))
        True
        >>> from cascade_core.fusion import fusion_from_spec
        >>> a.same_steps(replace(a, stages=(a.stages[0].with_fusion(fusion_from_spec({"combine": "rrf"}, "stage 1")),)))
        False
        """
        return self.scorer_key() == other.scorer_key() and \
            [st.fusion for st in self.stages] == [st.fusion for st in other.stages]

    @classmethod
    def widest(cls, scorer_key: str, device: str = "auto", executor: str = "local") -> "CascadeSpec":
        """The widest spec over a :meth:`scorer_key`'s scorers (pool and every keep at the limit),
        its models on ``device``, scored by ``executor``."""
        configs = [scorer_config(c, "scorer key") for c in json.loads(scorer_key)]
        return cls(first_pass=configs[0], pool_size=MAX_POOL, final_k=1,
                   stages=tuple(StageSpec(c, keep=MAX_POOL) for c in configs[1:]), device=device,
                   executor=executor)

    def describe(self) -> str:
        """The cascade in one line; a stage that fuses with the incoming order says how, because
        ``replace`` and ``norm-sum`` over the same scorer are different cascades.

        >>> CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "stages": [
        ...     {"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 20, "combine": "norm-sum"}]}).describe()
        'bm25 -> 100 -> bi-encoder(m) fused norm-sum 0.5 -> 20 -> final 10'
        """
        parts = [self.first_pass.label, str(self.pool_size)]
        for st in self.stages:
            fused = f" fused {st.fusion.label}" if st.fusion.mixes else ""
            parts += [st.scorer.label + fused, st.cutoff_label]
        return " -> ".join(parts) + f" -> final {self.final_k}"

    # -- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        out = {"first_pass": self.first_pass.to_dict(), "pool_size": self.pool_size,
               "stages": [st.to_dict() for st in self.stages], "final_k": self.final_k}
        if self.costs:
            out["costs"] = {n: p.to_dict() for n, p in self.costs}
        if self.device != "auto":
            out["device"] = self.device
        if self.executor != "local":
            out["executor"] = self.executor
        if self.name:
            out = {"name": self.name, **out}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "CascadeSpec":
        if not isinstance(data, dict):
            raise SpecError("a cascade spec must be a mapping with first_pass, pool_size, stages, final_k")
        check_spec_fields(data)   # sizes and the types of its free-text fields (names, kinds, models)
        _no_unknown(data, {"name", "first_pass", "pool_size", "stages", "final_k", "costs", "device", "executor"}, "spec")
        if "first_pass" not in data:
            raise SpecError("the spec has no first_pass (e.g. first_pass: {kind: bm25})")
        stages_data = data.get("stages") or []
        if not isinstance(stages_data, list):
            raise SpecError("stages must be a list")
        stages = []
        for i, sd in enumerate(stages_data, start=1):
            if not isinstance(sd, dict):
                raise SpecError(f"stage {i} must be a mapping with scorer and keep")
            _no_unknown(sd, {"name", "scorer", "keep", "combine"} | fusion_param_names(), f"stage {i}")
            if "scorer" not in sd or "keep" not in sd:
                raise SpecError(f"stage {i} needs a scorer and a keep (its cut-off)")
            scorer = scorer_config(sd["scorer"], f"stage {i} scorer")
            keep, cutoff = _keep(sd["keep"], f"stage {i} keep")
            stages.append(StageSpec(scorer=scorer, keep=keep, cutoff=cutoff,
                                    name=str(sd.get("name") or ""), fusion=fusion_from_spec(sd, f"stage {i}")))
        pool = _int(data.get("pool_size", 100), "pool_size")
        last = stages[-1].keep if stages else pool
        spec = cls(first_pass=scorer_config(data["first_pass"], "first_pass"),
                   pool_size=pool, stages=tuple(stages),
                   final_k=_int(data.get("final_k", min(10, last)), "final_k"),
                   name=str(data.get("name") or ""), device=data.get("device") or "auto",
                   executor="local" if data.get("executor") in (None, "") else data["executor"])
        return spec.with_costs(data["costs"]) if data.get("costs") else spec

    @classmethod
    def from_yaml(cls, text: str) -> "CascadeSpec":
        return cls.from_dict(load_yaml(text))   # bounded: no alias bomb, no endless nesting

    @classmethod
    def from_json(cls, text: str) -> "CascadeSpec":
        try:
            data = loads(text, "the spec", max_chars=MAX_SPEC_BYTES)
        except Unreadable as exc:
            raise SpecError(str(exc)) from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path) -> "CascadeSpec":
        """Read a spec file (``.json``, else YAML)."""
        p = Path(path)
        if not p.is_file():
            raise SpecError(f"spec file {path} does not exist")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"spec file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                            f"{exc.start}): save it as UTF-8 YAML or JSON") from None
        except OSError as exc:
            raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
        return cls.from_json(text) if p.suffix.lower() == ".json" else cls.from_yaml(text)


def keep_within(received: int, keep: int) -> int:
    """The rule "cut-offs never grow" for one step: it keeps at most what it receives, at least one.

    >>> keep_within(20, 50), keep_within(20, 5), keep_within(20, 0)
    (20, 5, 1)
    """
    return max(1, min(int(keep), int(received)))


def clamp_cutoffs(pool_size: int, keeps, final_k: int) -> tuple[int, list[int], int]:
    """Cut-offs brought within the rule, each step within what the one before keeps: the one home
    of "cut-offs never grow" for every control that moves them (the spec refuses what breaks it).

    >>> clamp_cutoffs(100, [200, 50, 80], 60)
    (100, [100, 50, 50], 50)
    """
    pool_size = max(1, int(pool_size))
    previous, out = pool_size, []
    for keep in keeps:
        previous = keep_within(previous, keep)
        out.append(previous)
    return pool_size, out, keep_within(previous, final_k)


def parse_stage(text: str) -> StageSpec:
    """Parse the CLI's compact stage form ``KIND[:MODEL]@KEEP``, or an adaptive cut-off
    ``KIND[:MODEL]@drop=D,min=N,max=M[,scale=norm]`` (``score=S`` for a threshold).

    >>> parse_stage("bi:all-MiniLM-L6-v2@20").keep
    20
    >>> parse_stage("bm25@50").scorer
    ScorerConfig(kind='bm25', model=None, params={})
    >>> parse_stage("bi:m@drop=0.2,min=5,max=100,scale=norm").cutoff_label
    'drop 0.2 (norm), 5-100'
    """
    body, sep, keep = text.rpartition("@")
    if not sep or not body:
        raise SpecError(f"stage {text!r}: expected KIND[:MODEL]@KEEP, e.g. bi:all-MiniLM-L6-v2@20 "
                        "(or @drop=0.2,min=5,max=100)")
    config = compact_config(body)
    if "=" in keep:
        cutoff, max_keep = Cutoff.parse(keep, f"stage {text!r}")
        return StageSpec(config, max_keep, cutoff=cutoff)
    return StageSpec(config, _int(keep, f"stage {text!r} keep"))


def stage_flag(stage: StageSpec) -> str:
    """A stage as ``--stage`` writes it (the inverse of :func:`parse_stage`, parameters aside).

    >>> stage_flag(parse_stage("bi:m@drop=0.2,min=5,max=100"))
    'bi-encoder:m@drop=0.2,min=5,max=100'
    """
    head = compact_text(stage.scorer)
    return f"{head}@{stage.cutoff.compact(stage.keep) if stage.cutoff else stage.keep}"


def _keep(value, where: str) -> tuple[int, Cutoff | None]:
    """A stage's ``keep:``: a whole number, or an adaptive cut-off's mapping."""
    if isinstance(value, dict):
        cutoff, max_keep = Cutoff.from_dict(value, where)
        return max_keep, cutoff
    return _int(value, where), None


def _with_keep(stage: StageSpec, keep: int) -> StageSpec:
    """``stage`` with another (maximum) count; an adaptive minimum above it comes down to it."""
    if stage.cutoff is not None and stage.cutoff.min_keep > keep:
        return replace(stage, keep=keep, cutoff=replace(stage.cutoff, min_keep=keep))
    return replace(stage, keep=keep)


def parse_first_pass(text: str) -> ScorerConfig:
    """Parse ``bm25``, ``dense:MODEL`` or ``hybrid:MODEL``.

    >>> parse_first_pass("dense:all-MiniLM-L6-v2")
    ScorerConfig(kind='dense', model='all-MiniLM-L6-v2', params={})
    """
    return compact_config(text, retriever=True)


def stage_names(stages: list[dict]) -> list[str]:
    """The names a spec's stages (mappings, as in YAML) will get: their own, else their kind,
    numbered when a kind repeats (``bm25``, ``bm25 #2``).

    >>> stage_names([{"scorer": "bm25"}, {"scorer": {"kind": "bm25"}}, {"name": "mine", "scorer": "bi:m"}])
    ['bm25', 'bm25 #2', 'mine']
    """
    return [st.name for st in _name_stages([StageSpec(scorer_config(sd.get("scorer"), "stage"), 1,
                                                      name=str(sd.get("name") or "")) for sd in stages])]


def _name_stages(stages) -> list[StageSpec]:
    """Give unnamed stages their kind as a name, numbered when a kind repeats."""
    out, seen = [], {}
    for st in stages:
        name = st.name or canonical_kind(st.scorer.kind)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1 and not st.name:
            name = f"{name} #{seen[name]}"
        out.append(replace(st, name=name))
    return out


def scorer_config(data, where: str) -> ScorerConfig:
    """A step's :class:`ScorerConfig` from a spec's ``scorer:`` (a mapping, or ``"kind[:model]"``);
    ``where`` names the step in an error."""
    if isinstance(data, str):   # the kind as written (checked later); the rest as the kind takes it
        config = compact_config(data, retriever=where == "first_pass")
        return ScorerConfig(data.partition(":")[0].strip(), config.model, config.params)
    if not isinstance(data, dict) or "kind" not in data:
        raise SpecError(f"{where} must be a mapping with a kind (and a model where the kind has one)")
    _no_unknown(data, {"kind", "model", "params"}, where)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise SpecError(f"{where} params must be a mapping")
    return ScorerConfig(str(data["kind"]), str(data["model"]) if data.get("model") else None, dict(params))


def _check_params(cls, config: ScorerConfig, where: str) -> None:
    """Check a step's parameters with its kind's own rules, so a bad one fails when the spec
    is read (naming the step), not as a library's exception in the middle of scoring."""
    if config.model and not cls.takes_model:
        raise SpecError(f"{where}: {config.kind} takes no model (got {config.model!r}); "
                        "leave the model out")
    try:
        cls.parse_params(config.params)
        cls.check_config(config)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None


def _no_unknown(data: dict, known: set, where: str) -> None:
    unknown = set(data) - known
    if unknown:
        shown = sorted(str(k) if str(k).isprintable() else repr(k) for k in unknown)   # one line, always
        raise SpecError(f"{where}: unknown key(s) {', '.join(shown)}; "
                        f"known: {', '.join(sorted(known))}")


def _int(value, what: str) -> int:
    return whole_number(value, what)


def _positive_int(value, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{what} must be a whole number >= 1, not {value!r}")
