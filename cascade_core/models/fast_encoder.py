"""A faster forward pass for bi-encoders and cross-encoders: ONNX Runtime with fused BERT kernels.

:func:`accelerate` takes a loaded ``SentenceTransformer`` or ``CrossEncoder`` and returns an
object with the same ``encode`` / ``predict`` interface (every other attribute is the wrapped
model's), whose transformer runs in ONNX Runtime instead of PyTorch:

- the transformer is exported once (``torch.onnx``, eager attention), its graph fused by
  ``onnxruntime.transformers`` (attention, skip-LayerNorm, bias-GELU, embedding-LayerNorm) when
  the architecture is BERT-like, and checked against PyTorch on a padded probe batch;
- the export is cached in the data folder, ``$CASCADE_HOME/onnx/<kind>/<name>-<content hash>-<tag>/``,
  keyed by the model's content hash (:func:`cascade_core.models.fingerprint.model_fingerprint`) and the
  runtime's version, created once (written under a temporary name, then renamed) and reused;
- texts are tokenised exactly as the stock path does (the model's own ``preprocess``), batched
  longest first by *token* length; what follows the transformer (pooling, normalisation, a dense
  layer) runs through the model's own modules, so any pooling the model declares is honoured.

Scores are fp32 like the stock path's and differ from it by float rounding only (measured on
SciFact: at most 2e-7 on unit embeddings, 5e-7 on cosines, 1e-7 on logits; an export differing by
more than ``TOLERANCE`` = 1e-4 on the probe batch is not used), so scorer ids and stored scores stay
as they are: a score stored by the stock path and one computed here are the same score. int8
dynamic quantisation is not used: it moves scores by ~0.2 and changes top 10s
(``benchmarks/bench_throughput.py --int8``).

An export takes seconds of work that holds Python's interpreter lock (``torch.onnx``'s tracing and
graph passes): background work that must not stall a dashboard's pages (its thread inside
:func:`exports_elsewhere`) has it done by a child process at the lowest CPU priority instead, and
then only opens the file.

When onnxruntime (or onnx) is missing, the export fails, the check fails, or ``CASCADE_FAST_ENCODER=0``
is set, the stock model is returned unchanged and one line says why (on stderr, once per model,
and in :func:`backend_of`).

>>> backend_of(object())
'torch (stock)'
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..home import cascade_home
from .fingerprint import model_fingerprint

EXPORT_VERSION = 2
# Largest difference allowed against PyTorch on the probe batch, in what the scorers use: unit
# embeddings (so cosines move by at most about twice this), or logits relative to their size.
TOLERANCE = 1e-4
OPSET = 17
ENV_SWITCH = "CASCADE_FAST_ENCODER"
ENV_CACHE = "CASCADE_ONNX_CACHE"   # where exports go (default: the data folder's onnx/)
BERT_LIKE = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "camembert": "bert", "electra": "bert"}
PROBE_TEXTS = ("A short probe.",
               "Cerebral white matter development assessed by diffusion tensor imaging in newborn infants, "
               "with measurements of the apparent diffusion coefficient and relative anisotropy.",
               "Insulin resistance and type 2 diabetes.")

_notes: dict[str, str] = {}
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def backend_of(encoder) -> str:
    """What runs ``encoder``'s forward pass, in words."""
    return getattr(encoder, "fast_backend", None) or "torch (stock)"


def note(key: str, text: str) -> None:
    """One line on stderr, once per process and key."""
    with _lock:
        if key in _notes:
            return
        _notes[key] = text
    print(f"note: {text}", file=sys.stderr)


def cache_root() -> Path:
    explicit = os.environ.get(ENV_CACHE)
    if explicit:
        return Path(explicit).expanduser()
    return cascade_home() / "onnx"


# -- the wrappers --------------------------------------------------------------------------------

class _Wrapped:
    """Forwards every attribute it does not define to the stock model (reads and writes)."""

    _own = ("_stock", "_session", "_inputs", "fast_backend", "export_dir")

    def __init__(self, stock, session, inputs, backend, export_dir):
        object.__setattr__(self, "_stock", stock)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_inputs", inputs)
        object.__setattr__(self, "fast_backend", backend)
        object.__setattr__(self, "export_dir", export_dir)

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_stock"), name)

    def __setattr__(self, name, value):
        if name in self._own:
            object.__setattr__(self, name, value)
        else:
            setattr(self._stock, name, value)

    @property
    def stock(self):
        """The wrapped ``SentenceTransformer`` / ``CrossEncoder`` (the PyTorch path)."""
        return self._stock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fast_backend}, {self._stock.__class__.__name__})"

    def _run(self, features: dict) -> np.ndarray:
        feed = {k: features[k].numpy().astype(np.int64, copy=False) for k in self._inputs}
        return self._session.run(None, feed)[0]

    def _order(self, texts: list) -> np.ndarray:
        """Indices longest first by token length (pairs: the pair's tokens), so batches pad little."""
        tok = self._stock.tokenizer
        if texts and isinstance(texts[0], (list, tuple)):
            ids = tok([str(a) for a, _ in texts], [str(b) for _, b in texts], truncation="longest_first",
                      max_length=self._stock.max_seq_length, verbose=False)["input_ids"]
        else:
            ids = tok([str(t) for t in texts], truncation=True, max_length=self._stock.max_seq_length,
                      verbose=False)["input_ids"]
        return np.argsort([-len(x) for x in ids], kind="stable")


class FastBiEncoder(_Wrapped):
    """``SentenceTransformer.encode`` with the transformer in ONNX Runtime (same arguments)."""

    SUPPORTED = {"batch_size", "show_progress_bar", "output_value", "convert_to_numpy", "convert_to_tensor",
                 "normalize_embeddings", "device"}

    def encode(self, sentences, batch_size: int = 32, show_progress_bar=None, output_value="sentence_embedding",
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, normalize_embeddings: bool = False,
               device=None, **kwargs):
        import torch

        if kwargs or output_value != "sentence_embedding" or device not in (None, "cpu"):
            return self._stock.encode(sentences, batch_size=batch_size, show_progress_bar=show_progress_bar,
                                      output_value=output_value, convert_to_numpy=convert_to_numpy,
                                      convert_to_tensor=convert_to_tensor,
                                      normalize_embeddings=normalize_embeddings, device=device, **kwargs)
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        get_dim = getattr(self._stock, "get_embedding_dimension", None) or self._stock.get_sentence_embedding_dimension
        dim = int(get_dim() or 0)
        out = torch.empty((len(texts), dim), dtype=torch.float32)
        order = self._order(texts) if texts else np.zeros(0, dtype=int)
        tail = list(self._stock)[1:]
        with torch.inference_mode():
            for lo in range(0, len(order), max(1, int(batch_size))):
                idx = order[lo:lo + batch_size]
                features = self._stock.preprocess([texts[i] for i in idx])
                features["token_embeddings"] = torch.from_numpy(self._run(features))
                for module in tail:
                    features = module(features)
                emb = features["sentence_embedding"].float()
                if normalize_embeddings:
                    emb = torch.nn.functional.normalize(emb, p=2, dim=1)
                out[torch.as_tensor(idx)] = emb
        if single:
            out = out[0]
        if convert_to_tensor:
            return out
        if convert_to_numpy:
            return out.numpy()
        return list(out)


class FastCrossEncoder(_Wrapped):
    """``CrossEncoder.predict`` with the transformer in ONNX Runtime (same arguments)."""

    def predict(self, inputs, batch_size: int = 32, show_progress_bar=None, activation_fn=None,
                apply_softmax: bool = False, convert_to_numpy: bool = True, convert_to_tensor: bool = False,
                **kwargs):
        import torch

        if kwargs:
            return self._stock.predict(inputs, batch_size=batch_size, show_progress_bar=show_progress_bar,
                                       activation_fn=activation_fn, apply_softmax=apply_softmax,
                                       convert_to_numpy=convert_to_numpy, convert_to_tensor=convert_to_tensor,
                                       **kwargs)
        single = self._stock.is_singular_input(inputs)
        pairs = [inputs] if single else [tuple(p) for p in inputs]
        if activation_fn is None:
            activation_fn = self._stock.activation_fn
        num_labels = self._stock.num_labels
        out: list = [None] * len(pairs)
        order = self._order(pairs) if pairs else np.zeros(0, dtype=int)
        with torch.inference_mode():
            for lo in range(0, len(order), max(1, int(batch_size))):
                idx = order[lo:lo + batch_size]
                features = self._stock.preprocess([list(pairs[i]) for i in idx])
                scores = torch.from_numpy(self._run(features)).float()
                if activation_fn is not None:
                    scores = activation_fn(scores)
                if num_labels == 1 and scores.ndim > 1:
                    scores = scores.squeeze(-1)
                if apply_softmax and scores.ndim > 1:
                    scores = torch.nn.functional.softmax(scores, dim=1)
                for i, s in zip(idx, scores):
                    out[i] = s
        result = torch.stack(out) if out else torch.tensor([])
        if single:
            result = result[0]
        if convert_to_tensor:
            return result
        if convert_to_numpy:
            return result.numpy() if len(out) else np.array([])
        return list(result)


# -- export --------------------------------------------------------------------------------------

def _hf_model(stock, kind: str):
    """The Hugging Face model inside a stock model, or None when the pipeline is not the plain
    shape this module knows (a transformer, then pooling/normalisation modules for a bi-encoder;
    a sequence-classification transformer alone for a cross-encoder)."""
    try:
        modules = list(stock)
        first = modules[0]
        model = first.model if hasattr(first, "model") else first.auto_model
    except Exception:  # noqa: BLE001 - an unknown layout: stock path
        return None
    if kind == "cross-encoder" and len(modules) != 1:
        return None
    if kind == "bi-encoder" and any(type(m).__name__ == "Transformer" for m in modules[1:]):
        return None
    return model


def _input_names(stock, model, kind: str) -> list[str]:
    features = stock.preprocess(_probe(stock, kind))

    accepted = set(inspect.signature(model.forward).parameters)
    return [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features and k in accepted]


def _probe(stock, kind: str) -> list:
    if kind == "cross-encoder":
        return [[PROBE_TEXTS[2], PROBE_TEXTS[1]], [PROBE_TEXTS[2], PROBE_TEXTS[0]], [PROBE_TEXTS[0], PROBE_TEXTS[2]]]
    return list(PROBE_TEXTS)


def _state_hash(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return "sha256:" + h.hexdigest()[:16]


def _export_dir(resolved, model, kind: str) -> Path:
    import onnxruntime as ort

    fingerprint = None
    if resolved is not None:
        fingerprint = model_fingerprint(resolved)
    if not fingerprint or not fingerprint.startswith("sha256:"):
        fingerprint = _state_hash(model)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in
                   (resolved.key if resolved is not None else model.config.name_or_path or "model"))[-60:]
    runtime = ".".join(ort.__version__.split(".")[:2])
    return cache_root() / kind / f"{name}-{fingerprint.removeprefix('sha256:')}-ort{runtime}-v{EXPORT_VERSION}"


def _session(path: Path):
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle pool threads sleep instead of spinning. Spinning buys a quiet machine a little (the
    # bi-encoder's call: 5.2-5.7 ms spinning, 6.1-6.4 ms not, 2 cores), but on a shared one the
    # spinning threads take the cores from the neighbours and from each other (with two busy
    # processes beside it: 14.7-24 ms spinning, 15.5 ms not), and they burn CPU time that is not
    # work, so a call's CPU time, which the latency model reads, moved x1.6 with the load
    # (spinning) instead of 2% (not): /tmp/x27/probe.py, cascade_core.latency.timing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _reference(stock, model, kind: str, inputs: list[str]) -> tuple[dict, np.ndarray]:
    import torch

    features = stock.preprocess(_probe(stock, kind))
    with torch.inference_mode():
        out = model(**{k: features[k] for k in inputs})
    ref = out.logits if kind == "cross-encoder" else out.last_hidden_state
    return features, ref.float().numpy()


def _scores(stock, kind: str, features: dict, output: np.ndarray) -> np.ndarray:
    """What the scorers see of a transformer output: unit sentence embeddings through the
    model's own pooling modules (bi-encoder), or logits relative to their size (cross-encoder)."""
    import torch

    if kind == "cross-encoder":
        return output / max(1.0, float(np.abs(output).max()))
    feats = dict(features)
    feats["token_embeddings"] = torch.from_numpy(np.ascontiguousarray(output))
    with torch.inference_mode():
        for module in list(stock)[1:]:
            feats = module(feats)
        return torch.nn.functional.normalize(feats["sentence_embedding"].float(), p=2, dim=1).numpy()


def _export(stock, model, kind: str, inputs: list[str], folder: Path) -> dict:
    """Write ``folder/model.onnx`` (fused when the architecture allows and the check passes)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".export-{os.getpid()}-{threading.get_ident()}"
    tmp.mkdir(exist_ok=True)
    start = time.perf_counter()
    try:
        eager = copy.deepcopy(model).eval()
        try:
            eager.set_attn_implementation("eager")   # the pattern the fusion recognises
        except Exception:  # noqa: BLE001 - older transformers: export what there is
            pass

        class Graph(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *args):
                out = self.inner(**dict(zip(inputs, args)), return_dict=True)
                return out.logits if kind == "cross-encoder" else out.last_hidden_state

        features, ref = _reference(stock, model, kind, inputs)
        output = "logits" if kind == "cross-encoder" else "last_hidden_state"
        raw = tmp / "raw.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(Graph(eager), tuple(features[k] for k in inputs), str(raw),
                              input_names=inputs, output_names=[output],
                              dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in inputs},
                                            output: ({0: "batch", 1: "tokens"} if output != "logits" else {0: "batch"})},
                              opset_version=OPSET, dynamo=False)
        del eager
        candidates = []
        model_type = BERT_LIKE.get(getattr(model.config, "model_type", ""))
        if model_type:
            try:
                from onnxruntime.transformers.optimizer import optimize_model

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fused = optimize_model(str(raw), model_type=model_type, opt_level=0, use_gpu=False,
                                           num_heads=int(model.config.num_attention_heads),
                                           hidden_size=int(model.config.hidden_size))
                    stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
                    fused.save_model_to_file(str(tmp / "fused.onnx"))
                candidates.append(("fused", tmp / "fused.onnx", stats))
            except Exception as exc:  # noqa: BLE001 - fusion is an optimisation: the raw graph still runs
                note(f"fuse:{folder}", f"graph fusion failed ({type(exc).__name__}: {str(exc)[:120]}); "
                                       "using the unfused ONNX graph")
        candidates.append(("unfused", raw, {}))
        feed = {k: features[k].numpy().astype(np.int64) for k in inputs}
        want = _scores(stock, kind, features, ref)
        for label, path, stats in candidates:
            got = _session(path).run(None, feed)[0]
            diff = float(np.abs(_scores(stock, kind, features, got) - want).max()) if got.shape == ref.shape else np.inf
            if diff <= TOLERANCE:
                os.replace(path, folder / "model.onnx")
                meta = {"graph": label, "fused_ops": stats, "max_abs_diff_probe": diff,
                        "max_abs_diff_probe_hidden": float(np.abs(got - ref).max()), "inputs": inputs,
                        "output": output, "export_seconds": round(time.perf_counter() - start, 2),
                        "created_at": time.time(), "export_version": EXPORT_VERSION}
                tmp_meta = tmp / "meta.json"
                tmp_meta.write_text(json.dumps(meta, indent=1))
                os.replace(tmp_meta, folder / "meta.json")
                return meta
            note(f"check:{folder}:{label}", f"the {label} ONNX graph differs from PyTorch by {diff:.2g} "
                                            f"(> {TOLERANCE}): not used")
        raise RuntimeError("no exported graph matched PyTorch")
    finally:
        for f in tmp.glob("*"):
            f.unlink(missing_ok=True)
        tmp.rmdir()


_elsewhere = threading.local()
CHILD_TIMEOUT_S = 900


class exports_elsewhere:
    """Within this block, this thread's exports run in a child process (see the module): for
    background work beside a page's run. A thread's own setting; others are not affected.

    >>> with exports_elsewhere():
    ...     _exporting_elsewhere()
    True
    >>> _exporting_elsewhere()
    False
    """

    def __enter__(self):
        self._before = _exporting_elsewhere()
        _elsewhere.on = True
        return self

    def __exit__(self, *exc):
        _elsewhere.on = self._before


def _exporting_elsewhere() -> bool:
    return bool(getattr(_elsewhere, "on", False))


def _background_child():
    """What a background child runs before it starts (a ``preexec_fn``): the lowest CPU priority
    and, on Linux, a SIGTERM when the parent dies (a dashboard stopped mid-export leaves no export
    running on; the child removes its scratch folder on SIGTERM). ``prctl`` is looked up here, in
    the parent: the child between fork and exec only calls it."""
    import signal

    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):   # no prctl: a child outlives a parent that died
            pass

    def setup() -> None:
        if hasattr(os, "nice"):
            os.nice(19)
        if prctl is not None:
            prctl(1, int(signal.SIGTERM), 0, 0, 0)   # 1: PR_SET_PDEATHSIG

    return setup


def _export_in_child(resolved, kind: str, folder: Path) -> dict | None:
    """Have a child process load ``resolved`` as this process does and export it (into the same
    cache: the folder is named by content), at nice 19; the export's meta when ``folder`` then
    holds it, else None (the caller exports here)."""
    import subprocess
    from dataclasses import asdict

    # The child is models.loading's entry (it loads as this process does, and imports this module).
    code = "import sys; from cascade_core.models.loading import export_in_this_child; export_in_this_child(sys.stdin.buffer)"
    env = {**os.environ, ENV_CACHE: str(cache_root())}
    try:
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps({"model": asdict(resolved), "kind": kind}).encode(), env=env,
                              capture_output=True, timeout=CHILD_TIMEOUT_S, preexec_fn=_background_child())
    except (OSError, subprocess.SubprocessError):
        return None
    meta = folder / "meta.json"
    if done.returncode != 0 or not (folder / "model.onnx").exists() or not meta.exists():
        return None
    return json.loads(meta.read_text())


def accelerate(stock, kind: str, resolved=None, export_dir: Path | None = None):
    """``stock`` with its forward pass in ONNX Runtime, or ``stock`` itself (with a note) when
    that cannot be done. ``kind`` is ``"bi-encoder"`` or ``"cross-encoder"``; ``resolved`` (a
    :class:`~cascade_core.models.resolve.ResolvedModel`) names the cache folder by content hash."""
    label = getattr(resolved, "name", None) or stock.__class__.__name__
    if not enabled():
        return stock
    try:
        import onnx  # noqa: F401 - the exporter writes through it
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        note("import", f"{exc.name or 'onnxruntime'} is not installed: {kind}s run on the stock PyTorch path "
                       "(pip install onnxruntime onnx for about twice the speed)")
        return stock
    model = _hf_model(stock, kind)
    if model is None:
        note(f"layout:{label}", f"{kind} {label}: a module layout the ONNX path does not know; stock PyTorch path")
        return stock
    try:
        inputs = _input_names(stock, model, kind)
        folder = Path(export_dir) if export_dir is not None else _export_dir(resolved, model, kind)
        path = folder / "model.onnx"
        if path.exists() and (folder / "meta.json").exists():
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("inputs") != inputs:
                raise RuntimeError(f"cached export {folder} takes {meta.get('inputs')}, the model {inputs}")
        else:
            meta = ((_export_in_child(resolved, kind, folder) if _exporting_elsewhere() and resolved is not None
                     and export_dir is None else None)
                    or _export(stock, model, kind, inputs, folder))
        session = _session(path)
    except Exception as exc:  # noqa: BLE001 - any failure: the stock path still works
        note(f"export:{label}", f"{kind} {label}: ONNX export failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); stock PyTorch path")
        return stock
    import onnxruntime as ort

    backend = f"onnxruntime {ort.__version__} ({meta.get('graph', '?')} graph, fp32)"
    cls = FastCrossEncoder if kind == "cross-encoder" else FastBiEncoder
    return cls(stock, session, inputs, backend, folder)


def stock_of(encoder):
    """The PyTorch model behind ``encoder`` (itself when it is already stock)."""
    return getattr(encoder, "stock", encoder)


def encode_lengths(encoder, texts: Sequence[str]) -> list[int]:
    """Token lengths as the model's tokenizer counts them (truncated at its limit)."""
    tok = stock_of(encoder).tokenizer
    limit = stock_of(encoder).max_seq_length
    return [len(x) for x in tok(list(texts), truncation=True, max_length=limit, verbose=False)["input_ids"]]
