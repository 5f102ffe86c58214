"""``cascade explain``: why relevant documents were dropped, by stage, per query, per document.

    cascade explain --dataset PATH [spec flags as eval] [--query QID [--doc DOCID]]
"""

from __future__ import annotations

import sys

import pandas as pd

from cascade_core.analysis import explain
from cascade_core.errors import CascadeError
from cascade_core.progress import terminal_progress

from . import common


def add_parser(sub, storage) -> None:
    """Add ``explain`` to the ``cascade`` parser."""
    w = sub.add_parser("explain", parents=[storage],
                       help="why relevant documents were dropped: by stage, per query, per document")
    common.dataset_args(w)
    common.spec_args(w)
    w.add_argument("--queries", type=common.positive_int, metavar="N", help="use only the first N judged queries")
    w.add_argument("--query", metavar="QID", help="show the path of each of this query's relevant documents")
    w.add_argument("--doc", metavar="DOCID", help="with --query: who beat this document and what would keep it")
    w.add_argument("--limit", type=common.positive_int, default=10,
                   help="how many of the candidates that beat it to show (default 10)")
    w.set_defaults(run=cmd_explain)


def cmd_explain(args) -> int:
    if args.doc and not args.query:
        raise CascadeError("--doc needs --query: the query the document was dropped for")
    exp = common.experiment(args, common.spec_from_args(args), args.dataset)
    if exp.relevance is None:
        raise CascadeError(f"dataset {exp.dataset.name!r} has no relevance judgments: nothing to explain")
    # Unknown ids fail before any scoring.
    if args.query is not None and args.query not in exp.queries:
        raise CascadeError(f"unknown query id {args.query!r}: not among the {len(exp.queries)} judged queries "
                           "evaluated")
    if args.doc is not None and args.doc not in exp.dataset.corpus:
        raise CascadeError(f"unknown document id {args.doc!r}: it is not in the corpus")
    common.load_models(exp.plan)
    exp.ensure_scores(progress=terminal_progress(sys.stderr))
    run = exp.run().run
    if args.query is None:
        print_lost_by_stage(explain.lost_by_stage(run, exp.relevance, exp.qrels))
        return 0
    qi = explain.query_index(run, args.query)
    print(f"\nQuery {args.query}: {exp.queries.text_of(args.query)}")
    if args.doc is None:
        print_relevant_paths(explain.relevant_paths(run, exp.qrels, qi))
    else:
        path = explain.document_path(run, qi, args.doc, exp.qrels.grade(args.query, args.doc))
        print_document(exp, run, path, args.limit)
    return 0


def print_lost_by_stage(lost) -> None:
    """The ``explain`` summary: where relevant documents are lost, and which queries lose them."""
    print(f"\nJudged-relevant documents: {lost.n_relevant}; in the final lists: {lost.n_final}")
    print("\nLost at         keep    lost   share  queries")
    for r in lost.by_stage.reset_index().itertuples():
        print(f"{r.step[:13]:<13} {r.keep:>6}  {r.lost:>6}  {r.share:>6.1%}  {r.queries:>7}")
    worst = lost.documents.sort_values("rank_margin", kind="stable").dropna(subset=["rank_margin"])
    if len(worst):
        print("\nClosest misses (query, document, grade: rank / cut-off at the step that dropped it):")
        for r in worst.head(10).itertuples():
            print(f"  {r.query:<12} {r.doc_id:<12} grade {r.grade}  {r.step}: rank {r.rank} / {r.keep} "
                  f"({r.rank_margin} short, score {r.score_margin:.4g} short)")
    if lost.queries:
        more = f" (+{len(lost.queries) - 10} more)" if len(lost.queries) > 10 else ""
        print(f"\nQueries that lose relevant documents: {', '.join(lost.queries[:10])}{more}")
        print("See one with --query QID, and one document with --query QID --doc DOCID.")


def print_relevant_paths(paths) -> None:
    """Each relevant document of one query: its outcome, then its rank / cut-off at every step."""
    kept = sum(p.survived for p in paths)
    print(f"Judged relevant: {len(paths)}; in the final list: {kept}")
    for p in paths:
        print(f"\n  {p.doc_id} (grade {p.grade}): {p.describe()}")
        for s in p.steps:
            if not s.reached:
                continue
            rank = "not retrieved" if s.rank is None else f"rank {s.rank:>4} / cut-off {s.keep:<5}"
            score = "" if s.score is None else f"  score {s.score:10.4f}"
            margin = "" if s.score_margin is None else f"  (last kept {s.cutoff_score:.4f})"
            print(f"      {s.step[:13]:<13} {rank}{score}{margin}  {'kept' if s.survived else 'DROPPED'}")


def print_document(exp, run, path, limit: int) -> None:
    """One document: its path, who beat it where it was dropped, and the cut-off that keeps it."""
    corpus = exp.dataset.corpus
    print_relevant_paths([path])
    if path.survived:
        return
    step = path.dropped_at
    print(f"\nRanked above it at {step}:")
    for r in explain.beaten_by(run, path.query, step, path.doc_id, limit, exp.relevance).itertuples():
        doc = corpus[r.doc_id]
        mark = ("     " if pd.isna(r.grade) or r.grade <= 0 else f"REL {r.grade}")   # <NA>: never judged
        print(f"  {r.rank:>4}. {mark} {r.score:10.4f}  {'kept   ' if r.kept else 'dropped'}  {r.doc_id:<12} "
              f"{(doc.title or doc.text)[:60]}")
    chain = explain.keeps_to_final(run, path, costs=exp)   # its first item: the cut-off where it was dropped
    print(f"\nTo keep it past {chain[0].step}: {chain[0].describe()}")
    if len(chain) > 1:
        print(f"To reach the final list: {explain.describe_keeps(chain)}")

