"""``cascade tune``: the Tune page's answer in a terminal.

    cascade tune --dataset ../shared/data/scifact --first-pass bm25 --pool-size 1000 \\
        --stage bi:all-MiniLM-L6-v2@100 --budget-ms 30 --save-spec tuned.yaml

``tune`` scores the given cascade once at its deepest (every stage over the whole pool, stored),
then simulates a geometric grid of cut-offs below it, times each stage's way of combining with
the earlier scores (``--combine``), plus the first pass alone; it prints the quality/latency Pareto
front, the recommendation for the objective (or, when nothing fits the budget, the closest
options and how far over they are), and its held-out spread. It only lays out what the library
returns.
"""

from __future__ import annotations

import json
import math
import sys

from cascade_core.errors import CascadeError, SpecError
from cascade_core.fusion import parse_fusion, registered_fusions, tuning_candidates
from cascade_core.progress import terminal_progress
from cascade_core.tuning import (OBJECTIVES, choice_columns, closest_over_budget, grid_search, holdout_validation,
                                 pareto_front, tuning_grid)

from . import common

OBJECTIVE_FLAGS = {"best": "best nDCG@10 within the budget",
                   "cheapest": "cheapest within 1 point of the best recall@10"}


def add_parser(sub, storage) -> None:
    """Add ``tune`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    t = sub.add_parser("tune", parents=[storage],
                       help="where should the cut-offs be: a budget tuner with a held-out check")
    common.dataset_args(t)
    common.spec_args(t)
    t.add_argument("--budget-ms", type=common.positive_float, help="latency budget per query, in ms (default: none)")
    t.add_argument("--objective", choices=list(OBJECTIVE_FLAGS), default="best",
                   help="best: best nDCG@10 within the budget; cheapest: cheapest within 1 point of the "
                        "best recall@10 (default best)")
    t.add_argument("--values", type=common.positive_int, default=6, help="cut-off values tried per step (default 6)")
    t.add_argument("--combine", default=",".join(f.flag for f in tuning_candidates()), metavar="LIST",
                   help=f"how each stage may meet the earlier scores, comma-separated: {combine_forms()} "
                        "(default: %(default)s); 'keep' tries only each stage's own")
    t.add_argument("--drops", metavar="LIST", default="",
                   help="also try a query-adaptive cut-off at each stage: keep the candidates within D of the "
                        "query's top score, for each D in this comma-separated list (e.g. 0.1,0.2,0.3), at "
                        "least final k and at most the stage's keep")
    t.add_argument("--drop-scale", choices=["norm", "raw"], default="norm",
                   help="the scale --drops applies to: norm = the stage's score min-max normalised per query "
                        "(default), raw = its score as it is")
    t.add_argument("--folds", type=common.positive_int, default=5, help="held-out check: folds (default 5)")
    t.add_argument("--repeats", type=common.positive_int, default=2, help="held-out check: repeats (default 2)")
    t.add_argument("--queries", type=common.positive_int, metavar="N", help="tune on the first N judged queries only")
    t.add_argument("--save-spec", help="write the recommended spec as YAML here")
    t.add_argument("--json", dest="json_path", help="write every combination and the recommendation as JSON")

    t.set_defaults(run=cmd_tune)

def combine_forms() -> str:
    """Each registered fusion as ``--combine`` takes it: ``replace, rrf[:RRF_K], norm-sum[:WEIGHT], dbsf``."""
    return ", ".join(name + "".join(f"[:{p.name.upper()}]" for p in cls.parameters)
                     for name, cls in registered_fusions().items())


def parse_combine(text: str):
    """``--combine``'s list of fusions (None for ``keep``: each stage keeps its own).

    >>> [f.label for f in parse_combine("replace,norm-sum:0.3")]
    ['replace', 'norm-sum 0.3']
    """
    if text.strip() == "keep":
        return None
    try:
        fusions = [parse_fusion(part) for part in text.split(",") if part.strip()]
    except SpecError as exc:
        raise CascadeError(f"--combine: {exc}") from None
    if not fusions:
        raise CascadeError(f"--combine: give at least one of {combine_forms()}, or keep")
    return tuple(dict.fromkeys(fusions, None))   # no duplicates, order kept


def parse_drops(text: str) -> tuple[float, ...]:
    """``--drops``'s list of relative drops (empty: fixed cut-offs only).

    >>> parse_drops("0.1, 0.2")
    (0.1, 0.2)
    """
    try:
        drops = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise CascadeError(f"--drops {text!r}: expected numbers separated by commas, e.g. 0.1,0.2,0.3") from None
    if any(not d >= 0 for d in drops):
        raise CascadeError(f"--drops {text!r}: a drop is how far below the top score, so >= 0")
    return drops


def cmd_tune(args) -> int:
    if args.values < 2:
        raise CascadeError("--values must be at least 2: one value per step is no choice")
    if args.folds < 2:
        raise CascadeError("--folds must be at least 2: a held-out check needs queries it did not tune on")
    fusions = parse_combine(args.combine)
    for path, flag in ((args.json_path, "--json"), (args.save_spec, "--save-spec")):
        if path:
            common.check_writable(path, flag)
    spec = common.spec_from_args(args)
    exp = common.experiment(args, spec, args.dataset)
    if exp.relevance is None:
        raise CascadeError(f"dataset {exp.dataset.name!r} has no relevance judgments: nothing to tune against")
    common.load_models(exp.plan)
    # Every stage over the whole pool: then any cut-off at or below the given ones simulates
    # from stored scores. Scored once; a second run makes no model call.
    deepest = spec.with_keeps(pool_size=spec.pool_size, keeps=[spec.pool_size] * len(spec.stages),
                              final_k=spec.final_k)
    exp.ensure_scores(deepest, progress=terminal_progress(sys.stderr))
    grid = tuning_grid(spec, values=args.values, fusions=fusions, drops=parse_drops(args.drops),
                       scale=args.drop_scale)
    tuned = grid_search(exp, grid, args.budget_ms, progress=terminal_progress(sys.stderr))
    objective = OBJECTIVE_FLAGS[args.objective]
    rule = OBJECTIVES[objective]

    table = tuned.table
    front = pareto_front(table["latency_ms"].to_numpy(), table["ndcg@10"].to_numpy())
    ways = "each stage's own combination" if fusions is None else ", ".join(f.label for f in fusions)
    print(f"\n{len(grid)} combinations simulated (cut-offs x {ways}, and the first pass alone); the "
          "quality/latency Pareto front (no other combination is both cheaper and better):")
    shown = table.loc[front, [c for c in table.columns if c not in ("covered", "first_pass_only")]]
    print(_round(shown).to_string(index=False))

    current = grid.index(spec)
    row = table.loc[current]
    print(f"\nGiven cascade: nDCG@10 {row['ndcg@10']:.3f}, recall@10 {row['recall@10']:.3f}, "
          f"predicted {_ms(row['latency_ms'])} per query")
    chosen = rule(tuned)
    report = {"objective": objective, "budget_ms": args.budget_ms, "combinations": table.to_dict("records"),
              "pareto_front": [int(i) for i in front], "given": current, "recommended": None}
    first = table.index[table["first_pass_only"]]
    if len(first):
        row = table.loc[first[0]]
        print(f"First pass alone: nDCG@10 {row['ndcg@10']:.3f}, recall@10 {row['recall@10']:.3f}, "
              f"predicted {_ms(row['latency_ms'])} per query")
    if chosen is None:
        what = f"a {args.budget_ms:g} ms budget" if args.budget_ms else "the objective"
        print(f"No combination fits {what}. The closest (cheapest on the Pareto front):")
        closest = closest_over_budget(tuned)
        for i, r in closest.iterrows():
            print(f"  {tuned.spec_at(i).describe()}: nDCG@10 {r['ndcg@10']:.3f}, "
                  f"predicted {_ms(r['latency_ms'])}, {r['over_ms']:.1f} ms over")
        report["closest_over_budget"] = [{"index": int(i), "spec": tuned.spec_at(i).to_dict(),
                                          "latency_ms": r["latency_ms"], "over_ms": r["over_ms"],
                                          "ndcg@10": r["ndcg@10"]} for i, r in closest.iterrows()]
        print("Raise the budget, cut harder or drop a stage.")
    else:
        best = tuned.spec_at(chosen)
        row = table.loc[chosen]
        print(f"Recommended ({objective}"
              f"{f', budget {args.budget_ms:g} ms' if args.budget_ms else ''}): {best.describe()}\n"
              f"  nDCG@10 {row['ndcg@10']:.3f}, recall@10 {row['recall@10']:.3f}, "
              f"predicted {_ms(row['latency_ms'])} per query")
        h = holdout_validation(tuned, k=args.folds, repeats=args.repeats, rule=rule)
        if len(h.folds):
            held = h.folds["held-out ndcg@10"]
            print(f"Held-out check ({args.folds}-fold x {args.repeats}, each fold tuned on the others): "
                  f"nDCG@10 {h.held_out_mean:.3f} +- {h.held_out_std:.3f} (min {held.min():.3f}, "
                  f"max {held.max():.3f}); in-sample {h.in_sample:.3f}, optimism {h.optimism:+.3f}")
            cutoffs = choice_columns(h.folds)
            picks = h.folds.groupby(cutoffs, dropna=False).size()
            most = picks.idxmax() if len(cutoffs) > 1 else (picks.idxmax(),)
            print(f"  choices the folds made: {len(picks)} distinct; the most common, "
                  + ", ".join(f"{c} {_plain(v)}" for c, v in zip(cutoffs, most))
                  + f", in {picks.max()} of {len(h.folds)} folds")
            report["held_out"] = {"mean": h.held_out_mean, "std": h.held_out_std, "in_sample": h.in_sample,
                                  "optimism": h.optimism, "folds": h.folds.to_dict("records")}
        report["recommended"] = {"index": int(chosen), "spec": best.to_dict(), "first_pass_only": not best.stages,
                                 "ndcg@10": row["ndcg@10"], "recall@10": row["recall@10"],
                                 "latency_ms": row["latency_ms"],
                                 "stages": [{"name": st.name, "keep": st.keep, "cutoff": st.cutoff_label,
                                             **st.fusion.to_spec()}
                                            for st in best.stages]}
        if args.save_spec:
            common.write_output(args.save_spec, best.to_yaml(), "--save-spec")
            print(f"\nRecommended spec written to {args.save_spec}")
    if args.json_path:
        common.write_output(args.json_path, json.dumps(report, indent=2, default=common.json_default), "--json")
        print(f"Report written to {args.json_path}")
    return 0


def _plain(value) -> str:
    """A choice-column value as people write it: 464, norm-sum 0.5, - (first pass only)."""
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:g}"
    return str(value)


def _round(table):
    return table.round({"ndcg@10": 3, "recall@10": 3, "latency_ms": 1})


def _ms(value: float) -> str:
    return "? ms (no recorded cost)" if math.isnan(value) else f"{value:.1f} ms"
