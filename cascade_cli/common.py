"""What every command shares: the dataset, spec and storage flags, reading them, and output files.

A command module adds its parser with these flags (:func:`dataset_args`, :func:`spec_args`; the
storage flags come in through ``main``'s parent parser) and calls :func:`experiment` or
:func:`load_dataset_from_args` to get its inputs: so every command reads a dataset, a spec and
the data folder the same way, and says what it loaded the same way. Output files are checked
before any work (:func:`check_writable`) and written with one error line on failure.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade.executor import EXECUTOR_HELP
from cascade_core.cascade.presets import preset_names, preset_spec
from cascade_core.cascade.spec import CascadeSpec, parse_first_pass, parse_stage, stage_names
from cascade_core.cascade.spec_input import OversizedNumber, load_yaml
from cascade_core.data import load_dataset
from cascade_core.errors import CascadeError, SpecError
from cascade_core.judgments.store import USE_HUMAN
from cascade_core.latency.profiles import step_key
from cascade_core.models.device import DEVICE_HELP
from cascade_core.readback import cut
from cascade_core.scorers import (aliases_of, compact_config, describe_kind, registered, retriever_kinds,
                                  scorer_kinds)
from cascade_core.scoring.workspace import Workspace


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



def spec_args(p):
    """The cascade spec flags, shared by ``eval`` and ``explain`` (read by :func:`spec_from_args`).

    The kinds they accept, with labels, models and parameters, come from the scorer registry
    (listed after the flags in ``--help``): a kind added in one file shows up here by itself.
    """
    p.add_argument("--config", help="cascade spec file (YAML or JSON); flags below override it")
    p.add_argument("--preset", metavar="NAME",
                   help=f"start from a preset instead of a spec file: {' | '.join(preset_names())} (the Build "
                        "page's; a cross-encoder in it is the newest distilled student, else the one shipped "
                        "with the sample); flags below override it")
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
    p.add_argument("--device", metavar="DEVICE", help=DEVICE_HELP + " (default auto; or device: in the spec)")
    p.add_argument("--executor", metavar="WHERE", help=EXECUTOR_HELP + " (default local; or executor: in the spec)")
    add_cost_arg(p)
    p.epilog = kinds_help()
    p.formatter_class = argparse.RawDescriptionHelpFormatter


def kinds_help() -> str:
    """The registered kinds, for ``--help``: name (and aliases), label, model, cost, parameters."""
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


def storage_args(p, default):
    """``--home`` and ``--qdrant-url``: accepted before the subcommand and after it.

    The subcommand's copies default to ``SUPPRESS`` (no attribute unless given), so they
    override the global flags when given and leave them alone when not.
    """
    p.add_argument("--home", default=default, help="data folder for scores and the embedded Qdrant "
                                                   "(default: $CASCADE_HOME or ~/.local/share/cascade-explorer)")
    p.add_argument("--qdrant-url", default=default, metavar="URL",
                   help="use the Qdrant server or cluster at URL instead of the embedded one (or set "
                        "QDRANT_URL; the API key comes from QDRANT_API_KEY)")


def dataset_args(p):
    p.add_argument("--dataset", help="a BEIR, TREC, JSONL/CSV or SMART dataset folder or file (or name the files "
                                     "with --corpus, --queries-file, --qrels), or irds:NAME, an ir_datasets "
                                     "collection (e.g. irds:beir/scifact/test; the split is in the name)")
    p.add_argument("--corpus", metavar="FILE", help="the corpus file (recognised by its content), overriding "
                                                    "the --dataset folder's")
    p.add_argument("--queries-file", "--topics", dest="queries_file", metavar="FILE",
                   help="the queries (topics) file, overriding the --dataset folder's")
    p.add_argument("--qrels", metavar="FILE", help="the relevance judgments file, overriding the --dataset folder's")
    p.add_argument("--split", help="qrels split (BEIR), default test")
    p.add_argument("--format", default="auto", help="auto | beir | trec | jsonl | csv | smart")


COST_HELP = ("price a step where it will run (repeat): STEP=measured | xFACTOR (e.g. x0.025: 40x faster "
             "than measured here) | FIXED+PER_PAIR ms (e.g. 2+0.05) | PER_CALL/PAIRS for a batch API "
             "(e.g. 400/20); STEP is first-pass, a stage's name or its number")


def add_cost_arg(p) -> None:
    """``--cost STEP=PROFILE`` on a parser with the spec flags."""
    p.add_argument("--cost", action="append", default=None, metavar="STEP=PROFILE", help=COST_HELP)


def apply_cost_flags(spec, texts, config_costs: dict | None = None, stages_replaced: bool = False):
    """``spec`` with the ``--config`` file's ``costs:`` and then each ``--cost`` laid over it.

    A config's profile of a step the ``--stage`` flags replaced is dropped (that step is gone);
    a ``--cost`` naming no step is refused.

    >>> from cascade_core.cascade import CascadeSpec
    >>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "stages": [{"scorer": "bi:m", "keep": 20}]})
    >>> [p.describe() for p in apply_cost_flags(spec, ["1=x0.025", "first-pass=3+0"]).cost_profiles.values()]
    ['user-set: 3 ms', 'measured x 0.025']
    """
    costs = dict(config_costs or {})
    if stages_replaced:
        costs = {k: v for k, v in costs.items() if step_key(k) in spec.stage_names}
    for text in texts or []:
        step, eq, value = text.partition("=")
        step = step.strip()
        if not eq or not step or not value.strip():
            raise CascadeError(f"--cost {text!r}: expected STEP=PROFILE, e.g. cross-encoder=x0.025 or llm=400/20")
        if step.isdigit():
            if int(step) >= len(spec.stage_names):
                raise CascadeError(f"--cost {text!r}: no step {step}; steps: 0 (first pass) to {len(spec.stages)}")
            step = spec.stage_names[int(step)]
        costs[step_key(step)] = value.strip()
    return spec.with_costs(costs) if costs else spec


def spec_from_args(args):
    """The spec of ``--config`` (or BM25's defaults) with the spec flags laid over it."""
    if args.config and getattr(args, "preset", None):
        raise SpecError("--config and --preset both name the cascade to start from: give one")
    if getattr(args, "preset", None):
        base = preset_spec(args.preset)
    else:
        base = CascadeSpec.load(args.config).to_dict() if args.config else {"first_pass": {"kind": "bm25"}}
    config_costs = base.pop("costs", None)   # laid over last, with --cost (apply_cost_flags)
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
        set_param(base, text)
    if getattr(args, "device", None):
        base["device"] = args.device
    if getattr(args, "executor", None):
        base["executor"] = args.executor
    spec = apply_cost_flags(CascadeSpec.from_dict(base), getattr(args, "cost", None), config_costs,
                            stages_replaced=args.stage is not None)
    spec.check_device()   # before any work: a GPU this machine lacks is one line
    missing = spec.missing_files()   # before any work: a run file named wrong is one line, not a scoring failure
    if missing:
        raise SpecError(missing[0] + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return spec


def set_param(spec: dict, text: str) -> None:
    """Apply one ``--param STAGE.NAME=VALUE`` to a spec's dict (values read as YAML scalars).

    >>> spec = {"first_pass": {"kind": "bm25"}, "stages": [{"scorer": {"kind": "llm"}, "keep": 5}]}
    >>> set_param(spec, "llm.base_url=http://localhost:11434/v1"); set_param(spec, "1.window=8")
    >>> spec["stages"][0]["scorer"]["params"]
    {'base_url': 'http://localhost:11434/v1', 'window': 8}
    """
    target, eq, value = text.partition("=")
    step, dot, name = target.rpartition(".")
    if not eq or not dot or not step or not name:
        raise CascadeError(f"--param {text!r}: expected STAGE.NAME=VALUE, e.g. llm.mode=listwise")
    if step in ("first-pass", "first_pass", "0"):
        config = spec["first_pass"]
    else:
        stages = spec.get("stages") or []
        # the names the spec will give its stages (not validated yet: other --param may follow)
        names = stage_names(stages)
        if step.isdigit() and 1 <= int(step) <= len(stages):
            index = int(step) - 1
        elif step in names:
            index = names.index(step)
        else:
            raise CascadeError(f"--param {text!r}: no stage {step!r}; stages: {', '.join(names) or 'none'} "
                               "(or their numbers from 1, or first-pass)")
        config = stages[index]["scorer"]
    if isinstance(config, str):   # "kind:model" shorthand in a spec file
        config = compact_config(config, retriever=step in ("first-pass", "first_pass", "0")).to_dict()
        if step in ("first-pass", "first_pass", "0"):
            spec["first_pass"] = config
        else:
            spec["stages"][index]["scorer"] = config
    try:   # the spec's own bounded YAML reader: a 5,000-digit number is one error line, not a traceback
        parsed = load_yaml(value) if value.strip() else ""
    except OversizedNumber as exc:
        raise OversizedNumber(f"--param {cut(text, 40)}: {str(exc).replace('the spec has', 'a value with')}") from None
    except SpecError:
        parsed = value   # not YAML: the text as typed
    config.setdefault("params", {})[name] = parsed if isinstance(parsed, (str, int, float, bool)) else value


def dataset_files(args) -> dict:
    """The files named with ``--corpus``, ``--queries-file``, ``--qrels`` (none: an empty dict)."""
    named = {"corpus": getattr(args, "corpus", None), "queries": getattr(args, "queries_file", None),
             "qrels": getattr(args, "qrels", None)}
    return {role: path for role, path in named.items() if path}


def load_dataset_from_args(path, split, fmt, files=None):
    if path is None and not (files or {}).get("corpus"):
        raise CascadeError("no dataset: give --dataset FOLDER, or name the corpus file with --corpus FILE")
    dataset = load_dataset(path, split=split, fmt=fmt, **(files or {}))
    counts = ", ".join(f"{k}: {v}" for k, v in dataset.report.counts.items())
    print(f"Dataset {dataset.name}{f' (split {dataset.split})' if dataset.split else ''}: {counts}")
    for finding in dataset.report.warnings:
        print(f"  {finding}")
    return dataset


OPENED: list = []   # the workspaces this command opened: closed when it ends (cli.main)


def workspace(args):
    """The data folder the storage flags name, opened once per command and closed when it ends
    (so a command run from Python, not a process of its own, leaves no index open behind it)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # A damaged file moved aside and rebuilt is said once, when it happens (not a traceback).
    ws = Workspace(args.home, qdrant_url=args.qdrant_url, notify=warn)
    OPENED.append(ws)
    return ws


def close_workspaces() -> None:
    while OPENED:
        OPENED.pop().close()


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def experiment(args, spec, dataset_path):
    """Load the dataset and bind it to ``spec`` over its judged queries (the first ``--queries``)."""
    dataset = load_dataset_from_args(dataset_path, args.split, args.format, dataset_files(args))
    ws = workspace(args)
    exp = Experiment(dataset, spec, ws)
    if args.queries:
        exp = Experiment(dataset, spec, ws, queries=exp.queries.subset(exp.queries.ids[: args.queries]))
    print(f"Cascade: {spec.describe()}")
    print(f"Evaluating on {len(exp.queries)} queries")
    merged = exp.merged_qrels
    if exp.judgments.bad_lines:   # people's work: a line that could not be read is never skipped silently
        warn(exp.judgments.skipped_note())
    if merged.use != USE_HUMAN:   # the Judge page's switch: say so, never silently
        print(f"Judgments: {merged.use} (LLM labels count: {merged.llm_pairs} pair(s); "
              f"switched on the dashboard's Judge page, saved in {exp.judgments.path})")
    return exp


def local_only(spec: CascadeSpec, why: str) -> CascadeSpec:
    """``spec``, refused in one line when its executor is not local, for a command that works only
    here (``why`` says so): a cluster setting must not be accepted and then ignored."""
    if spec.executor != "local":
        raise SpecError(f"{why}: --executor {spec.executor} does not apply (score on the cluster with "
                        "cascade eval first; the stored scores are then used here)")
    return spec


def load_models(plan) -> None:
    """Load every step's model before any scoring starts.

    Otherwise a mistyped model id of the last stage fails only after the first pass and the
    stages before it have run (minutes on a real corpus). The loaders cache per process, so
    scoring reuses what is loaded here.
    """
    # On a cluster (the executor setting) the stages' models load in the workers: only the first
    # pass runs here. (Whatever runs here later, e.g. calibrate's timing, loads on first use.)
    for step in [plan.retriever] + (list(plan.scorers) if plan.spec.executor == "local" else []):
        step.load_model()


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


def write_output(path: str, text: str, flag: str) -> None:
    """Write an output file; a failure checks could not foresee (disk full) is still one line."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CascadeError(f"{flag} {path}: cannot write it: {exc.strerror or exc}") from None


def json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)

