"""cascade_core: the library behind cascade-explorer. Score once, simulate any cut-off.

The public API, small on purpose (everything else is importable from its package):

>>> from cascade_core import load_dataset, CascadeSpec, Experiment, simulate
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"}, "keep": 20,
...                 "combine": "norm-sum", "weight": 0.5}], "final_k": 10})
>>> spec.describe()
'bm25 -> 100 -> bi-encoder(all-MiniLM-L6-v2) fused norm-sum 0.5 -> 20 -> final 10'

Layers, each importing only those below it (the README's "Layout" draws them):

* ground -- :mod:`.errors`, :mod:`.numbers`, :mod:`.progress`, :mod:`.home`, :mod:`.params`, :mod:`.plugins`;
* :mod:`.data`, :mod:`.fusion`, :mod:`.metrics`, :mod:`.latency` -- no model, no store;
* :mod:`.models` -> :mod:`.store` -> :mod:`.vectors` -> :mod:`.scorers` -- the slow half's parts;
  :mod:`.serving` (the shared dashboard's guards) reads the kinds' declared parameters;
* :mod:`.cascade` (specs, simulation) -> :mod:`.scoring` (filling the store) ->
  :mod:`.judgments` -> :mod:`.analysis` (experiments, evaluation, lift, explanations);
* :mod:`.tuning`, :mod:`.doctor`, :mod:`.distill`, :mod:`.export` -- built on the analysis.

Nothing in this package imports Streamlit, Plotly, the dashboard or the CLI, and importing it
loads no model library: torch, transformers and Qdrant load when a model or an index is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it; imported on first use, so ``import cascade_core.metrics`` stays light.
_PUBLIC = {
    "load_dataset": "cascade_core.data",
    "Dataset": "cascade_core.data",
    "CascadeSpec": "cascade_core.cascade",
    "StageSpec": "cascade_core.cascade",
    "simulate": "cascade_core.cascade",
    "ScoreMatrix": "cascade_core.cascade",
    "Experiment": "cascade_core.analysis.experiment",
    "Workspace": "cascade_core.scoring.workspace",
    "CascadeError": "cascade_core.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cascade_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
