"""``cascade export --qdrant FILE``: the in-Qdrant part of a cascade as one Query API request.

    cascade export --qdrant first-pass.json --dataset sample_data/scifact-mini \\
        --first-pass hybrid --pool-size 100 --stage bi:all-MiniLM-L6-v2@20
    cascade export --qdrant first-pass.json --config cascade.yaml --dataset DIR --check 20

Writes ``FILE`` (REST JSON: the collection's named vectors, the query body with placeholders for
the query's vectors, notes, the application-side steps), ``FILE`` with ``.py`` (a qdrant-client
function) and, for BM25, ``.vocab.json`` (term -> sparse index). ``--check N`` builds the collection
in an embedded Qdrant engine in a temporary folder, runs the request for the first N queries and
compares with the simulated first pass (see :mod:`cascade_core.export.qdrant`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cascade_core.analysis.experiment import Experiment
from cascade_core.errors import CascadeError
from cascade_core.export.qdrant import (QueryVectors, build_edge_collection, compare_lists, plan, run_on_edge,
                                        write_export)

from . import common


def add_parser(sub, storage) -> None:
    """Add ``export`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    e = sub.add_parser("export", parents=[storage],
                       help="write a cascade's first pass as a Qdrant Query API request (REST JSON + Python)")
    e.add_argument("--qdrant", metavar="FILE", required=True,
                   help="the JSON file to write (FILE.py and, for BM25, FILE.vocab.json beside it)")
    e.add_argument("--collection", metavar="NAME", help="the collection the request names (default: the dataset's name)")
    e.add_argument("--check", type=common.positive_int, metavar="N",
                   help="run the request on an embedded Qdrant engine for the first N queries and compare "
                        "with the simulated first pass")
    common.dataset_args(e)
    common.spec_args(e)
    e.set_defaults(run=cmd_export)


def cmd_export(args) -> int:
    spec = common.spec_from_args(args)
    common.check_writable(args.qdrant, "--qdrant")
    p = plan(spec)
    dataset = common.load_dataset_from_args(args.dataset, args.split, args.format, common.dataset_files(args))
    collection = args.collection or dataset.name
    ws = common.workspace(args)
    vectors = QueryVectors(p, dataset.corpus, ws)
    written = write_export(args.qdrant, p, collection, vectors.attachments())
    print(f"Cascade: {spec.describe()}")
    print(f"Qdrant runs the first pass: {_describe(p)}")
    for note in p.notes:
        print(f"  note: {note}")
    print("Then the application: " + "; ".join(p.app_steps))
    print("Wrote " + ", ".join(str(w) for w in written))
    if args.check:
        counts = check(p, vectors, dataset, spec, ws, args.check)
        total = sum(counts.values())
        print(f"Checked on an embedded Qdrant engine: {counts['identical']} of {total} queries return the simulated "
              "first pass" + (f", {counts['ties']} the same documents with tied ones in another order (a tie "
                              "inside a fused list becomes a rank)" if counts["ties"] else "")
              + ("" if p.exact else " (the plan is approximate: differences are expected)"))
        if counts["differ"] and p.exact:
            raise CascadeError(f"the exported request disagrees with the simulation on {counts['differ']} of "
                               f"{total} queries")
    return 0


def _describe(p) -> str:
    r = p.request
    if "prefetch" in r:
        fusion = p.fusion.label
        parts = " + ".join(f"{f['using']} top {f['limit']}" for f in r["prefetch"])
        return f"{parts}, fused by {fusion}, limit {r['limit']}"
    return f"{r['using']} top {r['limit']}"


def check(p, vectors, dataset, spec, workspace, n: int) -> dict[str, int]:
    """Over the first ``n`` queries, how many lists the request (run on an embedded engine) returns
    identical to the simulated first pass, equal up to ties, or different (:func:`compare_lists`;
    score-0 fill left out)."""
    exp = Experiment(dataset, spec, workspace)
    queries = exp.queries.subset(exp.queries.ids[:n])
    exp = Experiment(dataset, spec, workspace, queries=queries)
    exp.ensure_scores(spec)
    run = exp.run(spec).run
    first = run.steps[0]
    pos, valid = run.corpus_positions(first)
    scores = first.scores[:, :first.keep]
    with tempfile.TemporaryDirectory(prefix="cascade-export-check-") as tmp:
        shard = build_edge_collection(Path(tmp) / "collection", p, vectors)
        try:
            counts = {"identical": 0, "ties": 0, "differ": 0}
            for q, qid in enumerate(run.matrix.query_ids):
                ours = [run.matrix.doc_ids[d] for d, v, s in zip(pos[q], valid[q], scores[q]) if v and s != 0]
                theirs, their_scores = run_on_edge(shard, p, vectors.query(queries.text_of(qid)))
                counts[compare_lists(ours, theirs, their_scores)] += 1
        finally:
            shard.close()
    return counts
