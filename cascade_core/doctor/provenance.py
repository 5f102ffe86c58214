"""Can these numbers be reproduced? The doctor's ``provenance`` and ``latency-machine`` checks.

Every scoring run records what produced it (:mod:`cascade_core.store.provenance`: the content hash of
each model's files, the library versions, the machine), and its scores and timings point at it.
Per step of a cascade, two checks read it back:

**Provenance** (``provenance``): a ``warning`` when the stored scores behind the step mix model
revisions (the same model name, different weights: a package upgraded, a folder retrained, a hub
id re-downloaded), when the model's files on disk now differ from those that made the scores
(stale: a fresh run would score differently), or when they mix versions of the libraries that
compute them (torch, transformers, sentence-transformers for a model; rank-bm25 and PyStemmer
for BM25). ``info`` when some scores predate provenance (unknown), or when a relevant library was
upgraded since. Fix: forget the scorer's stored scores (``cascade forget``) and score again.

**Where latency was measured** (``latency-machine``): the cost model fits a scorer's most recent
5,000 timed calls; a ``warning`` when some were timed on a machine with other hardware (CPU
model, cores, architecture, OS) than this one, ``info`` when only the host name differs.

:func:`cascade_core.store.provenance.provenance_report` gives the same facts as plain data, for
JSON and HTML reports.

>>> import os, tempfile
>>> from cascade_core.store.scores import ScoreStore
>>> store = ScoreStore(os.path.join(tempfile.mkdtemp(), "s.sqlite"))
>>> here = {"id": "m-here", "hostname": "here", "cpu": "X", "cores": 2, "machine": "x86_64", "system": "Linux"}
>>> def prov(fp, torch="2.3.0", machine=here):
...     return {"models": {"my-ce": fp}, "versions": {"torch": torch}, "machine": machine}
>>> old = store.start_run("ce", "c1", prov("sha256:aaaa"))
>>> store.put("ce", "c1", "q1", ["d1", "d2"], [0.1, 0.2], run=old)
>>> store.record_costs("ce", [(2, 100, 0.01), (1, 60, 0.006)], run=old)
>>> new = store.start_run("ce", "c1", prov("sha256:bbbb"))
>>> store.put("ce", "c1", "q2", ["d1"], [0.3], run=new)
>>> check, timing = check_provenance(store, "c1", [("cross-encoder", "ce", prov("sha256:bbbb"))])
>>> check.status, check.severity, check.stage
('flagged', 'warning', 'cross-encoder')
>>> check.finding.title
'cross-encoder: stored scores mix 2 revisions of model my-ce (sha256:aaaa: 2 scores, sha256:bbbb: 1)'
>>> timing.status, timing.summary
('ok', 'all 2 timed calls were measured on this machine (here)')
"""

from __future__ import annotations

import shlex

from ..models.fingerprint import UNKNOWN_HUB
from ..store.provenance import StepProvenance, describe_machine, gather, same_hardware, steps_now
from .findings import Check, Finding

KIND = "provenance"
LATENCY_KIND = "latency-machine"


# -- the checks -------------------------------------------------------------------------------

def check_provenance(store, corpus_fingerprint: str, steps, query_keys=None,
                     current: dict | None = None, dataset: str = "DATASET") -> list[Check]:
    """Per step, a ``provenance`` check of its stored scores and a ``latency-machine`` check of
    its timings, in step order.

    ``steps`` is a :class:`~cascade_core.scoring.ensure.CascadePlan` or ``(step name, scorer id,
    provenance now)`` triples (``{"models": {name: fingerprint}, "versions", "machine"}``, as
    :func:`cascade_core.store.provenance.step_provenance` makes it); ``query_keys`` limits the scores
    looked at to those queries (:func:`cascade_core.store.scores.query_key`); ``current`` overrides parts
    of every step's "now" (``{"machine": ...}``, ``{"versions": ...}``), e.g. to ask about another
    environment. ``dataset`` is the path the fixes' ``cascade forget`` commands name.
    """
    checks = []
    for name, scorer, prov in steps_now(steps, current):
        info = gather(store, corpus_fingerprint, name, scorer, prov, query_keys)
        checks.append(_scores_check(info, dataset))
        checks.append(_latency_check(info, dataset))
    return checks


def experiment_checks(exp) -> list[Check]:
    """The ``provenance`` and ``latency-machine`` checks of an experiment's steps: its stored
    scores (of its own queries) and timings, against what would make them now."""
    return check_provenance(exp.workspace.store, exp.dataset.corpus.fingerprint, exp.plan, exp.query_keys(),
                            dataset=exp.dataset.source or "DATASET")


def forget_command(scorer: str, costs: bool = False, dataset: str = "DATASET") -> str:
    """The command that clears a scorer's stored scores, so the next run rescores them.

    >>> forget_command("bm25:k1=0.9")
    "cascade forget --dataset DATASET --scorer 'bm25:k1=0.9'"
    """
    return f"cascade forget --dataset {shlex.quote(str(dataset))} --scorer '{scorer}'" + (" --costs" if costs else "")


def _scores_check(p: StepProvenance, dataset: str = "DATASET") -> Check:
    title = f"Provenance of {p.step}'s scores"
    if p.scores == 0:
        return Check(KIND, title, "not checked", "no stored scores for this step yet", stage=p.step)
    ev: dict = {"scorer": p.scorer, "scores": p.scores}
    heads, warnings = _model_issues(p, ev)
    v_heads, v_warnings, notes = _version_issues(p, ev)
    heads, warnings = heads + v_heads, warnings + v_warnings
    if p.unknown_scores:
        ev["scores of unknown provenance"] = p.unknown_scores
        notes.append(f"{p.unknown_scores:,} of {p.scores:,} stored scores were made before provenance was recorded: "
                     f"which model revision and library versions made them is unknown.")
    forget = (f"`{forget_command(p.scorer, dataset=dataset)}` forgets this scorer's {p.scores:,} stored scores on this corpus, and "
              f"the next evaluation scores them again (in code: store.drop_scores(scorer, corpus)).")
    if warnings:
        finding = Finding(KIND, "warning", f"{p.step}: " + "; ".join(heads or ["provenance mixed"]),
                          " ".join(warnings + notes), ev,
                          f"Rescore with the current model and libraries: {forget}", stage=p.step)
        return Check(KIND, title, "flagged", finding.title, finding, ev, stage=p.step)
    if notes:
        headline = ("some stored scores have unknown provenance" if p.unknown_scores
                    else "libraries upgraded since scoring")
        why = "To record provenance, rescore" if p.unknown_scores else "To score with one version, rescore"
        finding = Finding(KIND, "info", f"{p.step}: {headline}", " ".join(notes), ev, f"{why}: {forget}",
                          stage=p.step)
        return Check(KIND, title, "flagged", finding.title, finding, ev, stage=p.step)
    made_by = ", ".join(f"{name} {next(iter(fps))}" for name, fps in p.models.items())
    libs = ", ".join(f"{lib} {next(iter(p.versions[lib]))}" for lib in p.relevant_libraries if p.versions.get(lib))
    what = "; ".join(x for x in (made_by, libs) if x) or "one environment"
    return Check(KIND, title, "ok", f"all {p.scores:,} stored scores were made by {what}", evidence=ev, stage=p.step)


def _model_issues(p: StepProvenance, ev: dict) -> tuple[list[str], list[str]]:
    """Headlines and explanations of mixed model revisions and of files changed since scoring;
    fills ``ev`` with the scores per fingerprint and the fingerprint on disk now."""
    heads, warnings = [], []
    now_models = p.current.get("models") or {}
    for name, fps in p.model_names().items():
        now = now_models.get(name)
        if now is not None:
            ev[f"{name} on disk now"] = now
        ranked = sorted(fps.items(), key=lambda kv: -kv[1])
        for fp, n in ranked:
            ev[f"scores by {name} {fp}"] = n
        listed = ", ".join(f"{fp}: {n:,} score{'s' * (n != 1)}" if i == 0 else f"{fp}: {n:,}"
                           for i, (fp, n) in enumerate(ranked))
        if len(fps) > 1:
            heads.append(f"stored scores mix {len(fps)} revisions of model {name} ({listed})")
            warnings.append(f"The stored scores of {name} were made by {len(fps)} different versions of its files "
                            f"(same name, different weights): scores of different revisions are not comparable, so "
                            f"the simulated ranking and metrics are neither model's.")
        # An uncached hub id has no fingerprint now: nothing to compare with.
        stale = {fp: n for fp, n in fps.items() if now not in (None, UNKNOWN_HUB) and fp != now}
        if stale and len(fps) == 1:
            [(fp, n)] = stale.items()
            heads.append(f"model {name}'s files changed since its {n:,} stored scores were made ({fp}; now {now})")
        if stale:
            warnings.append(f"{sum(stale.values()):,} stored scores were made by {name} files that are no longer on "
                            f"disk ({', '.join(stale)}; on disk now: {now}): a fresh run would score differently.")
    return heads, warnings


def _version_issues(p: StepProvenance, ev: dict) -> tuple[list[str], list[str], list[str]]:
    """Headlines and explanations of mixed versions of the libraries that compute this step's
    scores (warnings), and notes of a library upgraded since scoring (info)."""
    heads, warnings, notes = [], [], []
    for lib in p.relevant_libraries:
        vers = p.versions.get(lib) or {}
        ranked = sorted(vers.items(), key=lambda kv: -kv[1])
        for ver, n in ranked:
            ev[f"scores by {lib} {ver}"] = n
        now = (p.current.get("versions") or {}).get(lib)
        if len(vers) > 1:
            listed = ", ".join(f"{v}: {n:,}" for v, n in ranked)
            heads.append(f"stored scores mix {lib} versions ({listed})")
            warnings.append(f"The stored scores were computed with {len(vers)} versions of {lib} ({listed}); "
                            f"library upgrades can change scores (numerics, tokenisation).")
        elif vers and now is not None and now not in vers:
            [old] = vers
            notes.append(f"{lib} was {old} when these scores were made and is {now} here: scores made from now on "
                         "would mix versions.")
            ev[f"{lib} now"] = now
    return heads, warnings, notes


def _latency_check(p: StepProvenance, dataset: str = "DATASET") -> Check:
    title = f"Where {p.step}'s latency was measured"
    if p.calls == 0:
        return Check(LATENCY_KIND, title, "not checked", "no timed calls recorded yet: score this step once",
                     stage=p.step)
    here = p.current.get("machine") or {}
    here_id = here.get("id")
    ev: dict = {"scorer": p.scorer, "timed calls (most recent, used by the cost model)": p.calls,
                "this machine": describe_machine(here)}
    local = p.cost_machines.get(here_id, {}).get("calls", 0)
    others = {mid: m for mid, m in p.cost_machines.items() if mid != here_id}
    ev["calls timed here"] = local
    for m in others.values():
        ev[f"calls timed on {describe_machine(m)}"] = m["calls"]
    if p.unknown_calls:
        ev["calls of unknown machine"] = p.unknown_calls
    if not others:
        if local == 0:
            return Check(LATENCY_KIND, title, "not checked", f"the {p.calls:,} timed calls predate provenance: where "
                         "they were measured is unknown", evidence=ev, stage=p.step)
        if p.unknown_calls:
            said = (f"{local:,} timed calls were measured on this machine ({here.get('hostname') or '?'}); "
                    f"{p.unknown_calls:,} older ones predate provenance (machine unknown)")
        else:
            said = f"all {local:,} timed calls were measured on this machine ({here.get('hostname') or '?'})"
        return Check(LATENCY_KIND, title, "ok", said, evidence=ev, stage=p.step)
    n_other = sum(m["calls"] for m in others.values())
    other_hw = [m for m in others.values() if not same_hardware(m, here)]
    where = ", ".join(f"{describe_machine(m)}: {m['calls']} calls" for m in others.values())
    severity = "warning" if other_hw else "info"
    on_ray = [m for m in others.values() if m.get("executor") == "ray"]
    why = ("other hardware: predicted latency describes that machine, not this one" if other_hw else
           ("timed in Ray workers on the same CPU, cores and OS: a worker runs with its own threads (often one) "
            "and neighbours, so the figure describes the cluster's workers, not this process"
            + ("" if len(on_ray) == len(others) and not local else "; the cost model mixes them with this process's "
               "timings")) if on_ray else
           "the same CPU, cores and OS under another host name: timings are likely comparable")
    finding = Finding(
        LATENCY_KIND, severity,
        f"{p.step}: latency measured {'in Ray workers' if len(on_ray) == len(others) else 'on another machine'} "
        f"({n_other:,} of {p.calls:,} timed calls)",
        f"The cost model fits the most recent {p.calls:,} timed calls of {p.scorer}; {n_other:,} were measured on "
        f"{where}, and this machine is {describe_machine(here)}: {why}.", ev,
        f"Re-time on this machine: `{forget_command(p.scorer, costs=True, dataset=dataset)}` forgets its scores and timings, "
        "and the next evaluation scores and times them here; or read the predicted latency as the other "
        "machine's.", stage=p.step)
    return Check(LATENCY_KIND, title, "flagged", finding.title, finding, ev, stage=p.step)
