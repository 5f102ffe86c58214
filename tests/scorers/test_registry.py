"""The scorer registry: each kind declares everything about itself; ids stay what they were."""

import pytest

from cascade_core.errors import SpecError
from cascade_core.scorers import (COST_SHAPES, Param, ScorerConfig, describe_kind, registered, retriever_class,
                                  scorer_class)
from cascade_core.scorers.base import Component

# (stage or first pass, kind, model, params, the id these produced before the registry change,
# computed with the code of commit 0a8f098). Stored scores are keyed by these strings: a change
# would silently orphan every user's stored scores.
IDS_BEFORE = [
    ('s', 'bm25', None, {}, 'bm25:b=0.4,epsilon=0.25,k1=0.9,stem=True,stopwords=True'),
    ('s', 'bm25', None, {'k1': 1.2, 'b': '0.75', 'stem': False}, 'bm25:b=0.75,epsilon=0.25,k1=1.2,stem=False,stopwords=True'),
    ('s', 'bi-encoder', None, {}, 'bi-encoder:all-MiniLM-L6-v2'),
    ('s', 'bi-encoder', 'all-MiniLM-L6-v2', {}, 'bi-encoder:all-MiniLM-L6-v2'),
    ('s', 'cross-encoder', 'cross-encoder/ms-marco-MiniLM-L-6-v2', {},
     'cross-encoder:cross-encoder/ms-marco-MiniLM-L-6-v2:max_length=512'),
    ('s', 'cross-encoder', 'cross-encoder/ms-marco-MiniLM-L-6-v2', {'max_length': 256, 'batch_size': 8},
     'cross-encoder:cross-encoder/ms-marco-MiniLM-L-6-v2:max_length=256'),
    ('r', 'bm25', None, {}, 'first-pass:bm25:b=0.4,epsilon=0.25,k1=0.9,stem=True,stopwords=True'),
    ('r', 'bm25', None, {'k1': 1.2}, 'first-pass:bm25:b=0.4,epsilon=0.25,k1=1.2,stem=True,stopwords=True'),
    ('r', 'dense', None, {}, 'first-pass:dense:all-MiniLM-L6-v2'),
    ('r', 'hybrid', 'all-MiniLM-L6-v2', {},
     'first-pass:hybrid:rrf,rrf_k=60,depth=100,lexical=matched|first-pass:bm25:b=0.4,epsilon=0.25,k1=0.9,'
     'stem=True,stopwords=True|first-pass:dense:all-MiniLM-L6-v2'),
    ('r', 'hybrid', None, {'fusion': 'norm-sum', 'weight': 0.7, 'depth': 150, 'k1': 1.2},
     'first-pass:hybrid:norm-sum,weight=0.7,depth=150,lexical=matched|first-pass:bm25:b=0.4,epsilon=0.25,k1=1.2,'
     'stem=True,stopwords=True|first-pass:dense:all-MiniLM-L6-v2'),
    ('r', 'hybrid', None, {'rrf_k': 2},
     'first-pass:hybrid:rrf,rrf_k=2,depth=100,lexical=matched|first-pass:bm25:b=0.4,epsilon=0.25,k1=0.9,'
     'stem=True,stopwords=True|first-pass:dense:all-MiniLM-L6-v2'),
]


@pytest.mark.parametrize("side,kind,model,params,expected", IDS_BEFORE)
def test_existing_kinds_keep_their_ids_byte_for_byte(tiny_dataset, workspace, side, kind, model, params, expected):
    config = ScorerConfig(kind, model, params)
    step = (workspace.scorer if side == "s" else workspace.retriever)(config, tiny_dataset.corpus)
    assert step.id == expected


@pytest.mark.parametrize("retriever", [False, True])
def test_every_kind_declares_label_model_parameters_and_cost(retriever):
    kinds = registered(retriever)
    assert {"bm25"} <= set(kinds) and "sparse" in kinds
    assert ("late" in kinds) != retriever   # late interaction is a rerank stage only
    for kind, cls in kinds.items():
        assert cls.kind == kind and cls.label and cls.label != kind, kind
        assert cls.cost_shape in COST_SHAPES, kind
        assert all(isinstance(p, Param) and p.help for p in cls.parameters), kind
        text = describe_kind(cls)
        assert text.startswith(f"{kind}: {cls.label}") and all(p.name in text for p in cls.parameters)


# Values that each kind's own checks accept; the declared parameters must read them the same way.
ACCEPTED = {("s", "bm25"): [{}, {"k1": 1.2, "b": "0.75", "stem": False}],
            ("s", "cross-encoder"): [{}, {"max_length": "256", "batch_size": 8}],
            ("r", "hybrid"): [{}, {"fusion": "norm-sum", "weight": 0.7, "depth": 150, "k1": 1.2}, {"rrf_k": 2}]}
REFUSED = {("s", "bm25"): [{"b": 1.5}, {"k1": "abc"}, {"stem": "no"}, {"k2": 1}],
           ("s", "cross-encoder"): [{"max_length": 0}, {"max_lenght": 256}],
           ("r", "hybrid"): [{"rrf_k": 0}, {"weight": 2}, {"depth": 1.5}, {"dpeth": 50}, {"fusion": "max"}]}


@pytest.mark.parametrize("side,kind", list(ACCEPTED))
def test_declared_parameters_agree_with_the_kinds_own_checks(side, kind):
    """BM25, the cross-encoder and hybrid keep their own parse_params (their messages are
    pinned by tests); their declarations, which the UI and the CLI read, say the same."""
    cls = scorer_class(kind) if side == "s" else retriever_class(kind)
    declared = Component.parse_params.__func__
    for params in ACCEPTED[(side, kind)]:
        assert declared(cls, params) == cls.parse_params(params), params
    for params in REFUSED[(side, kind)]:
        for parse in (cls.parse_params, lambda p: declared(cls, p)):
            with pytest.raises(SpecError):
                parse(params)


def test_default_id_covers_kind_model_and_every_parameter():
    """A kind that declares parameters and overrides nothing gets a complete id."""
    cls = scorer_class("sparse")
    base = cls(ScorerConfig("sparse"), None).id
    assert base == "sparse:splade-tiny:max_length=256,query_max_length=64"
    # The same values written differently share scores; any other value does not.
    assert cls(ScorerConfig("sparse", params={"max_length": "256"}), None).id == base
    for p in cls.parameters:
        assert cls(ScorerConfig("sparse", params={p.name: p.default * 2}), None).id != base, p.name
    assert cls(ScorerConfig("sparse", "all-MiniLM-L6-v2"), None).id != base
    assert retriever_class("sparse")(ScorerConfig("sparse"), None).id == "first-pass:" + base


def test_param_declarations_are_checked():
    with pytest.raises(ValueError, match="type must be one of"):
        Param("x", "float", 1.0)
    with pytest.raises(ValueError, match="not among its choices"):
        Param("x", "choice", "c", choices=("a", "b"))
    p = Param("n", "int", 4, low=1, high=8)
    assert p.parse("k", {"n": "5"}) == 5
    with pytest.raises(SpecError, match="k parameter n must be a whole number between 1 and 8, not 9"):
        p.parse("k", {"n": 9})
