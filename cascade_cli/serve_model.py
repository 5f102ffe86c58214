"""``cascade serve-model``: a cross-encoder served over the rerank APIs, until Ctrl-C.

    cascade serve-model cross-encoder/ms-marco-MiniLM-L-6-v2 --port 8080
    cascade serve-model ~/.local/share/cascade-explorer/students/scifact --port 8080   # a distilled student

Any cross-encoder this tool loads (a hub id, a folder, a student from ``cascade distill``) answers
Text Embeddings Inference's ``POST /rerank``, Cohere's and Jina's ``/v1/rerank`` and ``/v2/rerank``,
Voyage's ``/v1/rerank`` and Elasticsearch's ``/_inference/rerank/ID``
(:mod:`cascade_core.remote.server`). A ``rerank-api`` stage calls it like any hosted reranker::

    cascade eval --dataset sample_data/scifact-mini --first-pass bm25 --stage rerank-api@20 \\
        --param rerank-api.protocol=tei --param rerank-api.url=http://127.0.0.1:8080
"""

from __future__ import annotations

import os

from cascade_core.errors import SpecError
from cascade_core.models.device import DEVICE_HELP, resolve_device
from cascade_core.remote.server import listen, load_served_model, serve


def add_parser(sub, storage) -> None:
    """Add ``serve-model`` to the ``cascade`` parser (``cli.build_parser`` calls it)."""
    s = sub.add_parser("serve-model",   # no storage flags: it reads no data folder
                       help="serve a cross-encoder over the rerank APIs (TEI, Cohere, Voyage, Elasticsearch)")
    s.add_argument("model", help="a cross-encoder: hub id, local folder, or a student made by `cascade distill`")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for the network)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument("--max-length", type=int, default=512, help="tokens per (query, document) pair (default 512)")
    s.add_argument("--batch-size", type=int, default=32, help="pairs per model call (default 32)")
    s.add_argument("--max-client-batch-size", type=int, default=1000,
                   help="most documents one request may send (default 1000; more is refused with 413)")
    s.add_argument("--device", default="auto", metavar="DEVICE",
                   help=DEVICE_HELP + " (default auto; on a CUDA GPU the model runs in half precision)")
    s.add_argument("--api-key-env", default="", metavar="VAR",
                   help="require the key held in environment variable VAR (Authorization: Bearer KEY)")
    s.set_defaults(run=cmd_serve_model)


def cmd_serve_model(args) -> int:
    for flag, value in (("--port", args.port), ("--max-length", args.max_length), ("--batch-size", args.batch_size),
                        ("--max-client-batch-size", args.max_client_batch_size)):
        if value < (0 if flag == "--port" else 1) or (flag == "--port" and value > 65535):
            raise SpecError(f"{flag} {value} is out of range")
    if args.api_key_env and not os.environ.get(args.api_key_env):
        raise SpecError(f"--api-key-env {args.api_key_env}: that variable is not set here, so the server would "
                        "answer anyone; set it to the key, or leave --api-key-env out for a server without one")
    device = resolve_device(args.device)   # a GPU this machine lacks: one line, before anything
    sock = listen(args.host, args.port)   # before the model loads: a port in use fails at once
    try:
        served = load_served_model(args.model, args.max_length, args.batch_size, args.max_client_batch_size,
                                   device)
    except BaseException:
        sock.close()
        raise
    serve(served, sock, args.api_key_env, announce=lambda line: print(line, flush=True))
    return 0
