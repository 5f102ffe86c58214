"""Hand-computed cases with known answers, conventions, edge cases and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cascade_core.metrics import (
    METRICS,
    RankedLists,
    average_precision,
    dcg,
    evaluate,
    first_relevant_rank,
    ideal_dcg,
    mean_metrics,
    ndcg,
    oracle_ndcg,
    oracle_recall,
    parse_metric,
    precision,
    r_precision,
    recall,
    reciprocal_rank,
    success,
)

LOG2_3 = math.log2(3)


def one(run, qrels):
    return RankedLists.from_runs({"q": run}, {"q": qrels}, ["q"])


# -- a single relevant document at rank 3 ---------------------------------------------------------


def test_single_relevant_at_rank_three():
    lists = one(["a", "b", "c", "d"], {"c": 1, "a": 0})
    got = {k: float(v[0]) for k, v in evaluate(
        lists, ["mrr@10", "mrr@2", "ndcg@10", "ndcg@2", "map", "precision@5", "recall@2", "recall@3",
                "success@2", "success@3", "r-precision"]).items()}
    assert got["mrr@10"] == pytest.approx(1 / 3)
    assert got["mrr@2"] == 0.0
    assert got["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert got["ndcg@2"] == 0.0
    assert got["map"] == pytest.approx(1 / 3)
    assert got["precision@5"] == pytest.approx(0.2)
    assert got["recall@2"] == 0.0 and got["recall@3"] == 1.0
    assert got["success@2"] == 0.0 and got["success@3"] == 1.0
    assert got["r-precision"] == 0.0
    assert first_relevant_rank(lists).tolist() == [3]


def test_graded_ndcg_linear_and_exponential():
    lists = one(["a", "b"], {"a": 1, "b": 3})
    linear = (1 + 3 / LOG2_3) / (3 + 1 / LOG2_3)
    exponential = (1 + 7 / LOG2_3) / (7 + 1 / LOG2_3)
    assert ndcg(lists)[0] == pytest.approx(linear)
    assert ndcg(lists, gain="exponential")[0] == pytest.approx(exponential)
    assert evaluate(lists, ["ndcg_exp@2"])["ndcg_exp@2"][0] == pytest.approx(exponential)
    assert dcg(lists)[0] == pytest.approx(1 + 3 / LOG2_3)
    assert ideal_dcg(lists, gain="exponential")[0] == pytest.approx(7 + 1 / LOG2_3)


def test_binary_grades_make_gains_agree():
    lists = one(["x", "a", "y", "b"], {"a": 1, "b": 1, "c": 1})
    np.testing.assert_allclose(ndcg(lists, 3), ndcg(lists, 3, gain="exponential"))


def test_ndcg_ideal_counts_relevant_never_retrieved():
    # Retrieved only the grade-1 doc at rank 1; the grade-2 doc is missing.
    lists = one(["b"], {"a": 2, "b": 1})
    assert ndcg(lists, k=1)[0] == pytest.approx(1 / 2)
    assert ndcg(lists)[0] == pytest.approx(1 / (2 + 1 / LOG2_3))


def test_average_precision_and_map_cut_convention():
    lists = one(["a", "x", "b", "y", "c"], {"a": 1, "b": 2, "c": 1, "d": 1})
    assert average_precision(lists)[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    # map_cut_3: ranks 1..3 only, still divided by all 4 relevant.
    assert average_precision(lists, k=3)[0] == pytest.approx((1 + 2 / 3) / 4)
    assert average_precision(lists, k=1000)[0] == pytest.approx(average_precision(lists)[0])


def test_precision_divides_by_k_even_for_short_lists():
    lists = one(["a", "b"], {"a": 1, "b": 1})
    assert precision(lists, 10)[0] == pytest.approx(0.2)
    assert precision(lists, 1)[0] == 1.0


def test_r_precision_with_list_shorter_than_r():
    lists = one(["a", "x"], {"a": 1, "b": 1, "c": 1})
    assert r_precision(lists)[0] == pytest.approx(1 / 3)


def test_reciprocal_rank_without_cutoff_uses_whole_list():
    lists = one([f"x{i}" for i in range(49)] + ["a"], {"a": 1})
    assert reciprocal_rank(lists)[0] == pytest.approx(1 / 50)
    assert reciprocal_rank(lists, 10)[0] == 0.0
    assert success(lists)[0] == 1.0


# -- the no-relevant convention ----------------------------------------------------------------------


def test_queries_without_relevant_documents():
    lists = RankedLists.from_runs(
        {"judged_zero": ["a", "b"], "unjudged": ["c"], "empty": []},
        {"judged_zero": {"a": 0}},
        ["judged_zero", "unjudged", "empty"],
    )
    out = evaluate(lists, [name if spec.k != "required" else f"{name}@5" for name, spec in METRICS.items()])
    for name, values in out.items():
        family, _ = parse_metric(name)
        if family == "judged":   # about judgments, not relevance: tests/metrics/test_metrics_judged.py
            assert values[0] == 0.5 and values[1] == 0.0 and np.isnan(values[2]), name
            continue
        if METRICS[family].nan_without_relevant:
            assert np.isnan(values).all(), name
        else:
            assert (values == 0).all(), name


def test_empty_list_with_relevant_documents_scores_zero():
    lists = RankedLists.from_runs({"q": []}, {"q": {"a": 2}}, ["q"])
    for name, values in evaluate(lists, ["ndcg@10", "recall", "map", "mrr@10", "precision@5",
                                         "success@10", "r-precision", "oracle_ndcg@10"]).items():
        assert values.tolist() == [0.0], name


# -- input handling ------------------------------------------------------------------------------


def test_negative_grades_and_padding_count_as_zero():
    gains = np.array([[-1.0, 2.0, 0.0, 5.0]])
    valid = np.array([[True, True, True, False]])  # the 5.0 is padding
    ideal = np.array([[2.0, 0.0]])
    lists = RankedLists(gains, valid, ideal)
    assert lists.n_relevant.tolist() == [1]
    assert ndcg(lists)[0] == pytest.approx(1 / LOG2_3)
    assert recall(lists, 1)[0] == 0.0
    assert precision(lists, 4)[0] == pytest.approx(0.25)


def test_from_runs_layout():
    lists = RankedLists.from_runs(
        {"q1": ["a", "b", "c"], "q2": ["d"]},
        {"q1": {"b": 2, "z": 3, "c": -1}, "q2": {"d": 1}, "q3": {"e": 1}},
        ["q2", "q1", "q3"],
    )
    np.testing.assert_array_equal(lists.gains, [[1, 0, 0], [0, 2, 0], [0, 0, 0]])
    np.testing.assert_array_equal(lists.valid, [[1, 0, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(lists.ideal, [[1, 0], [3, 2], [1, 0]])
    np.testing.assert_array_equal(lists.n_relevant, [1, 2, 1])


def test_from_runs_rejects_duplicate_documents():
    with pytest.raises(ValueError, match="more than once"):
        RankedLists.from_runs({"q": ["a", "a"]}, {}, ["q"])


@pytest.mark.parametrize(
    "gains, valid, ideal",
    [
        (np.zeros(3), np.ones(3, bool), np.zeros((1, 1))),
        (np.zeros((2, 3)), np.ones((2, 4), bool), np.zeros((2, 1))),
        (np.zeros((2, 3)), np.ones((2, 3), bool), np.zeros((3, 1))),
    ],
)
def test_ranked_lists_shape_errors(gains, valid, ideal):
    with pytest.raises(ValueError):
        RankedLists(gains, valid, ideal)


def test_degenerate_shapes():
    no_docs = RankedLists(np.zeros((3, 0)), np.zeros((3, 0), bool), np.array([[1.0], [0.0], [2.0]]))
    no_queries = RankedLists(np.zeros((0, 5)), np.zeros((0, 5), bool), np.zeros((0, 0)))
    names = ["ndcg@10", "ndcg", "recall@5", "precision@5", "mrr@10", "map", "map@5", "success@3",
             "r-precision", "oracle_ndcg@10", "oracle_recall"]
    for lists, q in [(no_docs, 3), (no_queries, 0)]:
        for name, values in evaluate(lists, names).items():
            assert values.shape == (q,), name
    assert evaluate(no_docs, ["ndcg@10"])["ndcg@10"][[0, 2]].tolist() == [0.0, 0.0]


def test_cutoff_beyond_list_length():
    lists = one(["a", "b"], {"b": 1})
    assert ndcg(lists, 1000)[0] == pytest.approx(1 / LOG2_3)
    assert recall(lists, 1000)[0] == 1.0


@pytest.mark.parametrize("bad_k", [0, -3, 2.5, True])
def test_public_functions_reject_bad_k(bad_k):
    lists = one(["a"], {"a": 1})
    for fn in (ndcg, recall, precision, reciprocal_rank, success, average_precision, oracle_ndcg):
        with pytest.raises(ValueError):
            fn(lists, bad_k)


def test_bad_gain_name():
    with pytest.raises(ValueError, match="gain must be one of"):
        ndcg(one(["a"], {"a": 1}), 10, gain="exp")


# -- oracle ceiling ------------------------------------------------------------------------------


def test_oracle_is_one_when_every_relevant_is_present():
    lists = one(["x", "c", "y", "a", "b"], {"a": 3, "b": 1, "c": 2})
    ideal_order = one(["a", "c", "b", "x", "y"], {"a": 3, "b": 1, "c": 2})
    assert ndcg(lists, 10)[0] < 1
    assert oracle_ndcg(lists, 10)[0] == pytest.approx(1.0)
    assert oracle_ndcg(lists, 10)[0] == pytest.approx(ndcg(ideal_order, 10)[0])
    assert oracle_recall(lists, 3)[0] == 1.0


def test_oracle_is_lower_when_relevant_are_missing():
    lists = one(["x", "b"], {"a": 3, "b": 1})  # "a" was lost upstream
    expected = 1 / (3 + 1 / LOG2_3)
    assert oracle_ndcg(lists, 10)[0] == pytest.approx(expected)
    assert oracle_ndcg(lists, 10, gain="exponential")[0] == pytest.approx(1 / (7 + 1 / LOG2_3))
    assert oracle_recall(lists)[0] == 0.5


def test_oracle_bounds_ndcg_on_random_lists():
    rng = np.random.default_rng(7)
    q, k = 40, 60
    gains = rng.integers(0, 4, size=(q, k)).astype(float) * (rng.random((q, k)) < 0.2)
    lengths = rng.integers(0, k + 1, size=q)
    valid = np.arange(k)[None, :] < lengths[:, None]
    gains *= valid
    missing = rng.integers(0, 4, size=(q, 5)).astype(float)
    ideal = -np.sort(-np.concatenate([gains, missing], axis=1), axis=1)
    lists = RankedLists(gains, valid, ideal)
    for cut in (1, 5, 10, None):
        nd, orc = ndcg(lists, cut), oracle_ndcg(lists, cut)
        ok = ~np.isnan(nd)
        assert (orc[ok] >= nd[ok] - 1e-12).all()
        assert (orc[ok] <= 1 + 1e-12).all()
        assert np.array_equal(np.isnan(nd), np.isnan(orc))


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ndcg@10", ("ndcg", 10)),
        (" NDCG@10 ", ("ndcg", 10)),
        ("ndcg", ("ndcg", None)),
        ("ndcg_exp@5", ("ndcg_exp", 5)),
        ("recall", ("recall", None)),
        ("precision@5", ("precision", 5)),
        ("P@5", ("precision", 5)),
        ("mrr@10", ("mrr", 10)),
        ("rr@10", ("mrr", 10)),
        ("map", ("map", None)),
        ("map@100", ("map", 100)),
        ("hit@3", ("success", 3)),
        ("success@3", ("success", 3)),
        ("r-precision", ("r-precision", None)),
        ("oracle_ndcg@10", ("oracle_ndcg", 10)),
    ],
)
def test_parse_metric(name, expected):
    assert parse_metric(name) == expected


@pytest.mark.parametrize(
    "name, message",
    [
        ("ndgc@10", "unknown metric"),
        ("bleu", "unknown metric"),
        ("ndcg@0", "integer >= 1"),
        ("ndcg@-1", "integer >= 1"),
        ("ndcg@ten", "integer >= 1"),
        ("ndcg@", "integer >= 1"),
        ("ndcg@10@5", "integer >= 1"),
        ("precision", "needs a cut-off"),
        ("r-precision@5", "takes no cut-off"),
        ("", "unknown metric"),
    ],
)
def test_parse_metric_errors(name, message):
    with pytest.raises(ValueError, match=message):
        parse_metric(name)


def test_unknown_metric_message_lists_known_names():
    with pytest.raises(ValueError) as err:
        parse_metric("ndgc@10")
    for pattern in ("ndcg[@k]", "ndcg_exp[@k]", "recall[@k]", "precision@k", "mrr[@k]", "map[@k]",
                    "success[@k]", "hit=success"):
        assert pattern in str(err.value)


def test_parse_metric_rejects_non_strings():
    with pytest.raises(ValueError):
        parse_metric(10)  # type: ignore[arg-type]


def test_evaluate_checks_every_name_first_and_keeps_given_names():
    lists = one(["x", "a"], {"a": 1})
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(lists, ["ndcg@10", "nope"])
    out = evaluate(lists, ["hit@2", "success@2", "P@2"])
    assert list(out) == ["hit@2", "success@2", "P@2"]
    assert out["hit@2"].tolist() == [1.0] and out["P@2"].tolist() == [0.5]
    assert list(evaluate(lists, "mrr@10")) == ["mrr@10"]


def test_mean_metrics_ignores_nan_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        means = mean_metrics({
            "a": np.array([1.0, np.nan, 0.0]),
            "all_nan": np.array([np.nan, np.nan]),
            "empty": np.array([]),
        })
    assert means["a"] == 0.5
    assert math.isnan(means["all_nan"]) and math.isnan(means["empty"])
    assert all(isinstance(v, float) for v in means.values())
