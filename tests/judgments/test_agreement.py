"""Cohen's kappa and the agreement report, against a hand-computed example and scikit-learn."""

import math

import numpy as np
import pytest

from cascade_core.judgments.agreement import agreement, cohen_kappa, confusion_matrix


def test_kappa_by_hand():
    # 10 pairs graded 0/1/2. Confusion (rows first, columns second):
    #        0  1  2
    #   0  [ 3, 1, 0 ]
    #   1  [ 1, 2, 1 ]
    #   2  [ 0, 0, 2 ]
    first = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    second = [0, 0, 0, 1, 0, 1, 1, 2, 2, 2]
    assert confusion_matrix(first, second, [0, 1, 2]).tolist() == [[3, 1, 0], [1, 2, 1], [0, 0, 2]]
    # p_o = 7/10; marginals first (4, 4, 2), second (4, 3, 3): p_e = (16 + 12 + 6) / 100 = 0.34
    assert cohen_kappa(first, second) == pytest.approx((0.7 - 0.34) / (1 - 0.34), abs=1e-12)
    # linear weights |i-j|: observed disagreement 1+1+1 = 3 (each one step apart) over 10 pairs;
    # expected: sum |i-j| r_i c_j / 100 over the marginals' outer product
    r, c = np.array([4, 4, 2]), np.array([4, 3, 3])
    w = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    expected = (w * np.outer(r, c)).sum() / 100     # (0*16 + 1*12 + 2*12 + 1*16 + 0*12 + 1*12 + 2*8 + 1*6 + 0*6)/100
    assert expected == pytest.approx(0.86)
    assert cohen_kappa(first, second, "linear") == pytest.approx(1 - 0.3 / 0.86, abs=1e-12)


def test_kappa_matches_sklearn_on_random_labels():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(0, 3, size=int(rng.integers(5, 60)))
        b = np.where(rng.random(len(a)) < 0.6, a, rng.integers(0, 3, size=len(a)))
        for weights in (None, "linear"):
            ours = cohen_kappa(a.tolist(), b.tolist(), weights)
            ref = sklearn_metrics.cohen_kappa_score(a, b, weights=weights)
            assert ours == pytest.approx(ref, abs=1e-12)


def test_degenerate_cases():
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa([1, 1], [1, 1]))     # no expected disagreement
    assert cohen_kappa([0, 2], [0, 2]) == 1.0
    with pytest.raises(ValueError):
        cohen_kappa([0], [0, 1])


def test_agreement_report():
    human = {"q1": {"a": 2, "b": 0, "c": 1, "x": 0}, "q2": {"d": 0, "e": 2}, "q3": {"g": 1}}
    llm = {"q1": {"a": 2, "b": 1, "c": 1, "z": 2}, "q2": {"d": 0, "e": 0}, "q3": {"g": None}}
    ag = agreement(human, llm, names=("human", "llm"))
    assert (ag.n, ag.only_first, ag.only_second) == (5, 2, 1)   # x and g (unparseable) only human; z only llm
    assert ag.confusion.loc[2, 0] == 1 and ag.confusion.values.sum() == 5
    assert ag.disagreements[["query_id", "doc_id"]].values.tolist() == [["q1", "b"], ["q2", "e"]]
    assert ag.per_query.loc["q1", "disagree"] == 1 and ag.per_query.loc["q2", "agree"] == 1
    assert "5 pairs graded by both" in ag.summary()
