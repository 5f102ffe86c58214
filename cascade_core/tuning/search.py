"""The budget tuner: score every cut-off combination of a grid from stored scores.

Each combination is simulated (no model call) and scored on nDCG@10 and the final list's
recall; its latency is predicted from the cost models with the candidates each stage receives.
Combinations whose pairs were never scored are marked ``covered = False`` (score the grid first:
``Experiment.ensure_scores`` for each spec scores only what is missing).

:func:`tuning_grid` searches how the stages combine as well as where they cut: each stage may
``replace`` the incoming order or fuse with it (``rrf``, ``norm-sum`` at a few weights, see
:mod:`cascade_core.fusion`), and "the first pass alone" is always a candidate, so a cascade that
does not beat its own first pass can never be recommended over it.

Two objectives choose a combination (:data:`OBJECTIVES`, by name): the best nDCG@10 within the
budget, or the cheapest within a point of the best recall@10. Each is a rule
``rule(result, queries=None) -> index or None``, so held-out validation can re-apply the very
rule the user chose on each fold's training queries.

>>> pareto_front(np.array([10.0, 20.0, 15.0, 30.0]), np.array([0.5, 0.7, 0.4, 0.7]))
[0, 1]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np
import pandas as pd

from ..cascade.cutoff import Cutoff
from ..cascade.simulate import kept_counts, simulate
from ..cascade.spec import CascadeSpec
from ..errors import MissingScoresError, SpecError
from ..fusion import Fusion, tuning_candidates
from ..latency.model import predict_spec_latency
from ..metrics import QUALITY_TIE, evaluate
from ..progress import ProgressTracker

QUALITY = "ndcg@10"
RECALL = "recall@10"
# The combinations the tuner tries per stage by default: every registered fusion at the parameter
# values it declares for tuning (replace; RRF at the usual k; a normalised sum at three weights; DBSF).
DEFAULT = "default"
FIRST_PASS_ONLY = "first pass only"


@dataclass
class GridResult:
    """Every combination's cut-offs, quality, predicted latency and per-query quality."""

    specs: list[CascadeSpec]
    table: pd.DataFrame            # one row per spec: cut-offs, ndcg@10, recall@10, latency_ms, covered
    per_query: np.ndarray          # [combinations, queries] per-query nDCG@10 (NaN if not covered)
    query_ids: list[str]
    budget_ms: float | None
    per_query_recall: np.ndarray | None = None   # [combinations, queries] per-query recall@10

    def spec_at(self, i: int) -> CascadeSpec:
        return self.specs[int(i)]

    def with_budget(self, budget_ms: float | None) -> "GridResult":
        """The same combinations judged against another budget (no simulation: a budget only
        decides which predicted latencies fit).

        >>> t = pd.DataFrame({"latency_ms": [5.0, 50.0, np.nan], "covered": [True, True, False]})
        >>> GridResult([], t, np.zeros((3, 1)), ["q"], None).with_budget(10).table["within_budget"].tolist()
        [True, False, False]
        """
        table = self.table.copy()
        table["within_budget"] = _within(table, budget_ms)
        return replace(self, table=table, budget_ms=budget_ms)


def cutoff_grid(spec: CascadeSpec, values: int = 6, max_pool: int | None = None) -> list[CascadeSpec]:
    """Combinations of cut-offs for ``spec``'s shape: ``values`` geometric steps per step.

    The pool ranges from ``final_k`` to ``max_pool`` (default: the spec's pool size); each stage
    from ``final_k`` to what it receives. The current spec is always included.
    """
    top = max_pool or spec.pool_size
    floor = spec.final_k

    def steps(hi: int) -> list[int]:
        if hi <= floor:
            return [hi]
        return sorted({int(round(v)) for v in np.geomspace(floor, hi, values)})

    combos: list[tuple[int, ...]] = []

    def extend(prefix: tuple[int, ...], depth: int) -> None:
        if depth == len(spec.stages):
            combos.append(prefix)
            return
        for k in steps(prefix[-1]):
            extend(prefix + (k,), depth + 1)

    for pool in steps(top):
        extend((pool,), 0)
    specs = [spec.with_keeps(pool_size=c[0], keeps=list(c[1:])) for c in combos]
    if spec not in specs:
        specs.append(spec)
    return specs


def first_pass_only(spec: CascadeSpec) -> CascadeSpec:
    """``spec``'s first pass alone, its own top ``final_k`` as the final list (no stage)."""
    return replace(spec, stages=(), pool_size=spec.final_k, final_k=spec.final_k, name=FIRST_PASS_ONLY)


def adaptive_variants(specs: list[CascadeSpec], drops=(), scale: str = "norm") -> list[CascadeSpec]:
    """``specs`` and, for each, one stage at a time cut adaptively: a relative drop of each of
    ``drops`` below the query's top score (on ``scale``), at most the stage's keep and at least
    ``final_k`` (:mod:`cascade_core.cascade.cutoff`). One stage at a time keeps the grid linear in
    the number of stages; an already adaptive stage is left as it is, and so is one keeping no more
    than ``final_k`` (its minimum would equal its maximum).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 50}]})
    >>> for s in adaptive_variants([spec], drops=(0.2,)):
    ...     print(s.describe())
    bm25 -> 100 -> bi-encoder(m) -> 50 -> final 10
    bm25 -> 100 -> bi-encoder(m) -> drop 0.2 (norm), 10-50 -> final 10
    """
    out = list(specs)
    for spec in specs:
        for i, st in enumerate(spec.stages):
            if st.adaptive or st.keep <= spec.final_k:   # already adaptive, or min = max: nothing to adapt
                continue
            for d in drops:
                cut = Cutoff("drop", float(d), min_keep=min(spec.final_k, st.keep), scale=scale)
                stages = spec.stages[:i] + (replace(st, cutoff=cut),) + spec.stages[i + 1:]
                out.append(replace(spec, stages=stages))
    return list(dict.fromkeys(out))


def tuning_grid(spec: CascadeSpec, values: int = 6, max_pool: int | None = None,
                fusions: tuple[Fusion, ...] | None | str = DEFAULT, with_first_pass: bool = True,
                drops=(), scale: str = "norm") -> list[CascadeSpec]:
    """Cut-offs (:func:`cutoff_grid`) times each stage's way of combining (``fusions``), plus the
    first pass alone. ``fusions``: by default every fusion's tuning values
    (:func:`cascade_core.fusion.tuning_candidates`); None keeps each stage's own combination.
    ``drops``: relative-drop cut-offs tried at each stage as well (:func:`adaptive_variants`).

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
    ...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 20}]})
    >>> grid = tuning_grid(spec, values=3)
    >>> len(grid), grid[-1].describe()
    (49, 'bm25 -> 10 -> final 10')
    >>> sorted({s.stages[0].fusion.label for s in grid if s.stages})
    ['dbsf', 'norm-sum 0.3', 'norm-sum 0.5', 'norm-sum 0.7', 'replace', 'rrf k=60']
    """
    cuts = cutoff_grid(spec, values=values, max_pool=max_pool)
    if isinstance(fusions, str):
        fusions = tuning_candidates()
    if not fusions or not spec.stages:
        specs = list(cuts)
    else:
        specs = []
        for cut in cuts:
            for choice in itertools.product(fusions, repeat=len(spec.stages)):
                specs.append(replace(cut, stages=tuple(st.with_fusion(f) for st, f in zip(cut.stages, choice))))
        if spec not in specs:
            specs.append(spec)
    if drops:
        specs = adaptive_variants(specs, drops, scale)
    if with_first_pass and spec.stages:
        specs.append(first_pass_only(spec))
    return specs


def choice_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a grid table that say what was chosen: pool size, each keep, each combine."""
    return [c for c in table.columns if c == "pool_size" or c.startswith(("keep ", "cutoff ", "combine "))]


def grid_search(experiment, specs: list[CascadeSpec], budget_ms: float | None = None,
                progress=None) -> GridResult:
    """Simulate and score every spec (same scorers as ``experiment``'s) from stored scores."""
    matrix, relevance = experiment.snapshot()  # consistent even while another session scores
    if relevance is None:
        raise SpecError("tuning needs relevance judgments: this dataset has none")
    models = experiment.cost_models()
    # Cut-off rules get a column only when some spec adapts (a fixed grid's table is as before).
    adaptive = any(st.adaptive for s in specs for st in s.stages)
    rows, per_query, per_query_recall = [], [], []
    tracker = ProgressTracker("tuning: simulating combinations", len(specs), progress, "specs")
    for spec in specs:
        row = {"pool_size": spec.pool_size, **{f"keep {st.name}": st.keep for st in spec.stages},
               **{f"cutoff {st.name}": st.cutoff_label for st in spec.stages if adaptive},
               **{f"combine {st.name}": st.fusion.label for st in spec.stages},
               "final_k": spec.final_k, "first_pass_only": not spec.stages}
        try:
            run = simulate(spec, matrix)
        except MissingScoresError:
            rows.append({**row, QUALITY: np.nan, RECALL: np.nan, "latency_ms": np.nan, "covered": False})
            per_query.append(np.full(len(matrix.query_ids), np.nan))
            per_query_recall.append(np.full(len(matrix.query_ids), np.nan))
            tracker.advance(1)
            continue
        cols, valid = run.final.kept()
        values = evaluate(relevance.lists(cols, valid), [QUALITY, RECALL])
        counts = kept_counts(run)   # adaptive cut-offs: priced at each query's own count
        latency = predict_spec_latency(spec, matrix.lengths, models, budget_ms, counts)
        rows.append({**row, QUALITY: float(np.nanmean(values[QUALITY])), RECALL: float(np.nanmean(values[RECALL])),
                     **{f"kept {name}": float(np.mean(c)) for name, c in counts.items()},
                     "latency_ms": latency.total_ms, "covered": True})
        per_query.append(values[QUALITY])
        per_query_recall.append(values[RECALL])
        tracker.advance(1)
    table = pd.DataFrame(rows)
    # Stage columns of the first-pass-only row: no such stage (not NaN, which reads as "unknown").
    for c in table.columns:
        if c.startswith(("combine ", "cutoff ")):
            table[c] = table[c].fillna("-")
        elif c.startswith("keep "):
            table[c] = table[c].astype("Int64")   # whole numbers, <NA> where the stage is absent
    table["within_budget"] = _within(table, budget_ms)
    return GridResult(specs, table, np.asarray(per_query), list(matrix.query_ids), budget_ms,
                      np.asarray(per_query_recall))


def _within(table: pd.DataFrame, budget_ms: float | None) -> pd.Series:
    return table["covered"] & (True if budget_ms is None else table["latency_ms"] <= budget_ms)


def best_within_budget(result: GridResult, queries: np.ndarray | None = None) -> int | None:
    """Index of the combination with the best mean nDCG@10 (over ``queries``, default all)
    among those within the budget; ties (means within :data:`~cascade_core.metrics.QUALITY_TIE`,
    the same at the precision shown) go to the cheaper one. None if none fits."""
    ok = result.table["within_budget"].to_numpy()
    if not ok.any():
        return None
    sub = result.per_query if queries is None else result.per_query[:, queries]
    with np.errstate(all="ignore"):
        quality = np.where(ok, np.nanmean(sub, axis=1), -np.inf)
    latency = result.table["latency_ms"].to_numpy()
    best = np.flatnonzero(quality >= quality.max() - QUALITY_TIE)
    return int(best[np.argmin(latency[best])])


def cheapest_within_recall(result: GridResult, tolerance: float = 0.01,
                           queries: np.ndarray | None = None) -> int | None:
    """The cheapest covered combination whose mean recall@10 (over ``queries``, default all) is
    within ``tolerance`` of the best. The budget plays no part. None if nothing is covered."""
    t = result.table
    covered = t["covered"].to_numpy()
    if not covered.any():
        return None
    if queries is None:
        recall = t[RECALL].to_numpy()
    elif result.per_query_recall is None:
        raise ValueError("this GridResult has no per-query recall@10: re-run grid_search")
    else:
        with np.errstate(all="ignore"):
            recall = np.nanmean(result.per_query_recall[:, queries], axis=1)
    ok = covered & (recall >= np.nanmax(recall[covered]) - tolerance)
    latency = np.where(ok, t["latency_ms"].to_numpy(), np.inf)
    return int(np.argmin(latency))


def closest_over_budget(result: GridResult, n: int = 3) -> pd.DataFrame:
    """When nothing fits the budget: the ``n`` cheapest non-dominated combinations over it, with
    how far over they are (``over_ms``). Empty when something fits or nothing is covered."""
    t = result.table
    if result.budget_ms is None or t["within_budget"].any() or not t["covered"].any():
        return t.iloc[0:0].assign(over_ms=[])
    front = pareto_front(t["latency_ms"].to_numpy(), t[QUALITY].to_numpy())
    rows = t.loc[front].sort_values("latency_ms").head(n)
    return rows.assign(over_ms=rows["latency_ms"] - result.budget_ms)


Rule = Callable[..., "int | None"]   # rule(result, queries=None) -> chosen index or None

# The tuner's objectives by name (what the Tune page offers); each is a rule as above.
OBJECTIVES: dict[str, Rule] = {
    "best nDCG@10 within the budget": best_within_budget,
    "cheapest within 1 point of the best recall@10": partial(cheapest_within_recall, tolerance=0.01),
}


def pareto_front(latency: np.ndarray, quality: np.ndarray) -> list[int]:
    """Indices of the non-dominated points (no other is both cheaper-or-equal and better),
    ordered by latency."""
    latency, quality = np.asarray(latency, float), np.asarray(quality, float)
    order = np.lexsort((-quality, latency))
    front, best = [], -np.inf
    for i in order:
        if np.isnan(latency[i]) or np.isnan(quality[i]):
            continue
        if quality[i] > best:
            front.append(int(i))
            best = quality[i]
    return front
