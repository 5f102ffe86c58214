"""Models: which weights a name means, loading them once, their fingerprint, and running them fast.

Owns every model the library runs (bi-encoders, cross-encoders, learned sparse and late
interaction encoders, local LLMs): :mod:`.resolve` turns a name into weights (packaged, a folder,
a hub id), :mod:`.loading` loads them once per process (:func:`load_model` for any kind),
:mod:`.fingerprint` hashes their content for provenance, :mod:`.fast_encoder` runs BERT-style
encoders in ONNX Runtime, :mod:`.truncation` cuts documents to what a model reads,
:mod:`.batching` sizes batches, and :mod:`.students` finds the distilled cross-encoders (the data
folder's, and the one shipped with the sample). May import only the ground floor (``errors``, ``progress``,
``home``, ``readback``); heavy libraries (torch, transformers, onnxruntime) load inside the functions that
need them, so importing this package costs nothing.

>>> resolve_model("minilm").name
'all-MiniLM-L6-v2'
"""

from .fingerprint import fingerprint_as_loaded, model_fingerprint
from .loading import load_bi_encoder, load_cross_encoder, load_model
from .resolve import MINILM, PACKAGED, ResolvedModel, resolve_model

__all__ = ["MINILM", "PACKAGED", "ResolvedModel", "fingerprint_as_loaded", "load_bi_encoder", "load_cross_encoder",
           "load_model", "model_fingerprint", "resolve_model"]
