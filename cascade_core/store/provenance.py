"""Where a score came from: the model's content, the library versions, the machine.

A model's *name* does not pin its weights: a packaged model is upgraded in place, a hub id
points at whatever revision was downloaded last, a folder is retrained. So every scoring run
records a :func:`model_fingerprint` (a hash of the weight files' content) of each model it used,
the :func:`library_versions` that ran it, and the :func:`machine` it ran on (for timings). The
doctor (:mod:`cascade_core.doctor.provenance`) reads them back to warn when stored scores mix
revisions, or were timed elsewhere.

>>> sorted(machine())
['cores', 'cpu', 'hostname', 'id', 'machine', 'system']
>>> "numpy" in library_versions(), machine_id() == machine()["id"]
(True, True)
>>> relevant_libraries({"libraries": ["rank-bm25", "PyStemmer"]}, has_models=False)
('rank-bm25', 'PyStemmer')
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import socket
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

import pandas as pd

from ..models.device import device_name
from ..models.fingerprint import fingerprint_as_loaded, model_fingerprint

if TYPE_CHECKING:
    from ..scorers.base import Component

# Distributions whose version can change a score or a timing (missing ones are left out).
LIBRARIES = ("cascade-explorer", "torch", "transformers", "sentence-transformers", "rank-bm25", "PyStemmer",
             "qdrant-client", "numpy")
MODEL_LIBRARIES = ("torch", "transformers", "sentence-transformers")


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in LIBRARIES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def library_versions() -> dict[str, str]:
    """``{distribution: version}`` of the libraries in :data:`LIBRARIES` installed here (asked once)."""
    return dict(_versions())


def relevant_libraries(now: dict, has_models: bool) -> tuple[str, ...]:
    """The libraries whose version can change a step's scores: the model stack for a step with a
    model, and those its kind declares (:attr:`~cascade_core.scorers.base.Component.libraries`:
    rank-bm25 and PyStemmer for BM25; a hybrid has both), as its provenance ``now`` records them."""
    declared = tuple(now.get("libraries") or ())
    return tuple(dict.fromkeys((MODEL_LIBRARIES if has_models else ()) + declared))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _machine() -> tuple[tuple[str, object], ...]:
    info = {"hostname": socket.gethostname(), "cpu": _cpu_model(), "cores": os.cpu_count() or 0,
            "machine": platform.machine(), "system": platform.system()}
    info["id"] = hashlib.sha1(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12]
    return tuple(info.items())


def machine() -> dict:
    """This machine as timings depend on it: host name, CPU model, logical cores, architecture, OS,
    and ``id``, a short hash of them all (stable for the machine, different on another)."""
    return dict(_machine())


def machine_id() -> str:
    """The short stable id of this machine (see :func:`machine`)."""
    return dict(_machine())["id"]


def same_hardware(a: dict, b: dict) -> bool:
    """Two :func:`machine` records with the same CPU model, cores, architecture and OS (the host
    name may differ: a fresh container on the same kind of machine times alike).

    >>> same_hardware({"cpu": "X", "cores": 2, "hostname": "a"}, {"cpu": "X", "cores": 2, "hostname": "b"})
    True
    """
    return all(a.get(k) == b.get(k) for k in ("cpu", "cores", "machine", "system"))


# -- a step's provenance ----------------------------------------------------------------------

def step_provenance(component: "Component", as_loaded: bool = True) -> dict:
    """What produces a step's scores now: ``{"models": {name: fingerprint}, "versions": {...},
    "machine": {...}}``. ``as_loaded``: the weights loaded in this process where there are any
    (for recording scores); False: the files on disk (what a fresh run would load)."""
    fp = fingerprint_as_loaded if as_loaded else model_fingerprint
    out = {"models": {m.name: fp(m) for m in component.resolved_models()},
           "versions": library_versions(), "machine": machine(), "libraries": list(component.libraries)}
    if getattr(component, "uses_device", False):   # where its model ran: a GPU's scores and timings say so
        out["device"] = device_name(component.device)
    return out


# -- reading it back: what made a step's stored scores and timings ---------------------------

@dataclass
class StepProvenance:
    """What the stored scores and timings of one step were made by (counts per fingerprint,
    library version and machine), beside what would make them now."""

    step: str
    scorer: str
    current: dict                                    # {"models", "versions", "machine"}
    scores: int = 0
    unknown_scores: int = 0
    models: dict = field(default_factory=dict)       # {model name: {fingerprint: scores}}
    versions: dict = field(default_factory=dict)     # {library: {version: scores}}
    machines: dict = field(default_factory=dict)     # {machine id: {**machine, "scores": n}}
    runs: list = field(default_factory=list)         # run ids behind the scores
    calls: int = 0
    unknown_calls: int = 0
    cost_machines: dict = field(default_factory=dict)  # {machine id: {**machine, "calls": n}}

    @property
    def relevant_libraries(self) -> tuple[str, ...]:
        has_models = bool(self.current.get("models")) or bool(self.models)
        return relevant_libraries(self.current, has_models)

    def to_dict(self) -> dict:
        current_models = self.current.get("models") or {}
        return {"step": self.step, "scorer": self.scorer, "scores": self.scores,
                "scores of unknown provenance": self.unknown_scores,
                "models": {name: {"now": current_models.get(name), "scores by fingerprint": dict(fps)}
                           for name, fps in self.model_names().items()},
                "versions": {lib: dict(v) for lib, v in self.versions.items()},
                "relevant libraries": list(self.relevant_libraries),
                "machines": {mid: dict(m) for mid, m in self.machines.items()},
                "runs": list(self.runs),
                "costs": {"calls": self.calls, "calls of unknown provenance": self.unknown_calls,
                          "machines": {mid: dict(m) for mid, m in self.cost_machines.items()}}}

    def model_names(self) -> dict:
        """``{model name: {fingerprint: scores}}``, with the models of "now" that made no score yet."""
        names = dict(self.models)
        for name in self.current.get("models") or {}:
            names.setdefault(name, {})
        return names


def gather(store, corpus_fingerprint: str, step: str, scorer: str, current: dict,
           query_keys=None) -> StepProvenance:
    """Count the stored scores (of ``query_keys``, if given) and cost records of one step by the
    model fingerprint, library version and machine that made them."""
    out = StepProvenance(step, scorer, current)
    for row in store.score_provenance(scorer, corpus_fingerprint, query_keys):
        n = row["scores"]
        out.scores += n
        if row["run"] is None:
            out.unknown_scores += n
            continue
        out.runs.append(row["run"])
        for name, fp in (row["models"] or {}).items():
            _add(out.models.setdefault(name, {}), fp, n)
        for lib, ver in (row["versions"] or {}).items():
            _add(out.versions.setdefault(lib, {}), ver, n)
        m = row["machine"] or {}
        slot = out.machines.setdefault(row["machine_id"], {**_describe_keys(m), "scores": 0})
        slot["scores"] += n
    for row in store.cost_provenance(scorer):
        n = row["calls"]
        out.calls += n
        if row["run"] is None:
            out.unknown_calls += n
            continue
        m = row["machine"] or {}
        slot = out.cost_machines.setdefault(row["machine_id"], {**_describe_keys(m), "calls": 0})
        slot["calls"] += n
    return out


def _add(counts: dict, key, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _describe_keys(m: dict) -> dict:
    out = {k: m.get(k) for k in ("hostname", "cpu", "cores", "machine", "system")}
    if m.get("executor"):   # timed in a Ray worker (:mod:`cascade_core.scoring.on_ray`), not this process
        out["executor"] = m["executor"]
    return out


def cost_source(store, scorer: str, most_recent: int = 5000) -> str:
    """Where a step's recent timed calls were made, for the latency figure's source: "measured
    here", unless some were timed in Ray workers (:mod:`cascade_core.scoring.on_ray`), which is
    then said, so cluster timings are never read as this process's.

    >>> import tempfile, os
    >>> from cascade_core.store.scores import ScoreStore
    >>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "scores.sqlite"))
    >>> worker = {"machine": {**machine(), "executor": "ray", "id": machine_id() + "-ray"}}
    >>> store.record_costs("ce", [(10, 100, 0.02)], run=store.start_run("ce", "c", worker))
    >>> cost_source(store, "ce")
    'measured in Ray workers'
    >>> store.record_costs("ce", [(10, 100, 0.02)] * 3, run=store.start_run("ce", "c", {"machine": machine()}))
    >>> cost_source(store, "ce")
    'measured here and in Ray workers (1 of 4 calls)'
    """
    rows = store.cost_provenance(scorer, most_recent)
    total = sum(r["calls"] for r in rows)
    on_ray = sum(r["calls"] for r in rows if (r["machine"] or {}).get("executor") == "ray")
    if not on_ray:
        return "measured here"
    if on_ray == total:
        return "measured in Ray workers"
    return f"measured here and in Ray workers ({on_ray:,} of {total:,} calls)"


def describe_machine(m: dict) -> str:
    """A machine for a sentence.

    >>> describe_machine({"hostname": "gpu-1", "cpu": "AMD EPYC", "cores": 16})
    'gpu-1 (AMD EPYC, 16 cores)'
    >>> describe_machine({"hostname": "gpu-1", "cpu": "AMD EPYC", "cores": 16, "executor": "ray"})
    'gpu-1 (AMD EPYC, 16 cores; a Ray worker)'
    """
    worker = "; a Ray worker" if m.get("executor") == "ray" else ""
    return f"{m.get('hostname') or '?'} ({m.get('cpu') or '?'}, {m.get('cores') or '?'} cores{worker})"


def plan_steps(plan) -> list[tuple[str, str, dict]]:
    """``(step name, scorer id, provenance now)`` of each step of a :class:`CascadePlan`; "now"
    is the model files on disk (what a fresh run would load), this environment, this machine."""
    components = [plan.retriever] + list(plan.scorers)
    return [(name, c.id, step_provenance(c, as_loaded=False))
            for name, c in zip(plan.spec.stage_names, components)]


def steps_now(steps, current: dict | None) -> list[tuple[str, str, dict]]:
    """``(step name, scorer id, provenance now)`` of ``steps`` (a plan or such triples), with this
    environment filled in and ``current`` laid over it."""
    if hasattr(steps, "retriever") and hasattr(steps, "scorers"):
        steps = plan_steps(steps)
    now = {"versions": library_versions(), "machine": machine()}
    out = []
    for name, scorer, prov in steps:
        out.append((name, scorer, {"models": {}, **now, **(prov or {}), **(current or {})}))
    return out


def provenance_report(store, corpus_fingerprint: str, steps, query_keys=None,
                      current: dict | None = None) -> dict:
    """The provenance of every step's stored scores and timings, as plain data: ``{"environment":
    {"versions", "machine"}, "steps": [{"step", "scorer", "scores", "models", "versions",
    "machines", "costs", ...}, ...]}``, so a reported number can be traced and reproduced."""
    steps = steps_now(steps, current)
    env = {"versions": library_versions(), "machine": machine()}
    env.update({k: v for k, v in (current or {}).items() if k in env})
    return {"environment": env,
            "steps": [gather(store, corpus_fingerprint, name, scorer, prov, query_keys).to_dict()
                      for name, scorer, prov in steps]}


def provenance_table(report: dict):
    """One row per step of a :func:`provenance_report`: what made its scores and timings, for a
    report a person reads (fingerprints shortened to 12 characters, counts in brackets)."""
    def short(fp) -> str:
        return str(fp).replace("sha256:", "")[:12] if fp else "?"

    def counted(d: dict) -> str:
        return ", ".join(f"{short(k) if str(k).startswith('sha256:') else k} ({v:,})" for k, v in d.items()) or "-"

    rows = []
    for s in report.get("steps", []):
        models = "; ".join(f"{name}: now {short(m['now'])}, scores by {counted(m['scores by fingerprint'])}"
                           for name, m in s["models"].items()) or "no model"
        libs = "; ".join(f"{lib} {counted(s['versions'].get(lib, {}))}" for lib in s["relevant libraries"])
        machines = ", ".join(f"{m.get('hostname') or mid} ({m.get('calls', 0):,} calls)"
                             for mid, m in s["costs"]["machines"].items()) or "-"
        rows.append({"step": s["step"], "scorer": s["scorer"], "scores": s["scores"],
                     "unknown provenance": s["scores of unknown provenance"], "models": models,
                     "libraries": libs or "-", "latency measured on": machines})
    return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()
