"""Listwise stages in the score-once design: scores stored per candidate list, the simulation
marked approximate when the cut-offs hand the stage a list it never ranked, exact again after
rescoring. Scored by the ``llm`` kind against a real HTTP server (tests/llm_server.py)."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.cascade.listwise import StoredLists
from cascade_core.cascade.simulate import ScoreMatrix, simulate
from cascade_core.errors import MissingScoresError
from cascade_core.store.scores import ScoreStore, query_key
from tests.llm_server import serve, stats


@pytest.fixture(scope="module")
def server():
    with serve() as url:
        yield url


def llm_stage(url, keep, **params):
    return {"scorer": {"kind": "llm", "model": "overlap", "params": {"base_url": url, **params}}, "keep": keep}


def test_a_cut_off_change_upstream_makes_the_listwise_stage_approximate_and_rescoring_exact(
        server, workspace, tiny_dataset):
    spec = CascadeSpec.from_dict({
        "first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 5,
        "stages": [llm_stage(server, 12), llm_stage(server, 5, mode="listwise", window=4, stride=2)]})
    exp = Experiment(tiny_dataset, spec, workspace)
    first = exp.ensure_scores()
    assert first.scored_pairs == {"llm": 12 * 20, "llm #2": 12 * 12}
    assert exp.run(spec).run.exact

    # The pointwise stage keeps 8 instead of 12: the listwise stage receives 8 of the 12 it ranked.
    fewer = spec.with_keeps(keeps=[8, 5])
    run = exp.run(fewer).run
    assert not run.exact
    (marked,) = run.approximate   # the listwise stage only: a pointwise one is exact under any cut-off
    assert (marked.stage, marked.index, marked.queries, marked.of) == ("llm #2", 1, 12, 12)
    # What stands in: the 12-list's ranking, restricted to the 8 it receives now.
    matrix = exp.matrix
    lists = matrix.listwise_of(1)
    for q in range(len(matrix.query_ids)):
        positions, scores = lists.deepest(q)
        cols, valid = run.steps[1].kept()
        seen = set(matrix.docs[q, cols[q][valid[q]]].tolist())
        stored_order = [p for p, _ in sorted(zip(positions.tolist(), scores.tolist()), key=lambda x: -x[1]) if p in seen]
        final_cols, final_valid = run.steps[2].kept()
        assert matrix.docs[q, final_cols[q][final_valid[q]]].tolist() == stored_order[:5]

    # Rescoring for exactly these cut-offs ranks the 8-lists (the pointwise scores are reused).
    before = stats(server)
    again = exp.ensure_scores(fewer)
    assert again.scored_pairs == {"llm": 0, "llm #2": 12 * 8}
    assert stats(server)["pointwise"] == before["pointwise"]
    assert exp.run(fewer).run.exact
    assert exp.run(spec).run.exact   # the 12-lists are kept: going back costs nothing
    assert exp.ensure_scores(spec).scored_pairs == {"llm": 0, "llm #2": 0}

    # A list longer than any it ranked is not guessed: those scores are missing.
    with pytest.raises(MissingScoresError, match="'llm #2' has no stored score"):
        exp.run(spec.with_keeps(keeps=[15, 5]))


def test_simulate_picks_the_exact_list_else_the_shortest_covering_one():
    # one query, five documents; two stored lists: all five, and the top three in another order
    five = (np.array([0, 1, 2, 3, 4]), np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    three = (np.array([0, 1, 2]), np.array([1.0, 3.0, 2.0]))
    m = ScoreMatrix(["q"], list("abcde"), np.arange(5)[None], -np.arange(5.0)[None],
                    [np.full((1, 5), np.nan)], listwise=[StoredLists([[five, three]])])
    def spec(pool):
        return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": pool, "final_k": 2,
                                      "stages": [{"scorer": {"kind": "llm"}, "keep": 2}]})
    exact3 = simulate(spec(3), m)
    assert exact3.exact and exact3.final_doc_ids(0) == ["b", "c"]
    exact5 = simulate(spec(5), m)
    assert exact5.exact and exact5.final_doc_ids(0) == ["a", "b"]
    approx = simulate(spec(4), m)   # four: only the five-list holds them all
    assert [a.to_dict() for a in approx.approximate] == [{"stage": "llm", "queries": 1, "of": 1}]
    assert approx.final_doc_ids(0) == ["a", "b"]
    two = simulate(spec(2), m)      # two: the three-list, the shortest that holds them
    assert not two.exact and two.final_doc_ids(0) == ["b", "a"]
    # a stage without stored lists for its position is read as pointwise, as before
    assert m.without_stage(0).listwise == []


def test_the_store_keeps_every_list_and_forgets_them_with_the_scorer(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    q = query_key("cats")
    store.put_list("llm:x", "c", q, ["a", "b", "c"], [3, 2, 1], run=None)
    store.put_list("llm:x", "c", q, ["b", "a"], [2, 1])
    store.put_list("llm:x", "c", q, ["b", "a"], [2, 1])   # the same list again: replaced, not added
    lists = store.get_lists("llm:x", "c", [q, "other"])
    assert [docs for _, docs, _ in lists[q]] == [["a", "b", "c"], ["b", "a"]] and lists["other"] == []
    # provenance counts a listwise scorer's rows under their query
    assert sum(p["scores"] for p in store.score_provenance("llm:x", "c", [q])) == 5
    assert store.get_many("llm:x", "c", [q]) == {q: {}}   # pointwise reads see none of it
    assert store.drop_scores("llm:x", "c") == 5
    assert store.get_lists("llm:x", "c", [q]) == {q: []}
