"""Ranking metrics over a batch of ranked lists, vectorised across all queries.

One call evaluates every query at once from padded arrays (:class:`RankedLists`), so the
simulation can score many cut-offs of many stages in milliseconds. Numbers match trec_eval /
pytrec_eval / ir_measures (cross-checked in ``tests/metrics``):

* nDCG uses **linear gain** (gain = grade) and ``1/log2(rank+1)``, the trec_eval/BEIR convention;
  ``ndcg_exp@k`` (or ``gain="exponential"``) uses ``2**grade - 1``.
* relevant means grade > 0; grades <= 0 count as 0.
* AP@k is trec_eval's ``map_cut_k``: ranks 1..k, divided by *all* relevant documents R.
* precision@k divides by k even when the list is shorter.
* a query without relevant documents is NaN for nDCG, recall, AP, R-precision and the oracles
  (so :func:`mean_metrics`, a nanmean, skips it) and 0 for precision, MRR and success.
* judged@k and the condensed-list variants (``ndcg_condensed@10``) measure the holes of a
  sparsely judged collection: :mod:`cascade_core.metrics.judged`.

>>> from cascade_core.metrics import RankedLists, evaluate, mean_metrics, oracle_ndcg
>>> lists = RankedLists.from_runs(
...     run={"q1": ["d3", "d1", "d2"], "q2": ["d7", "d5"]},
...     qrels={"q1": {"d1": 2, "d2": 1}, "q2": {"d5": 1, "d6": 1}},
...     query_ids=["q1", "q2"],
... )
>>> per_query = evaluate(lists, ["ndcg@10", "mrr@10", "recall@2", "map"])
>>> {name: values.round(4) for name, values in per_query.items()}
{'ndcg@10': array([0.6697, 0.3869]), 'mrr@10': array([0.5, 0.5]), 'recall@2': array([0.5, 0.5]), 'map': array([0.5833, 0.25  ])}
>>> mean_metrics(per_query)["mrr@10"]
0.5
>>> oracle_ndcg(lists, k=10).round(4)
array([1.    , 0.6131])

Imports nothing of the project: NumPy (and pandas for the tables of :mod:`.holes`).
"""

from .ap import average_precision
from .judged import MOSTLY_UNJUDGED_BELOW, condensed, judged
from .lists import RankedLists
from .ndcg import dcg, ideal_dcg, ndcg
from .oracle import oracle_ndcg, oracle_recall
from .rank import first_relevant_rank, reciprocal_rank, success
from .recall_precision import precision, r_precision, recall
from .registry import ALIASES, METRICS, MetricSpec, evaluate, known_metric_names, mean_metrics, parse_metric

# Two means closer than this print as the same number at the three decimals every page and report
# shows (0.745 and 0.745): a choice between them is a tie, and a tie goes to the cheaper option.
# Recommending twice the latency for a difference no one can see is the tuner's and the doctor's
# rule nowhere.
QUALITY_TIE = 0.0005

__all__ = [
    "RankedLists",
    "evaluate",
    "mean_metrics",
    "parse_metric",
    "known_metric_names",
    "METRICS",
    "ALIASES",
    "MetricSpec",
    "ndcg",
    "dcg",
    "ideal_dcg",
    "recall",
    "precision",
    "r_precision",
    "reciprocal_rank",
    "success",
    "first_relevant_rank",
    "average_precision",
    "oracle_ndcg",
    "oracle_recall",
    "judged",
    "condensed",
    "MOSTLY_UNJUDGED_BELOW",
    "QUALITY_TIE",
]
