"""``cascade forget``: clear a scorer's stored scores on a dataset, so the next run rescores them.

    cascade forget --dataset sample_data/scifact-mini                 # list the stored scorers
    cascade forget --dataset sample_data/scifact-mini --scorer ID     # forget ID's scores there
    cascade forget --dataset sample_data/scifact-mini --scorer ID --costs   # ... and its timings

The doctor's provenance check names the scorer id to forget when stored scores were made by
other model files or library versions than those here (or timed on another machine). Nothing
else is touched: other scorers, other corpora, the vector indexes.
"""

from __future__ import annotations

from cascade_core.errors import CascadeError

from . import common


def add_parser(sub, storage) -> None:
    """Add ``forget`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    f = sub.add_parser("forget", parents=[storage],
                       help="clear a scorer's stored scores on a dataset, so they are scored again")
    common.dataset_args(f)
    f.add_argument("--scorer", metavar="SCORER_ID",
                   help="the scorer id to forget (as the doctor names it); without it, list the stored ones")
    f.add_argument("--costs", action="store_true",
                   help="also forget the scorer's timed calls (on every dataset), so latency is measured again")
    f.set_defaults(run=cmd_forget)


def cmd_forget(args) -> int:

    dataset = common.load_dataset_from_args(args.dataset, args.split, args.format, common.dataset_files(args))
    store = common.workspace(args).store
    corpus = dataset.corpus.fingerprint
    stored = store.scorers(corpus)
    if not args.scorer:
        if not stored:
            print(f"No stored scores for dataset {dataset.name} (corpus {corpus}).")
            return 0
        print(f"Stored scores for dataset {dataset.name} (corpus {corpus}):")
        for sid, n in stored.items():
            print(f"  {n:>9,}  {sid}")
        print("Forget one with --scorer SCORER_ID.")
        return 0
    n_calls = len(store.costs(args.scorer, most_recent=-1)) if args.costs else 0
    if args.scorer not in stored and not n_calls:
        known = "; stored here: " + ", ".join(stored) if stored else ": nothing is stored for it yet"
        raise CascadeError(f"no stored scores of scorer {args.scorer!r} for dataset {dataset.name}{known}")
    n = store.drop_scores(args.scorer, corpus)
    dropped = store.drop_costs(args.scorer) if args.costs else 0
    timings = f" and its {dropped:,} timed calls" if args.costs else ""
    print(f"Forgot {n:,} stored scores of {args.scorer} on dataset {dataset.name} (corpus {corpus}){timings}; "
          "the next eval, tune or doctor run scores them again.")
    return 0
