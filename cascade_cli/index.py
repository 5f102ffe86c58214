"""``cascade index`` and ``cascade indexes``: encode a corpus into Qdrant (resumable); list or drop indexes.

    cascade index --dataset PATH --model all-MiniLM-L6-v2 [--qdrant-url URL] [--executor ray]
    cascade indexes [--drop NAME] [--qdrant-url URL]
"""

from __future__ import annotations

import sys

from cascade_core.cascade.executor import EXECUTOR_HELP, Executor
from cascade_core.data.vectors import read_vectors
from cascade_core.errors import CascadeError
from cascade_core.models import resolve_model
from cascade_core.models.device import DEVICE_HELP, parse_device, resolve_device
from cascade_core.progress import terminal_progress
from cascade_core.scorers.dense import DEFAULT_BI_ENCODER
from cascade_core.scoring.on_ray import ray_encoder
from cascade_core.vectors.index import INDEX_PREFIX, list_indexes

from . import common


def add_parser(sub, storage) -> None:
    """Add ``index`` and ``indexes`` to the ``cascade`` parser."""
    i = sub.add_parser("index", parents=[storage], help="encode a corpus into Qdrant (resumable)")
    common.dataset_args(i)
    i.add_argument("--model", default=DEFAULT_BI_ENCODER, help="bi-encoder: packaged name, local folder or hub id")
    i.add_argument("--vectors", metavar="FILE",
                   help="store these precomputed embeddings instead of encoding (.npy with FILE.ids.txt, .npz "
                        "or .parquet, keyed by document id; made by --model, which still encodes the queries "
                        "and any document without a vector)")
    i.add_argument("--ids", metavar="FILE", help="the ids file of a --vectors .npy, when not beside it")
    i.add_argument("--device", default="auto", metavar="DEVICE", help=DEVICE_HELP + " (default auto)")
    i.add_argument("--executor", default="local", metavar="WHERE",
                   help=EXECUTOR_HELP + " (default local): the documents are encoded there and upserted from here")

    x = sub.add_parser("indexes", parents=[storage], help="list vector indexes (or drop one)")
    x.add_argument("--drop", metavar="NAME", help="delete this index (only this tool's, as listed)")
    i.set_defaults(run=cmd_index)
    x.set_defaults(run=cmd_indexes)


def cmd_index(args) -> int:
    dataset = common.load_dataset_from_args(args.dataset, args.split, args.format, common.dataset_files(args))
    ws = common.workspace(args)
    index = ws.vector_index(dataset.corpus, resolve_model(args.model))
    index.device = args.device
    executor = Executor.parse(args.executor)
    executor.check()   # no Ray installed: one line naming the extra, before any work
    if parse_device(args.device) not in ("auto", "cpu") and executor.is_local:
        resolve_device(args.device)   # a GPU this machine lacks: one line, before any work
    precomputed = None
    if args.vectors:
        precomputed = read_vectors(args.vectors, args.ids)
        found = precomputed.check(dim=index.dim, doc_ids=dataset.corpus.ids)   # a wrong file fails here
        print(f"Vectors {args.vectors}: {len(precomputed.ids):,} x {precomputed.dim}; {found.summary()}")
    before = index.info()
    if before.complete and not index.needs_ann():
        print(f"Index {index.name} in {ws.qdrant_location} is complete ({before.n_points} vectors): nothing to do")
        return 0
    encode = None if executor.is_local else ray_encoder(executor, index.model, args.device)
    rep = index.build(progress=terminal_progress(sys.stderr), precomputed=precomputed, encode_chunks=encode)
    if rep.note:
        print(f"note: {rep.note}", file=sys.stderr)
    print(f"Index {rep.name} in {ws.qdrant_location}: "
          + (f"imported {rep.imported} precomputed vectors, " if rep.imported else "")
          + f"encoded {rep.encoded} documents{'' if executor.is_local else ' on ' + executor.label} in {rep.seconds:.1f} s "
          f"({rep.docs_per_s:.1f} docs/s), {rep.already_stored} were already stored, "
          f"{rep.truncated} truncated at {rep.max_tokens} tokens; complete: {rep.complete}"
          + (f"; search: {index.info().search}" if rep.complete else ""))
    return 0


def cmd_indexes(args) -> int:
    if args.drop and not args.drop.startswith(INDEX_PREFIX):
        # On a shared server, a typo must not delete somebody else's collection.
        raise CascadeError(f"refusing to drop {args.drop!r}: it is not an index of this tool (their names "
                           f"start with {INDEX_PREFIX!r}; see `cascade indexes`)")
    ws = common.workspace(args)
    damaged = ws.damaged_indexes()   # opening Qdrant moves damaged indexes aside: listed, droppable
    if args.drop:
        exists = ws.qdrant.exists(args.drop)
        copies = ws.qdrant.drop_damaged(args.drop)
        if not exists and not copies:
            raise CascadeError(f"no index named {args.drop!r} (see `cascade indexes`)")
        if exists:
            ws.qdrant.drop(args.drop)
        print(f"Dropped {args.drop}" + (f" (and {copies} damaged cop{'y' if copies == 1 else 'ies'} moved aside)"
                                        if copies else ""))
        return 0
    infos = list_indexes(ws.qdrant)
    if not infos and not damaged:
        print(f"No indexes yet in {ws.qdrant_location} ({ws.home}); make one with `cascade index`.")
    for info in infos:
        print(f"{info.name}  model={info.model}  corpus={info.corpus}  vectors={info.n_points}/{info.n_docs}"
              f"  dim={info.dim}  {'complete' if info.complete else 'INCOMPLETE'}  search={info.search}"
              + ("  (in use by another process)" if info.in_use else ""))
    for d in damaged:
        print(f"{d.name}  model={d.model}  corpus={d.corpus}  DAMAGED ({d.reason}): moved to {d.moved_to}; "
              f"`cascade index` rebuilds it, `cascade indexes --drop {d.name}` deletes the damaged copy")
    return 0

