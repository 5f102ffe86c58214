"""``cascade distill``: train a small cross-encoder on your own collection from a teacher cascade.

    cascade distill --dataset ../shared/data/scifact                  # train split -> held-out test
    cascade distill --dataset PATH --train-queries my_queries.jsonl --config teacher.yaml
    cascade distill --dataset PATH --generate 2000 --minutes 20 --out /tmp/student

The teacher is the cascade given by the spec flags (as ``eval``; default: BM25 -> 100 -> MiniLM
fused with BM25, norm-sum 0.5 -> 20 -> final 10), scored on the training queries (stored scores
reused). Training queries: ``--train-split`` (default ``train`` where the dataset has it),
``--train-queries FILE`` or ``--generate N``; they may not overlap the held-out queries (the
``--split`` judged queries), which the report compares teacher and student on. The student is
written to ``--out`` (default: the data folder's ``models/distilled/<dataset>-<run>``, which the
presets use) with a ``distilled.json``; a killed run resumes from its last checkpoint when the
same command is run again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade.demo import DEMO_SPEC
from cascade_core.cascade.spec import CascadeSpec
from cascade_core.data.beir import available_splits
from cascade_core.distill import (DistillSettings, build_training_set, distill, estimate, exclude_held_out,
                                  file_queries, generated_queries, split_queries)
from cascade_core.distill.teacher import check_signal
from cascade_core.distill.train import LOSSES
from cascade_core.errors import CascadeError
from cascade_core.progress import terminal_progress

from . import common


def add_parser(sub, storage) -> None:
    """Add ``distill`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    d = DistillSettings()
    p = sub.add_parser("distill", parents=[storage],
                       help="train a small cross-encoder from a teacher cascade; compare them on held-out queries")
    common.dataset_args(p)
    common.spec_args(p)
    p.description = ("The spec flags (--config, --first-pass, --stage, ...) give the teacher; without them it is "
                     "BM25 -> 100 -> MiniLM fused with BM25 (norm-sum 0.5) -> 20 -> final 10. --split names the "
                     "held-out split (default test).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--train-split", metavar="SPLIT", help="train on this split's judged queries (default: train)")
    src.add_argument("--train-queries", metavar="FILE", help="train on the queries of this .jsonl/.csv/.tsv file")
    src.add_argument("--generate", type=common.positive_int, metavar="N", help="train on N queries generated from documents")
    p.add_argument("--signal", default="final", metavar="final|STAGE",
                   help="what the student learns: the teacher cascade's ranking (final) or one stage's own scores")
    p.add_argument("--depth", type=common.positive_int, help="candidates per training query: the teacher's first-pass "
                                                      "top N (default: its pool size)")
    p.add_argument("--out", help="the student's folder (default: in the data folder's models/distilled/)")
    s = p.add_argument_group("the student (defaults: the recipe measured in the README)")
    s.add_argument("--layers", type=common.positive_int, default=d.layers,
                   help=f"MiniLM layers kept (1-6, default {d.layers})")
    s.add_argument("--max-length", type=common.positive_int, default=d.max_length,
                   help=f"tokens per pair in training (default {d.max_length})")
    s.add_argument("--serve-length", type=common.positive_int, default=d.serve_length,
                   help=f"tokens per pair the saved student reads wherever it is used (default {d.serve_length})")
    s.add_argument("--loss", choices=LOSSES, default=d.loss, help=f"default {d.loss}")
    s.add_argument("--temperature", type=common.positive_float, default=d.temperature,
                   help=f"teacher score units per logit (default {d.temperature})")
    s.add_argument("--per-query", type=common.positive_int, default=d.per_query,
                   help=f"candidates in each query's list (default {d.per_query})")
    s.add_argument("--top", type=common.positive_int, default=d.top,
                   help=f"half of each list from the teacher's top N (default {d.top})")
    s.add_argument("--batch-queries", type=common.positive_int, default=d.batch_queries,
                   help=f"lists per step (default {d.batch_queries})")
    amount = s.add_mutually_exclusive_group()
    amount.add_argument("--pairs", type=common.positive_int, help=f"pairs to train on, in all (default {d.pairs})")
    amount.add_argument("--minutes", type=common.positive_float,
                        help="train for about this long: the pairs are set from a timed trial of a few steps")
    s.add_argument("--lr", type=common.positive_float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    s.add_argument("--labels", type=float, default=d.labels,
                   help=f"added to the teacher score of judged-relevant training pairs (default {d.labels}; 0: none)")
    s.add_argument("--seed", type=int, default=d.seed)
    e = p.add_argument_group("the held-out comparison")
    e.add_argument("--eval-queries", type=common.positive_int, metavar="N", help="compare on the first N held-out queries")
    e.add_argument("--eval-depth", type=common.positive_int,
                   help="rerank the first pass this deep (default: the teacher's pool)")
    e.add_argument("--eval-max-length", type=common.positive_int,
                   help="tokens per pair when the student reranks (default: the cross-encoder's, 512)")
    e.add_argument("--no-eval", action="store_true", help="train only")
    p.add_argument("--checkpoint-every", type=common.positive_float, default=120.0, metavar="SECONDS",
                   help="checkpoint this often (default 120); a killed run resumes from the last one")
    p.add_argument("--estimate", action="store_true", help="only say how long training would take here")
    p.add_argument("--json", dest="json_path", help="write distilled.json's content (report included) here too")
    p.set_defaults(run=cmd_distill)


def _teacher(args):
    """The teacher spec: the spec flags, or the demo's shape when none is given."""
    flags = ("config", "preset", "first_pass", "pool_size", "stage", "final_k", "param", "executor")
    if any(getattr(args, f, None) is not None for f in flags):
        return common.local_only(common.spec_from_args(args), "cascade distill trains on this machine")
    spec = dict(DEMO_SPEC, name="teacher: BM25 -> 100 -> MiniLM fused with BM25 -> 20")
    return CascadeSpec.from_dict(spec)


def _training_queries(args, dataset):
    if args.train_queries:
        return file_queries(args.train_queries)
    if args.generate:
        return generated_queries(dataset.corpus, args.generate, seed=args.seed)
    split = args.train_split
    if split is None:
        splits = available_splits(Path(args.dataset)) if args.dataset and Path(args.dataset).is_dir() else {}
        if "train" not in splits:
            raise CascadeError(f"dataset {dataset.name!r} has no train split: give --train-split SPLIT, "
                               "--train-queries FILE or --generate N")
        split = "train"
    return split_queries(args.dataset, split, args.format)


def cmd_distill(args) -> int:
    if args.json_path:
        common.check_writable(args.json_path, "--json")
    teacher = _teacher(args)
    dataset = common.load_dataset_from_args(args.dataset, args.split, args.format, common.dataset_files(args))
    training = _training_queries(args, dataset)
    held = dataset.judged_queries
    if args.eval_queries:
        held = held.subset(held.ids[: args.eval_queries])
    training = exclude_held_out(training, held)   # before any scoring or training
    check_signal(teacher, args.signal)
    ws = common.workspace(args)
    progress = terminal_progress(sys.stderr)
    print(f"Teacher: {teacher.describe()}")
    print(f"Training queries: {training.source}; held out: {len(held)} judged queries"
          f"{f' of split {dataset.split}' if dataset.split else ''}")
    fields = {k: getattr(args, k) for k in ("layers", "max_length", "serve_length", "loss", "temperature",
                                            "per_query", "top", "batch_queries", "lr", "labels", "seed")}
    settings = DistillSettings(**fields, **({"pairs": args.pairs} if args.pairs else {}))
    if settings.layers > 6:
        raise CascadeError("--layers: the packaged MiniLM has 6 layers")
    common.load_models(Experiment(dataset, teacher, ws, queries=training.queries).plan)
    ts = build_training_set(dataset, training, teacher, ws, args.depth, args.signal, progress)
    if args.minutes or args.estimate:
        seconds = estimate(ts, dataset.corpus, settings, teacher.device)
        rate = settings.pairs / seconds
        if args.minutes:
            settings = DistillSettings(**{**settings.to_dict(), "pairs": max(settings.pairs_per_step,
                                                                              int(rate * args.minutes * 60))})
        print(f"Estimated speed here: {rate:.1f} pairs/s, so {settings.pairs:,} pairs take about "
              f"{settings.pairs / rate / 60:.1f} minutes (measured now, with whatever else this machine runs)")
        if args.estimate:
            return 0
    print(f"Student: {settings.layers} layers of {settings.base}, {settings.max_length} tokens, {settings.loss} loss "
          f"(temperature {settings.temperature}), {settings.pairs:,} pairs in {settings.steps:,} steps of "
          f"{settings.batch_queries} lists of {settings.per_query}; {len(ts)} queries, "
          f"{ts.depth} candidates each")
    result = distill(dataset, training, teacher, ws, args.out, settings, held_out=held, evaluate=not args.no_eval,
                     signal=args.signal, depth=args.depth, eval_depth=args.eval_depth,
                     eval_max_length=args.eval_max_length, progress=progress,
                     checkpoint_every_s=args.checkpoint_every, training_set=ts)
    print_result(result)
    if args.json_path:
        common.write_output(args.json_path, json.dumps(result.info, indent=2, default=str), "--json")
        print(f"\nReport written to {args.json_path}")
    return 0


def print_result(result) -> None:
    tr = result.info.get("training", {})
    if result.trained:
        resumed = f"; resumed from step {tr['resumed_from']}" if tr.get("resumed_from") else ""
        print(f"\nTrained in {tr['train_s']:.0f} s wall, {tr['cpu_s']:.0f} s CPU ({tr['threads']} threads){resumed}; "
              f"loss {tr['loss_start']:.3f} -> {tr['loss_end']:.3f}")
    else:
        print(f"\n{result.out} already holds this student (trained in {tr.get('train_s', 0):.0f} s): not trained again")
    print(f"Student: {result.out}\nUse it as a stage: --stage cross:{result.out}@10")
    if result.comparison is not None:
        c = result.comparison
        print(f"\nHeld out: {c.queries} queries, the first pass reranked {c.depth} deep "
              f"(nDCG gain: linear, as trec_eval):")
        print(c.table())
