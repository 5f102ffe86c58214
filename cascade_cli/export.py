"""``cascade export``: the in-Qdrant part of a cascade as one Query API request (``--qdrant FILE``),
and every step's ranked lists as TREC run files (``--trec FOLDER``).

    cascade export --qdrant first-pass.json --dataset sample_data/scifact-mini \\
        --first-pass hybrid --pool-size 100 --stage bi:all-MiniLM-L6-v2@20
    cascade export --qdrant first-pass.json --config cascade.yaml --dataset DIR --check 20

Writes ``FILE`` (REST JSON: the collection's named vectors, the query body with placeholders for
the query's vectors, notes, the application-side steps), ``FILE`` with ``.py`` (a qdrant-client
function) and, for BM25, ``.vocab.json`` (term -> sparse index). ``--check N`` builds the collection
in an embedded Qdrant engine in a temporary folder, runs the request for the first N queries and
compares with the simulated first pass (see :mod:`cascade_core.export.qdrant`).

``--trec FOLDER`` scores what is missing, simulates the cascade on the dataset's judged queries
and writes one run per step (``0-first_pass.run``, ``1-<stage>.run``, ...) and ``final.run``:
what trec_eval or ranx read, and what ``--first-pass run:FILE`` and ``--stage run:FILE@K`` read
back (a team's own system is evaluated the same way).
"""

from __future__ import annotations

from pathlib import Path

from cascade_core.errors import CascadeError
from cascade_core.export.qdrant import QueryVectors, check_plan, plan, write_export
from cascade_core.export.snippets import trec_run_files

from . import common


def add_parser(sub, storage) -> None:
    """Add ``export`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    e = sub.add_parser("export", parents=[storage],
                       help="write a cascade's first pass as a Qdrant Query API request (REST JSON + Python)")
    e.add_argument("--qdrant", metavar="FILE",
                   help="the JSON file to write (FILE.py and, for BM25, FILE.vocab.json beside it)")
    e.add_argument("--trec", metavar="FOLDER",
                   help="write every step's kept lists and the final list as TREC run files into FOLDER")
    e.add_argument("--collection", metavar="NAME", help="the collection the request names (default: the dataset's name)")
    e.add_argument("--check", type=common.positive_int, metavar="N",
                   help="run the request on an embedded Qdrant engine for the first N queries and compare "
                        "with the simulated first pass")
    common.dataset_args(e)
    common.spec_args(e)
    e.set_defaults(run=cmd_export)


def cmd_export(args) -> int:
    if not args.qdrant and not args.trec:
        raise CascadeError("say what to export: --qdrant FILE (the first pass as a Qdrant request) and/or "
                           "--trec FOLDER (every step's run file)")
    spec = common.spec_from_args(args)
    if args.trec:
        return export_trec(args, spec)
    common.check_writable(args.qdrant, "--qdrant")
    p = plan(spec)
    dataset = common.load_dataset_from_args(args.dataset, args.split, args.format, common.dataset_files(args))
    collection = args.collection or dataset.name
    ws = common.workspace(args)
    vectors = QueryVectors(p, dataset.corpus, ws)
    written = write_export(args.qdrant, p, collection, vectors.attachments())
    print(f"Cascade: {spec.describe()}")
    print(f"Qdrant runs the first pass: {p.describe()}")
    for note in p.notes:
        print(f"  note: {note}")
    print("Then the application: " + "; ".join(p.app_steps))
    print("Wrote " + ", ".join(str(w) for w in written))
    if args.check:
        counts = check_plan(p, vectors, dataset, spec, ws, args.check)
        total = sum(counts.values())
        print(f"Checked on an embedded Qdrant engine: {counts['identical']} of {total} queries return the simulated "
              "first pass" + (f", {counts['ties']} the same documents with tied ones in another order (a tie "
                              "inside a fused list becomes a rank)" if counts["ties"] else "")
              + ("" if p.exact else " (the plan is approximate: differences are expected)"))
        if counts["differ"] and p.exact:
            raise CascadeError(f"the exported request disagrees with the simulation on {counts['differ']} of "
                               f"{total} queries")
    return 0


def export_trec(args, spec) -> int:
    """``--trec FOLDER`` (then ``--qdrant`` too, when given)."""
    folder = Path(args.trec).expanduser()
    if folder.exists() and not folder.is_dir():
        raise CascadeError(f"--trec {args.trec}: a file, not a folder")
    args.queries = None
    exp = common.experiment(args, spec, args.dataset)
    common.load_models(exp.plan)
    exp.ensure_scores()
    result = exp.run()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in trec_run_files(result.run).items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    print(f"Wrote {len(written)} TREC run files in {folder}: " + ", ".join(p.name for p in written))
    if args.qdrant:
        args.trec = None
        return cmd_export(args)
    return 0
