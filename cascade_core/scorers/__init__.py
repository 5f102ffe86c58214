"""Scorers (rerank stages) and retrievers (first passes), each kind one small registered class."""

from .base import (Retriever, Scorer, ScorerConfig, ScorerContext, canonical_kind, register,
                   retriever_class, retriever_kinds, scorer_class, scorer_kinds)
from . import bm25, cross, dense, hybrid  # noqa: F401 - registers the built-in kinds

__all__ = ["Retriever", "Scorer", "ScorerConfig", "ScorerContext", "canonical_kind", "register",
           "retriever_class", "retriever_kinds", "scorer_class", "scorer_kinds"]
