"""Metric names as strings ("ndcg@10", "recall@100", "map") and batch evaluation.

A name is ``family`` or ``family@k`` (case-insensitive). The families:

===================  =======  ==========================================================  ==========
family               k        value per query                                             no relevant
===================  =======  ==========================================================  ==========
``ndcg``             opt.     nDCG, linear gain (trec_eval/pytrec_eval/BEIR convention)   NaN
``ndcg_exp``         opt.     nDCG, exponential gain ``2**grade - 1``                     NaN
``recall``           opt.     relevant in top k / all relevant                            NaN
``precision``        needed   relevant in top k / k                                       0
``mrr``              opt.     1 / rank of the first relevant within k, 0 if none          0
``map``              opt.     AP (trec_eval ``map``); with k, ``map_cut_k`` (over R)       NaN
``success``          opt.     1 if any relevant in top k                                  0
``r-precision``      none     precision at rank R = number of relevant                    NaN
``oracle_ndcg``      opt.     best nDCG@k by reordering the present documents             NaN
``oracle_recall``    opt.     best recall@k by reordering the present documents           NaN
``judged``           opt.     share of top k with any judgment (ir_measures Judged@k)      defined
``<f>_condensed``    as f     metric f on the condensed list (unjudged docs removed)       as f
===================  =======  ==========================================================  ==========

The condensed variants exist for ndcg, ndcg_exp, recall, precision, mrr, map and success
(Sakai's condensed list, :mod:`cascade_core.metrics.judged`); ``judged`` is NaN only for an empty
list.

Without k a metric covers the whole list. Aliases: ``hit`` = success, ``rr`` = mrr, ``ap`` = map,
``p`` = precision, ``r`` = recall, ``rprec`` = r-precision, ``ndcg'`` = ndcg_condensed. NaN values mark queries the metric is
undefined for; :func:`mean_metrics` averages with ``nanmean``, i.e. over queries with at least one
relevant document.

>>> from cascade_core.metrics import RankedLists
>>> lists = RankedLists.from_runs(
...     {"q1": ["x", "a", "b"], "q2": ["c"], "q3": ["y"]},
...     {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}, "q3": {"y": 0}},
...     ["q1", "q2", "q3"],
... )
>>> per_query = evaluate(lists, ["mrr@10", "recall@1", "hit@1"])
>>> per_query["mrr@10"], per_query["recall@1"], per_query["hit@1"]
(array([0.5, 1. , 0. ]), array([ 0.,  1., nan]), array([0., 1., 0.]))
>>> mean_metrics(per_query)
{'mrr@10': 0.5, 'recall@1': 0.5, 'hit@1': 0.3333333333333333}
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Literal, Mapping

import numpy as np

from .ap import average_precision
from .judged import condensed_metric, judged
from .lists import RankedLists
from .ndcg import ndcg
from .oracle import oracle_ndcg, oracle_recall
from .rank import reciprocal_rank, success
from .recall_precision import precision, r_precision, recall

KUse = Literal["optional", "required", "none"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: how to compute it and whether it takes a cut-off."""

    family: str
    compute: Callable[[RankedLists, int | None], np.ndarray]
    k: KUse
    nan_without_relevant: bool
    description: str

    @property
    def pattern(self) -> str:
        return {"optional": f"{self.family}[@k]", "required": f"{self.family}@k", "none": self.family}[self.k]


def _no_k(fn: Callable[[RankedLists], np.ndarray]) -> Callable[[RankedLists, int | None], np.ndarray]:
    return lambda lists, k: fn(lists)


METRICS: dict[str, MetricSpec] = {
    spec.family: spec
    for spec in [
        MetricSpec("ndcg", ndcg, "optional", True, "nDCG, linear gain (trec_eval, pytrec_eval, BEIR)"),
        MetricSpec("ndcg_exp", partial(ndcg, gain="exponential"), "optional", True,
                   "nDCG, exponential gain 2^grade - 1"),
        MetricSpec("recall", recall, "optional", True, "relevant in the top k / all relevant"),
        MetricSpec("precision", precision, "required", False, "relevant in the top k / k"),
        MetricSpec("mrr", reciprocal_rank, "optional", False,
                   "reciprocal rank of the first relevant document within k (0 if none)"),
        MetricSpec("map", average_precision, "optional", True,
                   "average precision (trec_eval map; with k: map_cut_k, denominator = all relevant)"),
        MetricSpec("success", success, "optional", False, "1 if any relevant document is in the top k"),
        MetricSpec("r-precision", _no_k(r_precision), "none", True,
                   "precision at rank R = number of relevant documents"),
        MetricSpec("oracle_ndcg", lambda lists, k: oracle_ndcg(lists, k), "optional", True,
                   "best nDCG@k reachable by reordering the documents present"),
        MetricSpec("oracle_recall", oracle_recall, "optional", True,
                   "best recall@k reachable by reordering the documents present"),
        MetricSpec("judged", judged, "optional", False,
                   "share of the top k with any judgment, judged non-relevant included (NaN: empty list)"),
    ]
}
# Sakai's condensed list: the same metric after removing unjudged documents from the ranking.
CONDENSED_FAMILIES = ("ndcg", "ndcg_exp", "recall", "precision", "mrr", "map", "success")
METRICS.update({
    f"{f}_condensed": MetricSpec(f"{f}_condensed", condensed_metric(METRICS[f].compute), METRICS[f].k,
                                 METRICS[f].nan_without_relevant,
                                 f"{METRICS[f].description}, on the condensed list (unjudged documents removed)")
    for f in CONDENSED_FAMILIES
})

ALIASES: dict[str, str] = {
    "hit": "success",
    "rr": "mrr",
    "ap": "map",
    "p": "precision",
    "r": "recall",
    "rprec": "r-precision",
    "r_precision": "r-precision",
    "ndcg'": "ndcg_condensed",   # Sakai's notation nDCG'
}


def known_metric_names() -> str:
    """The accepted name patterns, for messages and help text."""
    names = ", ".join(spec.pattern for spec in METRICS.values())
    aliases = ", ".join(f"{a}={f}" for a, f in ALIASES.items())
    return f"{names} (aliases: {aliases})"


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def parse_metric(name: str) -> tuple[str, int | None]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; ``"map"`` -> ``("map", None)``; aliases resolved.

    >>> parse_metric("nDCG@10"), parse_metric("hit@5"), parse_metric("map")
    (('ndcg', 10), ('success', 5), ('map', None))
    >>> parse_metric("ndgc@10")
    Traceback (most recent call last):
    ...
    ValueError: unknown metric 'ndgc@10' (family 'ndgc'). Known: ndcg[@k], ndcg_exp[@k], recall[@k], precision@k, mrr[@k], map[@k], success[@k], r-precision, oracle_ndcg[@k], oracle_recall[@k], judged[@k], ndcg_condensed[@k], ndcg_exp_condensed[@k], recall_condensed[@k], precision_condensed@k, mrr_condensed[@k], map_condensed[@k], success_condensed[@k] (aliases: hit=success, rr=mrr, ap=map, p=precision, r=recall, rprec=r-precision, r_precision=r-precision, ndcg'=ndcg_condensed)
    """
    if not isinstance(name, str):
        raise ValueError(f"a metric name must be a string like 'ndcg@10', got {name!r}")
    text = name.strip().lower()
    family, sep, k_text = text.partition("@")
    family = ALIASES.get(family, family)
    spec = METRICS.get(family)
    if spec is None:
        raise ValueError(f"unknown metric {name!r} (family {family!r}). Known: {known_metric_names()}")
    if not sep:
        if spec.k == "required":
            raise ValueError(f"metric {name!r} needs a cut-off, e.g. '{family}@10'")
        return family, None
    if spec.k == "none":
        raise ValueError(f"metric {name!r}: {family} takes no cut-off, write '{family}'")
    if not k_text.isdigit() or int(k_text) < 1:
        raise ValueError(f"metric {name!r}: the cut-off after '@' must be an integer >= 1")
    return family, int(k_text)


def evaluate(lists: RankedLists, metrics: Iterable[str] | str) -> dict[str, np.ndarray]:
    """Per-query values, shape ``[Q]`` each, keyed by the metric names as given.

    All names are checked before anything is computed; a name given twice (or two spellings of the
    same metric, like ``hit@5`` and ``success@5``) is computed once. Queries without relevant
    documents are NaN for ndcg/recall/map/r-precision/oracle_* and 0 for the others.

    >>> from cascade_core.metrics import RankedLists
    >>> lists = RankedLists.from_runs({"q": ["x", "a"]}, {"q": {"a": 1}}, ["q"])
    >>> evaluate(lists, ["precision@2", "map"])
    {'precision@2': array([0.5]), 'map': array([0.5])}
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    parsed = {name: parse_metric(name) for name in names}
    computed: dict[tuple[str, int | None], np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for name, key in parsed.items():
        if key not in computed:
            family, k = key
            computed[key] = METRICS[family].compute(lists, k)
        out[name] = computed[key]
    return out


def mean_metrics(per_query: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean over queries of each metric, ignoring NaN (queries a metric is undefined for).

    A metric that is NaN for every query (or has no queries) averages to NaN, without a warning.

    >>> mean_metrics({"ndcg@10": np.array([1.0, np.nan, 0.5])})
    {'ndcg@10': 0.75}
    """
    means: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        for name, values in per_query.items():
            values = np.asarray(values, dtype=np.float64)
            means[name] = float(np.nanmean(values)) if values.size else float("nan")
    return means
