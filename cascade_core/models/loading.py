"""Load models once per process: :func:`load_model` for any kind, and the encoders we use.

A model is named, then resolved (:mod:`cascade_core.models.resolve`), then loaded here: cached by
kind, location, content fingerprint and settings, so every scorer shares one copy, and weights
changed on disk are loaded afresh. A failed load is one :class:`~cascade_core.errors.ModelError`
saying why (offline, a mistyped id, a folder that is no model).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ModelError, missing_dependency
from .device import half_precision
from .fast_encoder import FastBiEncoder, FastCrossEncoder, accelerate
from .fingerprint import model_fingerprint, remember_loaded
from .resolve import MINILM, PACKAGED, ResolvedModel, resolve_model

_lock = threading.Lock()
_loaded: dict[tuple, object] = {}


HUB_PROBE_TIMEOUT_S = 3
_hub_probe: dict = {}


def hub_reachable() -> bool:
    """Whether the Hugging Face hub answers a TCP connection, asked at most once a minute.

    Without this, a hub id on a machine with no network spends ~50 s in the hub client's
    retries before failing; with it, the load goes straight to the local cache (and fails at
    once, with a clear message, if the model is not there).
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    now = time.monotonic()
    if now - _hub_probe.get("at", -1e9) > 60:
        url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        try:
            socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                     timeout=HUB_PROBE_TIMEOUT_S).close()
            _hub_probe["ok"] = True
        except OSError:
            _hub_probe["ok"] = False
        _hub_probe["at"] = now
    return _hub_probe["ok"]


def load_model(kind: str, model: ResolvedModel, factory, **kwargs):
    """``factory(location, local_files_only=..., **kwargs)``, called once per process and content.

    The one way a stage kind loads its model (a new kind passes its own ``factory``): the result
    is shared by every scorer asking for the same kind, weights and settings; the weights'
    fingerprint is remembered, so the scores it makes record what made them; a failure is one
    ``ModelError`` with a hint (not a library's traceback).
    """
    # Keyed by content too: weights changed on disk while the process runs (retrained into the
    # same folder, a package upgraded) are loaded afresh, not served stale from memory; the
    # fingerprint is cached by file times, so this costs a stat of the folder's files.
    fingerprint = model_fingerprint(model) if model.local else None
    key = (kind, model.location, fingerprint, tuple(sorted(kwargs.items())))
    with _lock:
        if key not in _loaded:
            for old in [k for k in _loaded if k[:2] == key[:2] and k[3:] == key[3:]]:
                del _loaded[old]   # the previous revision of these weights: nobody should score with it
            offline = not model.local and not hub_reachable()
            try:
                _loaded[key] = factory(model.location, local_files_only=offline, **kwargs)
            except ImportError as exc:   # torch, transformers ...: an extra not installed
                missing = missing_dependency(exc, f"loading a {kind} model")
                if missing is None:
                    raise
                raise missing from None
            except Exception as exc:  # noqa: BLE001 - many libraries, many exception types
                hint = "" if model.local else (
                    " It is not packaged or a local folder, so it must come from the Hugging Face hub"
                    + (", which cannot be reached from here (and it is not in the local cache)" if offline else "")
                    + ": check the id and your network, or pass a local folder."
                    f" Packaged here: {', '.join(PACKAGED)}.")
                raise ModelError(f"cannot load {kind} model {model.name!r}: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0].rstrip('.') if str(exc) else ''}.{hint}") from exc
            # What was loaded is what the scores it makes were made by (a hub model: the cache
            # snapshot the load just used), whatever happens to the files later.
            remember_loaded(model, fingerprint or model_fingerprint(model))
        return _loaded[key]


def load_bi_encoder(model: ResolvedModel, device: str = "cpu"):
    """A ``SentenceTransformer`` on ``device`` (resolved: :func:`~.device.resolve_device`), loaded
    once per process and shared.

    On the CPU its forward pass runs in ONNX Runtime (:mod:`cascade_core.models.fast_encoder`: same
    ``encode``, same vectors to float rounding, about twice the speed here), or in PyTorch with a
    note when that is not available. On a GPU it runs in PyTorch, in float32: its vectors are
    stored and shared, so they stay the same whichever device made them.
    """
    def make(loc, local_files_only, device):
        from sentence_transformers import SentenceTransformer  # the models extra

        encoder = SentenceTransformer(loc, device=device, local_files_only=local_files_only)
        return accelerate(encoder, "bi-encoder", model) if device == "cpu" else encoder

    return load_model("bi-encoder", model, make, device=device)


def load_cross_encoder(model: ResolvedModel, max_length: int = 512, device: str = "cpu"):
    """A ``CrossEncoder`` returning raw logits (no sigmoid: ranking is unchanged, thresholds are not),
    on ``device``: on the CPU its forward pass in ONNX Runtime when available
    (:mod:`cascade_core.models.fast_encoder`), on a CUDA GPU in half precision
    (:func:`~.device.half_precision`; the kind stores those scores apart)."""
    def make(loc, local_files_only, max_length, device):
        import torch  # the models extra
        from sentence_transformers import CrossEncoder

        # A model with fewer positions than asked for (a small or distilled cross-encoder) would
        # fail on the first long pair: its own limit wins.
        max_length = min(max_length, position_limit(loc, local_files_only) or max_length)
        half = half_precision(device)
        # Weights stored in half precision (the shipped student: half the download) are computed
        # in float32 where half precision is not used: a CPU's float16 is slow, and its scores
        # would not be the ones recorded for the model.
        encoder = CrossEncoder(loc, max_length=max_length, device=device, activation_fn=torch.nn.Identity(),
                               local_files_only=local_files_only,
                               model_kwargs={} if half else {"dtype": torch.float32})
        if half:
            encoder.model.half()
        if device == "cpu":
            return accelerate(encoder, "cross-encoder", model)
        return encoder

    return load_model("cross-encoder", model, make, max_length=max_length, device=device)


def position_limit(location: str, local_files_only: bool = True) -> int | None:
    """The most tokens a model's position table takes (None when its config does not say).

    RoBERTa-style models keep two positions for padding: 514 positions take 512 tokens.
    """
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(location, local_files_only=local_files_only)
    except Exception:  # noqa: BLE001 - no config here: the load that follows says what is wrong
        return None
    n = getattr(config, "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        return None
    return n - 2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else n


def build_tiny_cross_encoder(folder: str | Path, seed: int = 0) -> str:
    """Write a real but *untrained* 2-layer BERT ``CrossEncoder`` to ``folder``; return its path.

    No pretrained cross-encoder can be downloaded on an offline machine. This one exercises
    the whole cross-encoder path (tokenisation, batching, timing) at a realistic shape, so it
    is good for plumbing tests and cost measurements, and worthless for quality. It reuses the
    packaged MiniLM tokenizer. Same seed, same weights.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = Path(folder)
    if (folder / "config.json").exists():
        return str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, max_position_embeddings=512)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model(MINILM).location).save_pretrained(folder)
    return str(folder)


def export_in_this_child(stream) -> None:
    """The child process of :func:`~.fast_encoder.exports_elsewhere`: load the model named on
    ``stream`` (JSON: ``{"model": ResolvedModel's fields, "kind": ...}``, written by this package's
    parent process) as the dashboard does, which exports it into the cache; exit 1 when the
    export did not happen, 2 when the request is not one."""
    import json
    import signal

    # Ended by its parent's death (fast_encoder._background_child): leave as an exception does, so
    # the export's scratch folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        request = json.load(stream)
        resolved, kind = ResolvedModel(**request["model"]), request["kind"]
    except (ValueError, TypeError, KeyError):
        sys.exit(2)
    if kind not in ("bi-encoder", "cross-encoder"):
        sys.exit(2)
    encoder = (load_cross_encoder if kind == "cross-encoder" else load_bi_encoder)(resolved, device="cpu")
    sys.exit(0 if isinstance(encoder, (FastBiEncoder, FastCrossEncoder)) else 1)
