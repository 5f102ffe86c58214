"""Fusion in one place: the stage combinations and the hybrid first pass use the same classes,
and give the numbers the library gave before they were gathered here."""

import numpy as np
import pytest

from cascade_core.errors import SpecError
from cascade_core.fusion import RRF, NormSum, Replace, fusion_names, make_fusion, minmax, parse_fusion, ranks


def test_combine_formulas():
    new = np.array([[0.2, 0.9, 0.5, 0.0]])
    incoming = np.array([[4.0, 3.0, 2.0, 0.0]])
    valid = np.array([[True, True, True, False]])
    assert (Replace().combine(new, incoming, valid) == new).all()
    rrf = RRF(60).combine(new, incoming, valid)
    assert rrf[0, 1] == pytest.approx(1 / 61 + 1 / 62)          # stage rank 1, incoming rank 2
    ns = NormSum(0.25).combine(new, incoming, valid)
    assert ns[0, 1] == pytest.approx(0.25 * 1.0 + 0.75 * 0.5)    # min-max over the valid three only
    assert ns[0, 3] == 0.0                                      # padding stays out


def test_hybrid_fusions_keep_their_numbers():
    lists = [(["a", "b"], [3.0, 1.0]), (["b", "c"], [0.9, 0.1])]
    rrf = RRF(60).fuse(lists)
    assert rrf == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})
    ns = NormSum(0.5).fuse(lists, weights=[0.3, 0.7])
    assert ns == pytest.approx({"a": 0.3, "b": 0.7, "c": 0.0})
    assert NormSum().fuse([(["a"], [2.0])]) == {"a": 1.0}       # a constant list counts as 1
    with pytest.raises(SpecError):
        Replace().fuse(lists)


def test_names_parameters_and_parsing():
    assert fusion_names() == ["replace", "rrf", "norm-sum", "dbsf"]
    assert make_fusion("norm-sum", weight=0.3) == NormSum(0.3) != NormSum(0.5)
    assert len({RRF(60), RRF(60.0), RRF(2)}) == 2
    assert parse_fusion("rrf:2") == RRF(2) and parse_fusion("norm-sum:0.7").label == "norm-sum 0.7"
    for bad in ("concat", "replace:3", "norm-sum:x", "norm-sum:2", "rrf:0"):
        with pytest.raises(SpecError):
            parse_fusion(bad)


def test_kernels():
    valid = np.ones((1, 3), bool)
    assert minmax(np.array([[5.0, 5.0, 5.0]]), valid).tolist() == [[1.0, 1.0, 1.0]]
    assert ranks(np.array([[1.0, 1.0, 2.0]]), valid).tolist() == [[2, 3, 1]]   # ties: earlier first
