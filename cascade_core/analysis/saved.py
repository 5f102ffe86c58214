"""Saved experiments: an evaluated cascade under a name, in the data folder, to compare later.

One JSON file per name, ``$CASCADE_HOME/experiments/NAME.json``, holding what a comparison needs
and nothing it would have to recompute: the spec, the dataset's fingerprints (corpus, and the
judgments of the queries evaluated), the query ids in order, every per-query metric of the final
list, the predicted latency (mean and tail, from each query's own candidate counts) and, when a
live run measured it, the measured one. Scores stay in the score store; a saved experiment is
small (a few hundred kB for 300 queries).

>>> import tempfile
>>> e = SavedExperiment("bm25-only", {"first_pass": {"kind": "bm25"}}, "bm25 -> 10 -> final 10",
...     {"name": "toy", "corpus": "c0ffee", "judgments": "beef"}, ["q1", "q2"],
...     {"ndcg@10": [0.5, 1.0]}, {"predicted_ms": 2.0})
>>> folder = tempfile.mkdtemp()
>>> _ = e.save(folder)
>>> SavedExperiment.load(folder, "bm25-only").means, saved_names(folder)
({'ndcg@10': 0.75}, ['bm25-only'])
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..cascade.simulate import kept_counts
from ..errors import CascadeError
from ..readback import cut, dumps, read_record
from .flow import kept_count_summary

FOLDER = "experiments"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass
class SavedExperiment:
    name: str
    spec: dict                      # CascadeSpec.to_dict()
    cascade: str                    # CascadeSpec.describe(): the one line a table shows
    dataset: dict                   # name, split, source, corpus fingerprint, judgments fingerprint
    query_ids: list[str]            # in the order of every per-query list below
    per_query: dict[str, list]      # metric -> value per query (None where undefined)
    latency: dict                   # predicted_ms, p50, p95, p99 (predicted tail), measured {p50, p95, p99}
    kept: dict = field(default_factory=dict)   # adaptive stage -> {mean, p50, p95, min, max} kept counts
    created: str = ""

    @property
    def means(self) -> dict[str, float]:
        """Each metric's mean over the queries where it is defined."""
        return {m: float(np.nanmean(_floats(v))) if np.isfinite(_floats(v)).any() else float("nan")
                for m, v in self.per_query.items()}

    def values(self, metric: str) -> np.ndarray:
        if metric not in self.per_query:
            raise CascadeError(f"experiment {self.name!r} has no per-query {metric}; it has "
                               f"{', '.join(self.per_query)}")
        return _floats(self.per_query[metric])

    @classmethod
    def from_result(cls, name: str, experiment, result, live: dict | None = None) -> "SavedExperiment":
        """Capture an :class:`~cascade_core.analysis.experiment.Experiment`'s evaluated ``result``
        (``live``: :meth:`Experiment.measure_live`'s figures, when a live run measured it)."""
        check_name(name)
        if result.evaluation is None:
            raise CascadeError("only an evaluated cascade can be saved: this dataset has no relevance judgments")
        spec, ev, lat = result.run.spec, result.evaluation, result.latency
        tail = lat.tail()
        per_query = {m: [None if not math.isfinite(x) else float(x) for x in np.asarray(v, float)]
                     for m, v in ev.final.per_query.items()}
        latency = {"predicted_ms": lat.total_ms, "p50": tail.p50, "p95": tail.p95, "p99": tail.p99,
                   "steps": {s.name: s.predicted_ms for s in lat.stages},
                   # quiet-equivalent, as predicted; the wall clock and the load beside it
                   "measured": live.total if live else None,
                   "measured_wall_clock": live.wall["total"] if live else None,
                   "measured_load": live.load_line() if live else None}
        kept = kept_count_summary(result.run).to_dict("index") if kept_counts(result.run) else {}
        return cls(name, spec.to_dict(), spec.describe(), dataset_identity(experiment), list(ev.query_ids),
                   per_query, latency, kept, datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def save(self, folder, replace: bool = False) -> Path:
        """Write ``folder/NAME.json``; returns the path. A name already saved is refused (two people
        saving "the same preset" on a shared dashboard must not overwrite each other) unless
        ``replace``.

        >>> import tempfile
        >>> e = SavedExperiment("x", {}, "", {}, [], {}, {})
        >>> folder = tempfile.mkdtemp(); _ = e.save(folder)
        >>> e.save(folder)   # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cascade_core.errors.CascadeError: an experiment named 'x' is saved already (...): choose another name, or replace it
        >>> e.save(folder, replace=True).name
        'x.json'
        """
        check_name(self.name)
        path = Path(folder) / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a name of its own, then put in place: never half a file, and two
        # writers of one name never share a temporary file.
        tmp = path.with_name(f".{self.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(dumps(asdict(self), indent=1, default=_json_default), encoding="utf-8")
        try:
            if replace:
                tmp.replace(path)
            else:
                try:
                    os.link(tmp, path)   # atomic and never replaces: of two at once, one is refused
                except FileExistsError:
                    check_free(folder, self.name)
                    raise
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, folder, name: str) -> "SavedExperiment":
        path = Path(folder) / f"{name}.json"
        if not path.is_file():
            known = saved_names(folder)
            raise CascadeError(f"no saved experiment {name!r} in {folder}; saved: {', '.join(known) or 'none yet'}")
        # Experiments saved before figures were written as null may carry NaN (an unmeasured
        # latency): read as None ("not measured"), which every reader of a saved one expects.
        data = read_record(path, f"saved experiment {path}", non_finite="unknown")
        problem = _schema_problem(data)
        if problem:
            raise CascadeError(f"{path} is not a saved experiment: {problem}")
        return cls(**data)


_FIELDS = {"name": str, "spec": dict, "cascade": str, "dataset": dict, "query_ids": list, "per_query": dict,
           "latency": dict, "kept": dict, "created": str}


def _schema_problem(data: dict) -> str:
    """What makes ``data`` not a saved experiment ("" when it is one): the fields, their types,
    one number (or null) per query for each metric."""
    missing = [k for k in ("name", "spec", "cascade", "dataset", "query_ids", "per_query", "latency") if k not in data]
    if missing:
        return f"no {', '.join(missing)}"
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        return f"unknown field {cut(unknown[0])!r}"
    for key, kind in _FIELDS.items():
        if key in data and not isinstance(data[key], kind):
            return f"{key} is not a {kind.__name__}"
    if not all(isinstance(q, str) for q in data["query_ids"]):
        return "a query id is not text"
    for metric, values in data["per_query"].items():
        if not isinstance(values, list) or len(values) != len(data["query_ids"]):
            return f"{cut(metric)}: not one value per query"
        if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            return f"{cut(metric)}: a value that is not a number"
    return ""


def check_free(folder, name: str) -> None:
    """CascadeError when an experiment ``name`` is saved in ``folder`` already (the CLI checks
    before it scores, so a clash does not surface after minutes of work)."""
    path = Path(folder) / f"{name}.json"
    if path.exists():
        when = ""
        try:
            when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("saved %Y-%m-%d %H:%M UTC")
        except OSError:
            pass
        raise CascadeError(f"an experiment named {name!r} is saved already ({when or 'in ' + str(folder)}): "
                           "choose another name, or replace it")


def experiments_folder(workspace) -> Path:
    """Where a workspace keeps its saved experiments (``$CASCADE_HOME/experiments``)."""
    return Path(workspace.home) / FOLDER


def saved_names(folder) -> list[str]:
    """Names of the experiments saved in ``folder``, sorted."""
    p = Path(folder)
    return sorted(f.stem for f in p.glob("*.json")) if p.is_dir() else []


def comparable_names(folder, names: list[str], limit: int = 4) -> list[str]:
    """Up to ``limit`` of ``names`` that can be compared with each other (the same corpus, split and
    queries), from the largest such group, newest last kept: what a comparison starts from, so the
    first view is a comparison rather than a refusal. Unreadable files are left out (the page says
    why when one is chosen).
    """
    groups: dict[tuple, list[str]] = {}
    for name in names:
        try:
            e = SavedExperiment.load(folder, name)
        except CascadeError:
            continue
        key = (e.dataset.get("corpus"), e.dataset.get("split"), tuple(e.query_ids))
        groups.setdefault(key, []).append(name)
    best = max(groups.values(), key=len, default=[])
    return best[:limit] if len(best) >= 2 else names[:limit]


def slug(text: str) -> str:
    """A valid experiment name made from any text (what a person typed, a cascade's name): runs of
    other characters become ``-``; empty when nothing usable is left.

    >>> slug("demo norm-sum 0.5"), slug("bm25 -> 100 -> MiniLM"), slug("  ??  ")
    ('demo-norm-sum-0.5', 'bm25-100-MiniLM', '')
    """
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-._")
    return re.sub(r"-{2,}", "-", out)[:80].rstrip("-._")


def check_name(name: str) -> str:
    """A name is a file name: letters, digits, ``.``, ``_``, ``-`` (no path, no spaces).

    >>> check_name("drop-0.2")
    'drop-0.2'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise CascadeError(f"experiment name {name!r}: use 1-80 letters, digits, '.', '_' or '-', starting "
                           "with a letter or digit (it names a file)")
    return name


def dataset_identity(experiment) -> dict:
    """What must match for two experiments' per-query numbers to be comparable (beside the query
    ids, checked apart so a refusal can say which differ): the corpus's content fingerprint and the
    split's judgments (every judged query's ids and grades)."""
    ds = experiment.dataset
    qrels = getattr(experiment, "qrels", ds.qrels)   # with the judgments made in the dashboard
    judged = json.dumps([[q, sorted(qrels.relevant(q).items())] for q in sorted(qrels.query_ids)])
    return {"name": ds.name, "split": ds.split, "source": str(ds.source or ""),
            "corpus": ds.corpus.fingerprint, "judgments": hashlib.sha256(judged.encode()).hexdigest()[:16]}


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
