"""Scoring a stage on a Ray cluster: the same pairs, the same scorers, the same store.

:func:`~cascade_core.scoring.ensure.ensure_scores` hands a stage's missing work here when the
spec's executor is ``ray`` (:mod:`cascade_core.cascade.executor`). The work (one row per query:
its text and the candidates it still needs) becomes a Ray Data dataset, mapped in batches (the
*units*) over a pool of actors that each build the stage's scorer once, from its config, and
load its model once. Results stream back as units finish; this process, the driver, writes each
query's scores into the score store as it arrives, under a run whose provenance is the worker's
(its machine, device and library versions, marked ``executor: ray``), and records the worker's
timed calls beside them. So:

* an interrupted job (the driver killed, the cluster lost) keeps every query written, and the
  same command again scores only what is missing (the store says what that is);
* a worker process that dies mid-unit is restarted by Ray and the unit retried (Ray Data's actor
  restarts and task retries), with the same result;
* the doctor's provenance checks see where every score and timing came from, and the latency
  check says when timed calls come from Ray workers rather than this process.

The first pass stays in this process (BM25 or a search of the vector index: one call per query,
cheap beside the stages it feeds). A worker needs this package installed (the same version) and
the models at the same paths or packages; a bi-encoder stage encodes the candidates it scores
into its own index (in the worker's temporary folder), or reads the Qdrant server's index when
the workspace has a server (``--qdrant-url``), which every worker then shares.

Not measured here: a real multi-node cluster (the tests start a local one on 127.0.0.1).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..cascade.executor import Executor, check_reachable
from ..errors import CascadeError, require
from ..latency.timing import Timing, calibration_parts, stated_or, step_threads, timed
from ..store.provenance import machine, step_provenance
from ..store.scores import query_key

# About this many pairs per unit (``$CASCADE_RAY_UNIT_PAIRS`` sets another): a unit is what a
# killed worker loses and redoes, and what a killed driver loses of the results in flight.
UNIT_PAIRS = 2000
MIN_UNITS_PER_ACTOR = 2  # enough units that a slow actor does not hold the others up at the end


@dataclass
class RaySummary:
    """Where a stage was scored on Ray: the cluster, its workers and the units done."""

    address: str
    units: int = 0
    nodes: dict = field(default_factory=dict)   # {host name: pairs scored there}

    def describe(self) -> str:
        hosts = ", ".join(f"{h} ({n:,} pairs)" for h, n in self.nodes.items()) or "no pairs"
        return f"Ray ({self.address}): {self.units} unit{'s' if self.units != 1 else ''} on {hosts}"


_connected: dict = {}  # the cluster this process is connected to: {"address": ...}


def connect(executor: Executor) -> str:
    """Ray, initialised for ``executor``; the cluster's address as said to a person.

    An address (the setting's, else ``RAY_ADDRESS``) connects to that cluster, once checked
    reachable (:func:`check_reachable`: an unreachable one is one line within seconds, not Ray's
    retries for minutes); none starts a new local cluster on this machine's cores, for the life of
    this process (later runs reuse it). Another address than the one connected to reconnects."""
    ray = require("ray", "scoring on a Ray cluster (--executor ray)")
    require("ray.data", "scoring on a Ray cluster (--executor ray)")
    address = executor.address or os.environ.get("RAY_ADDRESS") or None
    said = address or "a local cluster started here"
    if ray.is_initialized() and _connected.get("address") != address:
        ray.shutdown()   # the dashboard's user chose another cluster: never score on the old one
    if not ray.is_initialized():
        check_reachable(address)
        # Ray's own notice that its clusters use a token is for its users, not ours (the README says it)
        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
        try:
            # "local": a new cluster of this process, never one a `ray start` left running here
            init_in_lasting_thread(ray, address=address or "local",
                                   include_dashboard=False if address is None else None,
                                   logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
        except Exception as exc:  # noqa: BLE001 - connection failures come in many types
            raise CascadeError(connect_error(address, exc)) from None
        _connected["address"] = address
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False   # progress is ours: units done, pairs/s, time left
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # ... and Ray Data's note that its own bars are off would only puzzle a user of ours
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    return said


def init_in_lasting_thread(ray, **kwargs) -> None:
    """``ray.init(**kwargs)`` from a thread that lives as long as this process.

    A local cluster's processes are started to die with the *thread* that started them (Linux's
    parent-death signal follows the thread): started from a dashboard page's run, they died when
    that run ended (seen: the next page's scoring waited 60 s for a cluster that was gone). In the
    main thread (the CLI) it is a plain call."""
    if threading.current_thread() is threading.main_thread():
        ray.init(**kwargs)
        return
    outcome: dict = {}
    ready = threading.Event()

    def hold() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            ready.set()
        if "error" not in outcome:
            threading.Event().wait()   # never returns: the cluster's processes live while this thread does

    threading.Thread(target=hold, name="cascade-ray-cluster", daemon=True).start()
    ready.wait()
    if "error" in outcome:
        raise outcome["error"]


def connect_error(address: str | None, exc: Exception) -> str:
    """What went wrong connecting, in one line, with what to check."""
    text = str(exc)
    if address == "auto":
        return ("no Ray cluster runs on this machine (executor ray:auto): start one (`ray start --head`), "
                "or choose the executor ray to start one for the run")
    if "auth" in text.lower() or "token" in text.lower():
        why = "the cluster asks for a token: set RAY_AUTH_TOKEN (and RAY_AUTH_MODE=token) as on the cluster"
    else:
        why = "check the address, RAY_AUTH_TOKEN if the cluster uses a token, and that it runs the same Ray and Python"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot connect to the Ray cluster at {address or 'a new local cluster'}: {first} ({why})"


# Settings of this process that decide how a worker loads models: an offline machine's workers
# must not wait on the hub (measured: a unit of 300 pairs took 48 s instead of 4 s without them).
FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM")


def forwarded_env(config=None) -> dict[str, str]:
    """The :data:`FORWARDED_ENV` settings this process has, for the job's workers, and the
    variables a stage's config names for its secrets (a rerank API's key: ``secret-env``
    parameters), so a worker calls the server as this process would."""
    names = list(FORWARDED_ENV)
    if config is not None:
        from ..scorers import scorer_class

        names += scorer_class(config.kind).secret_envs(config.params).values()
    return {k: os.environ[k] for k in names if k and k in os.environ}


class StageWorker:
    """A Ray actor that scores one stage: its scorer is built once per actor (model loaded once),
    in a workspace of its own; each call scores a unit (a batch of queries' candidates)."""

    def __init__(self, config: dict, shared: list, device: str, listwise: bool,
                 qdrant_url: str | None = None, qdrant_api_key: str | None = None):
        import ray

        from ..scorers import ScorerConfig
        from .workspace import Workspace

        # the corpus and queries (object references, put once by the driver)
        corpus, queries = (ray.get(x) if isinstance(x, ray.ObjectRef) else x for x in shared)
        remove_stale_homes()   # of workers killed before they could clean up
        self.home = tempfile.mkdtemp(prefix=f"{WORKER_HOME}{os.getpid()}-")
        try:
            self.workspace = Workspace(self.home, qdrant_url=qdrant_url, qdrant_api_key=qdrant_api_key)
            self.corpus, self.listwise = corpus, listwise
            self.scorer = self.workspace.scorer(ScorerConfig(**config), corpus, queries, device)
        except BaseException:   # a model that cannot load: the actor dies, its folder must not stay
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.threads = None
        self.provenance = None

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        needs = [json.loads(n) for n in batch["need"]]
        self.scorer.cuts.clear()
        self.scorer.prepare(sorted({d for need in needs for d in need}))
        if self.provenance is None:   # once per actor, after the model is loaded (as ensure_scores does)
            self.scorer.score(texts[0], needs[0][:1])   # untimed warm-up: one-off set-up is not a query's cost
            self.threads = step_threads(self.scorer)
            prov = step_provenance(self.scorer)
            prov["machine"] = {**prov["machine"], "executor": "ray", "id": f"{prov['machine']['id']}-ray"}
            self.provenance = json.dumps(prov, sort_keys=True)
        out_scores, out_costs = [], []
        for text, need, w, n_work in zip(texts, needs, batch["position"], batch["n_work"]):
            scores, costs = [], []
            for part in [need] if self.listwise else calibration_parts(need, int(w), int(n_work)):
                with timed(self.threads) as clock:
                    scores.extend(float(v) for v in self.scorer.score(text, part))
                chars = len(text) + sum(len(self.corpus.text_of(d)) for d in part)
                # a run file's stated latency, as ensure_scores records it; else the call as timed here
                costs.append([len(part), chars, _timing_dict(stated_or(self.scorer, text, clock.timing,
                                                                       len(part) / len(need)))])
            out_scores.append(json.dumps(scores))
            out_costs.append(json.dumps(costs))
        cuts = self.scorer.cuts
        n = len(texts)
        return {"text": np.array(texts, dtype=object), "need": batch["need"], "unit": batch["unit"],
                "scorer": np.array([f"{self.scorer.id}\t{self.scorer.device}"] * n, dtype=object),
                "scores": np.array(out_scores, dtype=object), "costs": np.array(out_costs, dtype=object),
                "provenance": np.array([self.provenance] * n, dtype=object),
                "host": np.array([machine()["hostname"]] * n, dtype=object),
                "cuts": np.array([json.dumps({"docs": sorted(cuts.docs), "limit": cuts.limit})] * n, dtype=object),
                "notes": np.array([json.dumps(list(self.scorer.scoring_notes()))] * n, dtype=object)}

    def __del__(self):
        try:
            self.workspace.close()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


WORKER_HOME = "cascade-ray-worker-"   # a worker's data folder: WORKER_HOME<pid>-<random>, in the temp folder


def remove_stale_homes() -> None:
    """Remove the data folders of workers on this node whose process is gone (killed by Ray or a
    user before ``__del__`` ran: a bi-encoder stage's folder holds a vector index)."""
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{WORKER_HOME}*"):
        pid = folder.name[len(WORKER_HOME):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and os.path.exists("/proc/self"):
            shutil.rmtree(folder, ignore_errors=True)


class EncodeWorker:
    """A Ray actor that encodes documents with a bi-encoder (loaded once per actor): each call
    encodes one chunk of texts as :meth:`VectorIndex.build` would here (unit vectors)."""

    def __init__(self, model, device: str, batch_size: int):
        from ..models import load_bi_encoder
        from ..models.device import resolve_device

        self.encoder, self.batch_size = load_bi_encoder(model, resolve_device(device)), batch_size

    def __call__(self, batch: dict) -> dict:
        out = []
        for texts in batch["texts"]:
            vectors = self.encoder.encode(json.loads(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
            out.append(np.asarray(vectors, dtype=np.float32))
        return {"chunk": batch["chunk"], "shape": np.array([json.dumps(v.shape) for v in out], dtype=object),
                "vectors": np.array([v.tobytes() for v in out], dtype=object)}


def ray_encoder(executor: Executor, model, device: str = "auto", batch_size: int = 32):
    """An ``encode_chunks`` for :meth:`~cascade_core.vectors.index.VectorIndex.build` that encodes
    on the Ray cluster of ``executor``: chunks spread over one actor per CPU (per GPU where the
    device is a CUDA one), vectors streamed back as chunks finish, for this process to upsert."""
    def encode_chunks(chunks: list[list[str]]):
        ray = require("ray", "encoding on a Ray cluster (--executor ray)")
        connect(executor)
        gpus = 1 if str(device).startswith("cuda") else 0
        slots = int(ray.cluster_resources().get("GPU" if gpus else "CPU", 0))
        if gpus and not slots:
            raise CascadeError(f"the device setting is {device}, and the Ray cluster has no GPU")
        rows = [{"chunk": n, "texts": json.dumps(texts)} for n, texts in enumerate(chunks)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            EncodeWorker, batch_size=1, batch_format="numpy", num_cpus=1, num_gpus=gpus,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, min(len(rows), slots))),
            runtime_env={"env_vars": forwarded_env()},
            fn_constructor_kwargs={"model": model, "device": device, "batch_size": batch_size})
        with closing(streamed(ds, "encoding")) as batches:
            for batch in batches:
                for n, shape, raw in zip(batch["chunk"], batch["shape"], batch["vectors"]):
                    yield int(n), np.frombuffer(raw, dtype=np.float32).reshape(json.loads(shape))

    return encode_chunks


def _timing_dict(t: Timing) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(t).items()}


def _timing(d: dict) -> Timing:
    return Timing(**{k: (float("nan") if v is None else v) for k, v in d.items()})


def unit_size(work: list[tuple[str, list[str]]], actors: int, unit_pairs: int | None = None) -> int:
    """Queries per unit: about ``unit_pairs`` pairs (:data:`UNIT_PAIRS`), and at least two units per actor.

    >>> unit_size([("q", ["d"] * 100)] * 300, 2, 2000), unit_size([("q", ["d"] * 100)] * 6, 2, 2000)
    (20, 1)
    """
    if unit_pairs is None:
        unit_pairs = int(os.environ.get("CASCADE_RAY_UNIT_PAIRS") or UNIT_PAIRS)
    mean = max(1.0, sum(len(n) for _, n in work) / max(len(work), 1))
    by_pairs = max(1, int(max(unit_pairs, 1) // mean))
    by_spread = max(1, len(work) // (actors * MIN_UNITS_PER_ACTOR))
    return min(by_pairs, by_spread)


def score_stage_on_ray(plan, s: int, work: list[tuple[str, list[str]]], tracker, report, executor: Executor) -> None:
    """Score stage ``s`` of ``plan`` over ``work`` (``(query text, document ids)``, the pairs not
    stored yet) on Ray; each query's scores are stored as its unit returns (see the module)."""
    ray = require("ray", "scoring on a Ray cluster (--executor ray)")
    address = connect(executor)
    spec, scorer, store, fp = plan.spec, plan.scorers[s], plan.workspace.store, plan.corpus.fingerprint
    stage = spec.stages[s]
    listwise = getattr(scorer, "pointwise", True) is False
    gpus = 1 if str(spec.device).startswith("cuda") else 0   # one GPU per actor where the device asks for one
    resources = ray.cluster_resources()
    slots = int(resources.get("GPU", 0)) if gpus else int(resources.get("CPU", 1))
    if gpus and not slots:
        raise CascadeError(f"the device setting is {spec.device}, and the Ray cluster at {address} has no GPU "
                           "(device auto or cpu scores on its CPUs)")
    actors = max(1, min(len(work), slots))
    per_unit = unit_size(work, actors)
    rows = [{"text": text, "need": json.dumps(need), "position": w, "n_work": len(work), "unit": w // per_unit}
            for w, (text, need) in enumerate(work)]
    units = math.ceil(len(rows) / per_unit)
    unit_left = {u: min(per_unit, len(rows) - u * per_unit) for u in range(units)}   # queries a unit has left
    ds = ray.data.from_items(rows, override_num_blocks=units).map_batches(
        StageWorker, batch_size=per_unit, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        num_cpus=1, num_gpus=gpus,
        # what decides how a worker loads models and calls servers (offline settings, a stage's key)
        runtime_env={"env_vars": forwarded_env(stage.scorer)},
        # (A worker that dies mid-unit is restarted and its unit retried: Ray Data's actor pools
        # default to max_restarts=-1 and max_task_retries=-1; an exception in our code is not retried.)
        fn_constructor_kwargs={"config": stage.scorer.to_dict(),
                               # put once in the object store: every actor reads them from there
                               "shared": [ray.put(plan.corpus), ray.put(plan.queries)],
                               "device": spec.device, "listwise": listwise,
                               "qdrant_url": plan.workspace.qdrant_url, "qdrant_api_key": plan.workspace.qdrant_api_key})
    summary = RaySummary(address)
    runs: dict[str, int] = {}          # worker provenance (JSON) -> run id
    notes: dict[str, None] = {}
    put = store.put_list if listwise else store.put
    expected = f"{scorer.id}\t{scorer.device}"
    tracker.detail = f"0/{units} units"

    def store_batch(batch: dict, costs: dict) -> None:
        """Store a returned batch's scores, query by query, and collect its timed calls."""
        for i in range(len(batch["text"])):
            if str(batch["scorer"][i]) != expected:   # e.g. a GPU a worker was not expected to have
                got_id, _, got_device = str(batch["scorer"][i]).partition("\t")
                raise CascadeError(f"the Ray workers scored {stage.name} as {got_id} on {got_device}, and this "
                                   f"process expected {scorer.id} on {scorer.device}: nothing of theirs is "
                                   "stored (check the device setting and the workers' libraries)")
            text, need = str(batch["text"][i]), json.loads(batch["need"][i])
            prov = str(batch["provenance"][i])
            if prov not in runs:
                runs[prov] = store.start_run(scorer.id, fp, json.loads(prov))
            run_id = runs[prov]
            put(scorer.id, fp, query_key(text), need, np.asarray(json.loads(batch["scores"][i]), dtype=float),
                run=run_id)
            costs.setdefault(run_id, []).extend(
                (n, chars, _timing(t)) for n, chars, t in json.loads(batch["costs"][i]))
            host = str(batch["host"][i])
            summary.nodes[host] = summary.nodes.get(host, 0) + len(need)
            cut = json.loads(batch["cuts"][i])
            if cut["docs"]:
                scorer.cuts.add(cut["docs"], cut["limit"])
            notes.update(dict.fromkeys(json.loads(batch["notes"][i])))
            unit = int(batch["unit"][i])
            unit_left[unit] -= 1
            summary.units += unit_left[unit] == 0
            tracker.detail = f"{summary.units}/{units} units"
            tracker.advance(len(need))   # may raise: a cancelled run keeps what it stored

    try:
        with closing(streamed(ds, f"scoring {stage.name}")) as batches:
            for batch in batches:
                costs: dict[int, list] = {}   # run id -> this batch's timed calls, recorded with its scores
                try:
                    store_batch(batch, costs)
                finally:   # per batch: a killed or cancelled driver keeps the timings of what it stored
                    for run_id, calls in costs.items():
                        store.record_costs(scorer.timing_key, calls, run=run_id)
    finally:
        report.where[stage.name] = summary.describe()
        report.notes.extend(n for n in notes if n not in report.notes)


def streamed(ds, what: str):
    """A Ray dataset's batches as its tasks finish. A worker's error is one :class:`CascadeError`
    saying ``what`` failed and why (:func:`worker_error`); closing this generator (the caller's
    ``closing``: done, cancelled, or failed) stops the job, so the cluster is not kept busy."""
    batches = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except CascadeError:
                raise
            except Exception as exc:  # noqa: BLE001 - a worker's error arrives wrapped in Ray's types
                raise CascadeError(f"{what} on Ray failed: {worker_error(exc)}") from exc
            yield batch
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


OUR_ERROR = re.compile(r"^cascade_core\.errors\.\w+: (.+)$", re.M)   # ours, as a worker's traceback prints it
ANY_ERROR = re.compile(r"^[\w.]*(?:Error|Exception): (.+)$", re.M)


def worker_error(exc: BaseException) -> str:
    """The cause of a worker's error in one line. Ray wraps it (a task error holding the original
    as ``cause``; an actor that died in its constructor holds only the printed traceback), inside
    Ray Data's own exception and its advice on retries: ours (a model that cannot load) is said as
    it would be here, else the last error line of the worker's traceback.

    >>> class Wrapped(Exception):
    ...     cause = None
    >>> outer = Wrapped("To change retry attempts, configure ray.data.DataContext")
    >>> outer.cause = RuntimeError("The actor died ...\\n  File x\\ncascade_core.errors.ModelError: cannot load model 'x'")
    >>> worker_error(outer)
    "cannot load model 'x'"
    """
    seen, todo, chain = set(), [exc], []
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        chain.append(e)
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    for e in chain:   # ours first: its message is written for a person
        if isinstance(e, CascadeError) and not type(e).__module__.startswith("ray"):
            return str(e).strip().splitlines()[0]
    for pattern in (OUR_ERROR, ANY_ERROR):
        for e in chain:
            found = pattern.findall(str(e))
            if found:
                return found[-1].strip()
    return next((str(e).strip().splitlines()[0] for e in reversed(chain) if str(e).strip()), type(exc).__name__)
