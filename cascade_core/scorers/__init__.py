"""Scorers (rerank stages) and retrievers (first passes), each kind one small registered class."""

from . import bm25, collection, cross, dense, hybrid, late, llm, sparse  # noqa: F401 - registers the built-in kinds
from .base import (COST_SHAPES, Param, Retriever, Scorer, ScorerConfig, ScorerContext, aliases_of, canonical_kind,
                   describe_kind, register, registered, retriever_class, retriever_kinds, scorer_class,
                   scorer_kinds, unregister)

__all__ = ["COST_SHAPES", "Param", "Retriever", "Scorer", "ScorerConfig", "ScorerContext", "aliases_of",
           "canonical_kind", "describe_kind", "register", "registered", "retriever_class", "retriever_kinds",
           "scorer_class", "scorer_kinds", "unregister"]
