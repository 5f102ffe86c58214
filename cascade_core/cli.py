"""The ``cascade`` command: evaluate cascades, index corpora, run the demo.

    cascade eval --dataset ../shared/data/scifact --split test --first-pass bm25 --pool-size 80 \\
        --stage bi:all-MiniLM-L6-v2@20 --stage cross:MODEL@10 --final-k 10 --json report.json
    cascade index --dataset PATH --model all-MiniLM-L6-v2 [--qdrant-url URL]
    cascade indexes [--drop NAME] [--qdrant-url URL]
    cascade explain --dataset PATH [spec flags as eval] [--query QID [--doc DOCID]]
    cascade tune / cascade doctor --dataset PATH [spec flags as eval]   (cli_tune.py)
    cascade forget --dataset PATH [--scorer ID]                         (cli_forget.py)
    cascade calibrate --dataset PATH [spec flags as eval] [--queries N]  (cli_latency.py)
    any spec flags: --cost STEP=PROFILE prices a step where it will run  (cli_latency.py)
    cascade report FILE.html --dataset PATH [spec flags as eval]        (the dashboard's HTML report)
    cascade eval ... --save NAME; cascade compare NAME... [--baseline NAME] [--csv FILE]  (cli_compare.py)
    cascade export --qdrant FILE --dataset PATH [spec flags as eval] [--check N]  (cli_export.py)
    cascade demo [--json FILE]

Bad arguments and bad data print one ``error:`` line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from . import cli_compare, cli_distill, cli_export, cli_forget, cli_latency, cli_tune
from .errors import CascadeError

from .demo import DEMO_SPEC, SAMPLE_DATASET


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cascade", description="Build, tune and evaluate cascade rerankers.")
    _storage_args(p, default=None)
    # Every subcommand takes the storage flags too (after its name), overriding the global ones.
    storage = argparse.ArgumentParser(add_help=False)
    _storage_args(storage, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("eval", parents=[storage], help="score once, simulate a cascade, report metrics per stage")
    _dataset_args(e)
    _spec_args(e)
    e.add_argument("--budget-ms", type=positive_float, help="latency budget per query, in ms")
    e.add_argument("--queries", type=positive_int, metavar="N", help="evaluate only the first N judged queries")
    e.add_argument("--sample-query", help="id of the query whose final list is printed (default: the first)")
    e.add_argument("--live", type=positive_int, metavar="N",
                   help="also run N queries live through the real models and report measured p50/p95/p99")
    e.add_argument("--json", dest="json_path", help="write the full report as JSON here")
    e.add_argument("--save-spec", help="write the effective spec as YAML here")
    e.add_argument("--save", metavar="NAME", help="save the evaluated experiment under NAME in the data folder "
                                                  "(compare saved ones: cascade compare NAME...)")
    e.add_argument("--from-store", action="store_true",
                   help="score nothing: simulate from the stored scores only (missing ones are an error; a "
                        "listwise stage handed a list it never ranked is reported approximate)")

    i = sub.add_parser("index", parents=[storage], help="encode a corpus into Qdrant (resumable)")
    _dataset_args(i)
    i.add_argument("--model", default="all-MiniLM-L6-v2", help="bi-encoder: packaged name, local folder or hub id")
    i.add_argument("--vectors", metavar="FILE",
                   help="store these precomputed embeddings instead of encoding (.npy with FILE.ids.txt, .npz "
                        "or .parquet, keyed by document id; made by --model, which still encodes the queries "
                        "and any document without a vector)")
    i.add_argument("--ids", metavar="FILE", help="the ids file of a --vectors .npy, when not beside it")

    x = sub.add_parser("indexes", parents=[storage], help="list vector indexes (or drop one)")
    x.add_argument("--drop", metavar="NAME", help="delete this index (only this tool's, as listed)")

    dm = sub.add_parser("demo", parents=[storage], help="evaluate the demo cascade on the bundled sample data")
    dm.add_argument("--json", dest="json_path", help="write the report (as `cascade eval --json`) here")

    w = sub.add_parser("explain", parents=[storage],
                       help="why relevant documents were dropped: by stage, per query, per document")
    _dataset_args(w)
    _spec_args(w)
    w.add_argument("--queries", type=positive_int, metavar="N", help="use only the first N judged queries")
    w.add_argument("--query", metavar="QID", help="show the path of each of this query's relevant documents")
    w.add_argument("--doc", metavar="DOCID", help="with --query: who beat this document and what would keep it")
    w.add_argument("--limit", type=positive_int, default=10,
                   help="how many of the candidates that beat it to show (default 10)")
    r = sub.add_parser("report", parents=[storage],
                       help="write the one-file HTML report (the dashboard's) for a cascade on a dataset")
    r.add_argument("file", help="the HTML file to write")
    _dataset_args(r)
    _spec_args(r)
    r.add_argument("--budget-ms", type=positive_float, help="latency budget per query, in ms")
    r.add_argument("--queries", type=positive_int, metavar="N", help="use only the first N judged queries")
    cli_tune.add_parsers(sub, storage, _dataset_args, _spec_args, positive_int, positive_float)
    cli_forget.add_parser(sub, storage, _dataset_args)
    cli_distill.add_parser(sub, storage, _dataset_args, _spec_args, positive_int, positive_float)
    cli_latency.add_parser(sub, storage, _dataset_args, _spec_args, positive_int, positive_float)
    cli_compare.add_parser(sub, storage)
    cli_export.add_parser(sub, storage, _dataset_args, _spec_args, positive_int)
    return p


def positive_int(text: str) -> int:
    """argparse type of the count flags: a whole number >= 1 (0 or -5 would silently mean "all" or "all but 5").

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number >= 1, not 0
    """
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r} (give a whole number >= 1)") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {n}")
    return n


def positive_float(text: str) -> float:
    """argparse type of ``--budget-ms``: a finite number > 0."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text}")
    return x


def _spec_args(p):
    """The cascade spec flags, shared by ``eval`` and ``explain`` (read by :func:`_spec_from_args`).

    The kinds they accept, with labels, models and parameters, come from the scorer registry
    (listed after the flags in ``--help``): a kind added in one file shows up here by itself.
    """
    from .scorers import retriever_kinds, scorer_kinds

    p.add_argument("--config", help="cascade spec file (YAML or JSON); flags below override it")
    p.add_argument("--first-pass", metavar="KIND[:MODEL]",
                   help=f"the first pass: {' | '.join(retriever_kinds())} (default bm25; kinds below)")
    p.add_argument("--pool-size", type=positive_int, help="candidates the first pass keeps (default 100)")
    p.add_argument("--stage", action="append", default=None, metavar="KIND[:MODEL]@KEEP",
                   help="a rerank stage, e.g. bi:all-MiniLM-L6-v2@20, sparse@10 or cross:PATH@10 (repeat, "
                        "in order); a per-query cut-off: @drop=0.2,min=5,max=100 (within 0.2 of the query's top "
                        "score) or @score=0.5,min=5,max=100, add ,scale=norm for min-max normalised scores; "
                        f"kinds: {', '.join(scorer_kinds())} (below)")
    p.add_argument("--final-k", type=positive_int, help="length of the final list (default 10)")
    p.add_argument("--param", action="append", default=None, metavar="STAGE.NAME=VALUE",
                   help="set a step's parameter (repeat): STAGE is a stage's name (its kind, or 'kind #2'), "
                        "its number (1 = the first rerank stage) or first-pass; e.g. "
                        "--param llm.base_url=http://localhost:11434/v1 --param llm.mode=listwise")
    cli_latency.add_cost_arg(p)
    p.epilog = kinds_help()
    p.formatter_class = argparse.RawDescriptionHelpFormatter


def kinds_help() -> str:
    """The registered kinds, for ``--help``: name (and aliases), label, model, cost, parameters."""
    from .scorers import aliases_of, describe_kind, registered

    out = []
    for retriever, title in ((False, "rerank stages (--stage KIND[:MODEL]@KEEP)"),
                             (True, "first passes (--first-pass KIND[:MODEL])")):
        out.append(f"{title}:")
        for kind, cls in registered(retriever).items():
            lines = describe_kind(cls).splitlines()
            aliases = aliases_of(kind, retriever)
            head = lines[0] if not aliases else lines[0].replace(f"{kind}:", f"{kind} (or {', '.join(aliases)}):", 1)
            out += [f"  {head}"] + [f"  {line}" for line in lines[1:]]
    out.append("Parameters are set with --param STAGE.NAME=VALUE, or in a --config spec file: "
               "stages: [{scorer: {kind: ..., params: {...}}, keep: ...}].")
    return "\n".join(out)


def _storage_args(p, default):
    """``--home`` and ``--qdrant-url``: accepted before the subcommand and after it.

    The subcommand's copies default to ``SUPPRESS`` (no attribute unless given), so they
    override the global flags when given and leave them alone when not.
    """
    p.add_argument("--home", default=default, help="data folder for scores and the embedded Qdrant "
                                                   "(default: $CASCADE_HOME or ~/.local/share/cascade-explorer)")
    p.add_argument("--qdrant-url", default=default, metavar="URL",
                   help="use the Qdrant server or cluster at URL instead of the embedded one (or set "
                        "QDRANT_URL; the API key comes from QDRANT_API_KEY)")


def _dataset_args(p):
    p.add_argument("--dataset", help="a BEIR, TREC, JSONL/CSV or SMART dataset folder or file (or name the files "
                                     "with --corpus, --queries-file, --qrels)")
    p.add_argument("--corpus", metavar="FILE", help="the corpus file (recognised by its content), overriding "
                                                    "the --dataset folder's")
    p.add_argument("--queries-file", "--topics", dest="queries_file", metavar="FILE",
                   help="the queries (topics) file, overriding the --dataset folder's")
    p.add_argument("--qrels", metavar="FILE", help="the relevance judgments file, overriding the --dataset folder's")
    p.add_argument("--split", help="qrels split (BEIR), default test")
    p.add_argument("--format", default="auto", help="auto | beir | trec | jsonl | csv | smart")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CascadeError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted; everything scored so far is stored", file=sys.stderr)
        return 130
    # Last resort: file problems are checked where they arise (with a better message); one
    # that slips through is still one line naming the file, not a traceback.
    except OSError as exc:
        return _fail(describe_os_error(exc))
    except UnicodeDecodeError as exc:
        return _fail(f"{_file_in_traceback(exc) or 'a file'} is not UTF-8 text "
                     f"(byte {exc.object[exc.start]:#04x} at offset {exc.start})")


def _fail(message: str) -> int:
    """Print the one ``error:`` line and give the exit status of bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def describe_os_error(exc: OSError) -> str:
    """``FILE: reason`` for an OSError (both files for a rename), else its text.

    >>> describe_os_error(FileNotFoundError(2, "No such file or directory", "/no/r.json"))
    '/no/r.json: No such file or directory'
    """
    if exc.filename is None:
        return str(exc)
    files = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else f"{exc.filename}"
    return f"{files}: {exc.strerror or exc}"


def _file_in_traceback(exc: BaseException) -> str | None:
    """The name of the innermost open file among the traceback's local variables, if any.

    A UnicodeDecodeError does not say which file it came from; the frame that was reading it
    holds the open file object, which does.
    """
    import io

    name, tb = None, exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, io.TextIOBase) and isinstance(getattr(value, "name", None), str):
                name = value.name
        tb = tb.tb_next
    return name


# -- commands -------------------------------------------------------------------------------

def _spec_from_args(args):
    """The spec of ``--config`` (or BM25's defaults) with the spec flags laid over it."""
    from .cascade.spec import CascadeSpec, parse_first_pass, parse_stage

    base = CascadeSpec.load(args.config).to_dict() if args.config else {"first_pass": {"kind": "bm25"}}
    config_costs = base.pop("costs", None)   # laid over last, with --cost (cli_latency)
    if args.first_pass:
        base["first_pass"] = parse_first_pass(args.first_pass).to_dict()
    if args.pool_size is not None:
        base["pool_size"] = args.pool_size
    if args.stage is not None:
        # "keep" is a count, or an adaptive cut-off's mapping
        base["stages"] = [{"scorer": s.scorer.to_dict(), "keep": s.to_dict()["keep"]}
                          for s in (parse_stage(t) for t in args.stage)]
    if args.final_k is not None:
        base["final_k"] = args.final_k
    for text in getattr(args, "param", None) or []:
        _set_param(base, text)
    return cli_latency.apply_cost_flags(CascadeSpec.from_dict(base), getattr(args, "cost", None), config_costs,
                                        stages_replaced=args.stage is not None)


def _set_param(spec: dict, text: str) -> None:
    """Apply one ``--param STAGE.NAME=VALUE`` to a spec's dict (values read as YAML scalars).

    >>> spec = {"first_pass": {"kind": "bm25"}, "stages": [{"scorer": {"kind": "llm"}, "keep": 5}]}
    >>> _set_param(spec, "llm.base_url=http://localhost:11434/v1"); _set_param(spec, "1.window=8")
    >>> spec["stages"][0]["scorer"]["params"]
    {'base_url': 'http://localhost:11434/v1', 'window': 8}
    """
    import yaml

    from .cascade.spec import StageSpec, _name_stages, _scorer_config

    target, eq, value = text.partition("=")
    step, dot, name = target.rpartition(".")
    if not eq or not dot or not step or not name:
        raise CascadeError(f"--param {text!r}: expected STAGE.NAME=VALUE, e.g. llm.mode=listwise")
    if step in ("first-pass", "first_pass", "0"):
        config = spec["first_pass"]
    else:
        stages = spec.get("stages") or []
        # the names the spec will give its stages (not validated yet: other --param may follow)
        names = [st.name for st in _name_stages([StageSpec(_scorer_config(sd.get("scorer"), "stage"), 1,
                                                           name=str(sd.get("name") or "")) for sd in stages])]
        if step.isdigit() and 1 <= int(step) <= len(stages):
            index = int(step) - 1
        elif step in names:
            index = names.index(step)
        else:
            raise CascadeError(f"--param {text!r}: no stage {step!r}; stages: {', '.join(names) or 'none'} "
                               "(or their numbers from 1, or first-pass)")
        config = stages[index]["scorer"]
    if isinstance(config, str):   # "kind:model" shorthand in a spec file
        kind, _, model = config.partition(":")
        config = {"kind": kind, **({"model": model} if model else {})}
        if step in ("first-pass", "first_pass", "0"):
            spec["first_pass"] = config
        else:
            spec["stages"][index]["scorer"] = config
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    config.setdefault("params", {})[name] = parsed if isinstance(parsed, (str, int, float, bool)) else value


def cmd_eval(args) -> int:
    # Output paths first: a missing folder must not surface after minutes of scoring.
    for path, flag in ((args.json_path, "--json"), (args.save_spec, "--save-spec")):
        if path:
            check_writable(path, flag)
    if args.save:   # a bad name must not surface after minutes of scoring either
        from .saved import check_name

        check_name(args.save)
    spec = _spec_from_args(args)
    if args.save_spec:
        _write(args.save_spec, spec.to_yaml(), "--save-spec")
    return _evaluate(args, spec, args.dataset)


def cmd_demo(args) -> int:
    from .cascade.spec import CascadeSpec

    if not SAMPLE_DATASET.exists():
        raise CascadeError(f"the bundled sample data is missing at {SAMPLE_DATASET}")
    if args.json_path:
        check_writable(args.json_path, "--json")
    args.split = None
    args.format = "auto"
    for name in ("budget_ms", "queries", "sample_query"):
        setattr(args, name, None)
    args.live = 5
    return _evaluate(args, CascadeSpec.from_dict(DEMO_SPEC), SAMPLE_DATASET)


def _experiment(args, spec, dataset_path):
    """Load the dataset and bind it to ``spec`` over its judged queries (the first ``--queries``)."""
    from .experiment import Experiment

    dataset = _load(dataset_path, args.split, args.format, dataset_files(args))
    ws = _workspace(args)
    exp = Experiment(dataset, spec, ws)
    if args.queries:
        exp = Experiment(dataset, spec, ws, queries=exp.queries.subset(exp.queries.ids[: args.queries]))
    print(f"Cascade: {spec.describe()}")
    print(f"Evaluating on {len(exp.queries)} queries")
    merged = exp.merged_qrels
    if merged.use != "human":   # the Judge page's switch: say so, never silently
        print(f"Judgments: {merged.use} (LLM labels count: {merged.llm_pairs} pair(s); "
              f"switched on the dashboard's Judge page, saved in {exp.judgments.path})")
    return exp


def _evaluate(args, spec, dataset_path) -> int:
    from .progress import terminal_progress

    exp = _experiment(args, spec, dataset_path)
    if args.sample_query is not None and args.sample_query not in exp.queries:
        raise CascadeError(f"--sample-query {args.sample_query!r} is not among the evaluated queries")
    if getattr(args, "from_store", False):
        from .scoring import ScoringReport

        scoring = ScoringReport()   # nothing scored: the simulation reads the store only
    else:
        load_models(exp.plan)
        cli_latency.print_estimate(exp.estimate(), sys.stderr)   # what is missing, and about how long
        # sys.stderr as it is now: terminal_progress's default is the stream of import time.
        scoring = exp.ensure_scores(progress=terminal_progress(sys.stderr))
    result = exp.run(budget_ms=args.budget_ms)
    live = exp.measure_live(args.live) if args.live else None
    report = build_report(exp, result, scoring, live, args.sample_query)
    print_report(report)
    if args.json_path:
        _write(args.json_path, json.dumps(report, indent=2, default=_json_default), "--json")
        print(f"\nReport written to {args.json_path}")
    if getattr(args, "save", None):
        cli_compare.save_result(args.save, exp, result, live)
    return 0


def load_models(plan) -> None:
    """Load every step's model before any scoring starts.

    Otherwise a mistyped model id of the last stage fails only after the first pass and the
    stages before it have run (minutes on a real corpus). The loaders cache per process, so
    scoring reuses what is loaded here.
    """
    for step in [plan.retriever, *plan.scorers]:
        step.load_model()


def cmd_index(args) -> int:
    from .models import resolve_model
    from .progress import terminal_progress

    dataset = _load(args.dataset, args.split, args.format, dataset_files(args))
    ws = _workspace(args)
    index = ws.vector_index(dataset.corpus, resolve_model(args.model))
    precomputed = None
    if args.vectors:
        from .data.vectors import read_vectors

        precomputed = read_vectors(args.vectors, args.ids)
        found = precomputed.check(dim=index.dim, doc_ids=dataset.corpus.ids)   # a wrong file fails here
        print(f"Vectors {args.vectors}: {len(precomputed.ids):,} x {precomputed.dim}; {found.summary()}")
    before = index.info()
    if before.complete and not index.needs_ann():
        print(f"Index {index.name} in {ws.qdrant_location} is complete ({before.n_points} vectors): nothing to do")
        return 0
    rep = index.build(progress=terminal_progress(sys.stderr), precomputed=precomputed)
    if rep.note:
        print(f"note: {rep.note}", file=sys.stderr)
    print(f"Index {rep.name} in {ws.qdrant_location}: "
          + (f"imported {rep.imported} precomputed vectors, " if rep.imported else "")
          + f"encoded {rep.encoded} documents in {rep.seconds:.1f} s "
          f"({rep.docs_per_s:.1f} docs/s), {rep.already_stored} were already stored, "
          f"{rep.truncated} truncated at {rep.max_tokens} tokens; complete: {rep.complete}"
          + (f"; search: {index.info().search}" if rep.complete else ""))
    return 0


def cmd_indexes(args) -> int:
    from .index import INDEX_PREFIX, list_indexes

    if args.drop and not args.drop.startswith(INDEX_PREFIX):
        # On a shared server, a typo must not delete somebody else's collection.
        raise CascadeError(f"refusing to drop {args.drop!r}: it is not an index of this tool (their names "
                           f"start with {INDEX_PREFIX!r}; see `cascade indexes`)")
    ws = _workspace(args)
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


def cmd_explain(args) -> int:
    from . import explain
    from .progress import terminal_progress

    if args.doc and not args.query:
        raise CascadeError("--doc needs --query: the query the document was dropped for")
    exp = _experiment(args, _spec_from_args(args), args.dataset)
    if exp.relevance is None:
        raise CascadeError(f"dataset {exp.dataset.name!r} has no relevance judgments: nothing to explain")
    # Unknown ids fail before any scoring.
    if args.query is not None and args.query not in exp.queries:
        raise CascadeError(f"unknown query id {args.query!r}: not among the {len(exp.queries)} judged queries "
                           "evaluated")
    if args.doc is not None and args.doc not in exp.dataset.corpus:
        raise CascadeError(f"unknown document id {args.doc!r}: it is not in the corpus")
    load_models(exp.plan)
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


def cmd_report(args) -> int:
    """``cascade report FILE.html``: the same report as the Tune page's download, from the terminal."""
    from .progress import terminal_progress

    check_writable(args.file, "report file")
    exp = _experiment(args, _spec_from_args(args), args.dataset)
    if exp.relevance is None:
        raise CascadeError(f"dataset {exp.dataset.name!r} has no relevance judgments: the report measures against them")
    load_models(exp.plan)
    exp.ensure_scores(progress=terminal_progress(sys.stderr))
    result = exp.run(budget_ms=args.budget_ms)
    # The report draws (Plotly), so it lives with the dashboard in cascade_ui; the library modules
    # never import it, only this outermost command layer does.
    from cascade_ui.report import cascade_report, report_summary

    html = cascade_report(result, exp, report_summary(result, exp, exp.dataset.name))
    _write(args.file, html, "report file")
    print(f"Report written to {args.file} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0


COMMANDS = {"eval": cmd_eval, "calibrate": cli_latency.cmd_calibrate, "report": cmd_report, "demo": cmd_demo, "index": cmd_index, "indexes": cmd_indexes,
            "explain": cmd_explain, "tune": cli_tune.cmd_tune, "doctor": cli_tune.cmd_doctor,
            "forget": cli_forget.cmd_forget, "distill": cli_distill.cmd_distill, "compare": cli_compare.cmd_compare,
            "export": cli_export.cmd_export}


# -- helpers --------------------------------------------------------------------------------

def dataset_files(args) -> dict:
    """The files named with ``--corpus``, ``--queries-file``, ``--qrels`` (none: an empty dict)."""
    named = {"corpus": getattr(args, "corpus", None), "queries": getattr(args, "queries_file", None),
             "qrels": getattr(args, "qrels", None)}
    return {role: path for role, path in named.items() if path}


def _load(path, split, fmt, files=None):
    from .data import load_dataset

    if path is None and not (files or {}).get("corpus"):
        raise CascadeError("no dataset: give --dataset FOLDER, or name the corpus file with --corpus FILE")
    dataset = load_dataset(path, split=split, fmt=fmt, **(files or {}))
    counts = ", ".join(f"{k}: {v}" for k, v in dataset.report.counts.items())
    print(f"Dataset {dataset.name}{f' (split {dataset.split})' if dataset.split else ''}: {counts}")
    for finding in dataset.report.warnings:
        print(f"  {finding}")
    return dataset


def check_writable(path: str, flag: str) -> None:
    """Refuse an output file that cannot be written, before any work; create nothing.

    Nothing is written here: a run that fails later must not leave an empty report behind or
    have overwritten an old one.

    >>> check_writable("/no/such/folder/r.json", "--json")
    Traceback (most recent call last):
    ...
    cascade_core.errors.CascadeError: --json /no/such/folder/r.json: the folder /no/such/folder does not exist
    """
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise CascadeError(f"{flag} {path}: is a folder; give a file name")
    if not folder.exists():
        raise CascadeError(f"{flag} {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise CascadeError(f"{flag} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CascadeError(f"{flag} {path}: not writable (permission denied)")


def _write(path: str, text: str, flag: str) -> None:
    """Write an output file; a failure checks could not foresee (disk full) is still one line."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CascadeError(f"{flag} {path}: cannot write it: {exc.strerror or exc}") from None


def _workspace(args):
    from .workspace import Workspace

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # A damaged file moved aside and rebuilt is said once, when it happens (not a traceback).
    return Workspace(args.home, qdrant_url=args.qdrant_url, notify=_warn)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def build_report(exp, result, scoring, live, sample_qid=None) -> dict:
    from .flow import kept_count_summary
    from .lift import first_pass_lift, stage_changes
    from .metrics import MOSTLY_UNJUDGED_BELOW

    ev, lat = result.evaluation, result.latency
    lift = first_pass_lift(result.run, ev, lat) if ev else None
    changes = {c.stage: c for c in stage_changes(result.run, ev)} if ev else {}
    contributions = _contributions(exp, result) if ev else {}
    stages = []
    for i, name in enumerate(exp.spec.stage_names):
        st_eval = ev.steps[i] if ev else None
        st_lat = lat.stages[i]
        stages.append({
            "name": name,
            "kind": (exp.spec.first_pass if i == 0 else exp.spec.stages[i - 1].scorer).kind,
            "scorer": exp.plan.scorer_ids[i],
            "keep": exp.spec.keeps[i],
            "candidates_in": None if i == 0 else (st_eval.n_in if st_eval else None),
            "recall": st_eval.recall if st_eval else None,
            "metrics": st_eval.means if st_eval else None,
            "latency_ms": st_lat.predicted_ms,
            "cumulative_ms": st_lat.cumulative_ms,
            "measured_ms": live.get(name) if live else None,
            # a rerank stage's output against the list it received (None for the first pass)
            "change_vs_input": ({m: c.to_dict() for m, c in changes[name].changes.items()}
                                if name in changes else None),
            # the cascade with this stage against the same cascade without it (None: first pass)
            "contribution": contributions.get(name),
        })
    queries = exp.queries
    qid = sample_qid if sample_qid is not None else queries.ids[0]
    if qid not in queries:
        raise CascadeError(f"--sample-query {qid!r} is not among the evaluated queries")
    qi = exp.matrix.query_ids.index(qid)
    relevant = exp.qrels.relevant(qid)
    corpus = exp.dataset.corpus
    final_ids = result.run.final_doc_ids(qi)
    final_scores = result.run.final.scores[qi, : len(final_ids)]
    return {
        "dataset": {"name": exp.dataset.name, "split": exp.dataset.split, "documents": len(corpus),
                    "queries": len(queries)},
        "spec": exp.spec.to_dict(),
        "metrics": ev.final.means if ev else {},
        # the first pass alone (its own top final_k): what the cascade must beat
        "first_pass": lift.first_pass_metrics() if lift else {},
        "lift": lift.to_dict() if lift else None,
        "ndcg_gain": "linear (trec_eval)",
        "stages": stages,
        # the holes: steps whose top 10 is mostly unjudged (judged@10 and ndcg_condensed@10 are in
        # every step's metrics), and the sentence the tables print about them
        "holes": {"mostly_unjudged_below": MOSTLY_UNJUDGED_BELOW,
                  "mostly_unjudged": ev.mostly_unjudged() if ev else [],
                  "warning": ev.unjudged_warning() if ev else None},
        # query-adaptive cut-offs: the distribution of each query's kept count ({} when all are fixed)
        "kept_counts": kept_count_summary(result.run).to_dict("index"),
        # each step's figure with its source and spread, what the tool distrusts, the predicted tail
        "latency": cli_latency.latency_section(lat, live, exp.cpu_now() if live else None),
        "scoring": {"retrieved_queries": scoring.retrieved_queries, "scored_pairs": scoring.scored_pairs,
                    "seconds": scoring.seconds,
                    # per step that cut documents to its model's limit in this run: how many, and where
                    "truncated": scoring.truncated,
                    # what a step found while preparing (an existing collection: its coverage of the corpus)
                    "notes": scoring.notes},
        # damaged files found, moved aside and rebuilt (the score store, vector indexes)
        "notices": list(exp.workspace.notices),
        # listwise stages handed a list they never ranked (scores of a longer one stand in); [] = exact
        "approximate": [a.to_dict() for a in result.run.approximate],
        # what made every stored score and timing used here: model fingerprints, libraries, machines
        "provenance": exp.provenance_report(),
        "sample_query": {"id": qid, "text": queries.text_of(qid), "results": [
            {"rank": r, "doc_id": d, "score": float(s), "grade": relevant.get(d, 0),
             "title": corpus[d].title or corpus[d].text[:80]}
            for r, (d, s) in enumerate(zip(final_ids, final_scores), start=1)]},
    }


def _contributions(exp, result) -> dict:
    """Each stage's contribution: the final metrics with it minus without it, in points, from
    stored scores only (a spec whose scores were never computed says so instead)."""
    from .compare import experiment_factory, stage_lifts

    make = experiment_factory(exp.dataset, exp.workspace, exp.queries)
    lifts = stage_lifts(result, make, metrics=("ndcg@10", "mrr@10", "recall@10"), cost_models=exp.cost_models())
    return {r.stage: {"without": r.without.spec.describe(), "lift_points": r.lift,
                      "wilcoxon_p": {m: t.wilcoxon_p for m, t in r.tests.items()},
                      "missing_scores": r.without.missing} for r in lifts.rows}


def print_report(report: dict) -> None:
    from .metrics import MOSTLY_UNJUDGED_BELOW

    sq = report["sample_query"]
    print(f"\nSample query {sq['id']}: {sq['text']}")
    for r in sq["results"]:
        mark = f"REL {r['grade']}" if r["grade"] > 0 else "     "
        print(f"  {r['rank']:>3}. {mark}  {r['score']:9.4f}  {r['doc_id']:<12} {r['title'][:70]}")
    m = report["metrics"]
    if m:
        print(f"\nFinal top {report['spec']['final_k']}: nDCG@10 {m['ndcg@10']:.3f}  MRR@10 {m['mrr@10']:.3f}  "
              f"recall@10 {m['recall@10']:.3f}  MAP {m['map']:.3f}   (nDCG gain: {report['ndcg_gain']})")
        if "judged@10" in m:
            print(f"  judged@10 {m['judged@10']:.2f} (share of the top 10 with a judgment)  nDCG@10 condensed "
                  f"{m['ndcg_condensed@10']:.3f} (unjudged documents removed)")
    # nDCG' = nDCG@10 on the condensed list (unjudged removed); judged@10 under 50% is marked "!"
    print("\nStage          keep   recall  nDCG@10  nDCG'@10  judged@10  oracle@10  pred. ms/query  "
          "measured p50/p95/p99 ms")
    for st in report["stages"]:
        m = st["metrics"] or {}
        rec = "   -  " if st["recall"] is None else f"{st['recall']:.3f}"
        ndcg = "   -  " if not m else f"{m['ndcg@10']:.3f}"
        cond = "   -  " if "ndcg_condensed@10" not in m else f"{m['ndcg_condensed@10']:.3f}"
        jd = "    - " if "judged@10" not in m else (
            f"{m['judged@10']:.2f}" + ("!" if m["judged@10"] < MOSTLY_UNJUDGED_BELOW else " "))
        orc = "   -  " if not m else f"{m['oracle_ndcg@10']:.3f}"
        ms = "?" if math.isnan(st["latency_ms"]) else f"{st['latency_ms']:.1f}"
        meas = st["measured_ms"]
        meas_s = "" if not meas else f"{meas['p50']:.1f} / {meas['p95']:.1f} / {meas['p99']:.1f}"
        print(f"{st['name'][:13]:<13} {st['keep']:>5}   {rec}   {ndcg}    {cond}     {jd}     {orc}      {ms:>9}"
              f"       {meas_s}")
    holes = report.get("holes") or {}
    if holes.get("warning"):
        print(f"WARNING: {holes['warning']}")
    for name, k in (report.get("kept_counts") or {}).items():
        print(f"  {name}: per-query cut-off {k['cut-off']}: kept per query mean {k['mean']:.1f}, p50 {k['p50']:.0f}, "
              f"p95 {k['p95']:.0f} (min {k['min']}, max {k['max']})")
    from .lift import metric_label

    lift = report.get("lift")
    if lift:
        print("\nAgainst the first pass alone (same queries; paired Wilcoxon test per query):")
        for metric, c in lift["metrics"].items():
            flag = "WARNING: worse than the first pass. " if c["worse"] else ""
            p = "?" if c["wilcoxon_p"] != c["wilcoxon_p"] else f"{c['wilcoxon_p']:.2g}"
            print(f"  {flag}{metric_label(metric)} {c['before']:.3f} -> {c['after']:.3f} "
                  f"({c['change_points']:+.1f} points; {c['wins']} {'query' if c['wins'] == 1 else 'queries'} better, {c['losses']} worse, p = {p})")
        if lift["added_ms"] == lift["added_ms"]:
            print(f"  The stages add {lift['added_ms']:.1f} ms per query (predicted) to the first pass's "
                  f"{lift['first_pass_ms']:.1f} ms.")
        for st in report["stages"][1:]:
            change = (st.get("change_vs_input") or {}).get("ndcg@10")
            if change and change["worse"]:
                print(f"  WARNING: stage {st['name']!r} ranks worse than the list it receives: nDCG@10 "
                      f"{change['before']:.3f} -> {change['after']:.3f} ({change['change_points']:+.1f} points); "
                      "see `cascade doctor` for the fix")
    cli_latency.print_latency(report["latency"])
    sc = report["scoring"]
    pairs = sum(sc["scored_pairs"].values())
    print(f"Scoring this run: {sc['retrieved_queries']} first-pass queries, {pairs} pairs scored "
          f"({sc['seconds']:.1f} s); everything else came from the store")
    for note in sc.get("notes") or []:
        print(f"note: {note}")
    for step, cut in (sc.get("truncated") or {}).items():
        print(f"Truncated: {step}: {cut['documents']} document{'s' if cut['documents'] != 1 else ''} cut to "
              f"{cut['limit']} (the model reads no further)")
    for ap in report.get("approximate") or []:
        print(f"APPROXIMATE: stage {ap['stage']!r} is listwise and {ap['queries']} of {ap['of']} queries hand it "
              "a list it never ranked (scores of a longer list stand in); run without --from-store to rescore")


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
    from .explain import beaten_by, describe_keeps, keeps_to_final

    corpus = exp.dataset.corpus
    print_relevant_paths([path])
    if path.survived:
        return
    step = path.dropped_at
    print(f"\nRanked above it at {step}:")
    for r in beaten_by(run, path.query, step, path.doc_id, limit, exp.relevance).itertuples():
        doc = corpus[r.doc_id]
        mark = f"REL {r.grade}" if r.grade > 0 else "     "
        print(f"  {r.rank:>4}. {mark} {r.score:10.4f}  {'kept   ' if r.kept else 'dropped'}  {r.doc_id:<12} "
              f"{(doc.title or doc.text)[:60]}")
    chain = keeps_to_final(run, path, costs=exp)   # its first item: the cut-off where it was dropped
    print(f"\nTo keep it: {chain[0].describe()}")
    if len(chain) > 1:
        print(f"To reach the final list: {describe_keeps(chain)}")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


if __name__ == "__main__":
    sys.exit(main())
