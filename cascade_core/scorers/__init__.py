"""Stage kinds: scorers (rerank stages) and retrievers (first passes), each kind one small class.

A kind is one file: a class registered under a name (:func:`register`) that declares all the
rest of the library knows about it: a label, its model (and offline default), its parameters
(:class:`~cascade_core.params.Param`, typed and ranged), pointwise or listwise, its cost shape,
and, for a first pass that Qdrant can run, its Query API part (:mod:`.in_qdrant`). The Build
page, the CLI's help, the spec's checks, the shared dashboard's guards and the Qdrant export read
that declaration; none of them keeps a list of kinds.

The built-in kinds are found by importing every module of this package; a third party's through
the ``cascade_explorer.kinds`` entry-point group (:mod:`cascade_core.plugins`), e.g. in its
``pyproject.toml``::

    [project.entry-points."cascade_explorer.kinds"]
    my-reranker = "my_package.my_reranker"

Imports ``data``, ``fusion``, ``models`` and ``vectors``; model libraries load when a kind loads its model.
"""

from ..params import Param
from ..plugins import KIND_GROUP, discover
from .base import (COST_SHAPES, Retriever, Scorer, ScorerConfig, ScorerContext, aliases_of, canonical_kind,
                   compact_config, compact_text, describe_kind, register, registered, retriever_class,
                   retriever_kinds, scorer_class, scorer_kinds, unregister)


def discover_kinds() -> list[str]:
    """Import the built-in kinds and every installed plugin's (again, for a plugin installed since):
    the names of the entry points found."""
    return discover(__name__, __path__, KIND_GROUP, skip=("base", "in_qdrant"))


discover_kinds()

__all__ = ["COST_SHAPES", "Param", "Retriever", "Scorer", "ScorerConfig", "ScorerContext", "aliases_of",
           "canonical_kind", "compact_config", "compact_text", "describe_kind", "discover_kinds", "register", "registered", "retriever_class",
           "retriever_kinds", "scorer_class", "scorer_kinds", "unregister"]
