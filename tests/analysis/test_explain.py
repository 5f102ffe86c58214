"""Why was it dropped: paths, who beat it, what would keep it, losses by stage, on constructed runs
whose answers are known."""


import numpy as np
import pytest

from cascade_core.analysis.evaluation import Relevance
from cascade_core.analysis.explain import (beaten_by, describe_keeps, document_path, highlight_document,
                                           highlight_spans, keep_needed, keeps_to_final, lost_by_stage,
                                           paths_summary, paths_table, predicted_latency, query_index,
                                           relevant_paths)
from cascade_core.analysis.flow import flow_table
from cascade_core.cascade import CascadeSpec, ScoreMatrix, StageSpec, simulate
from cascade_core.data import Corpus, Qrels
from cascade_core.errors import CascadeError
from cascade_core.fusion import RRF
from cascade_core.latency.model import CostModel, predict_latency
from cascade_core.scorers import ScorerConfig

DOCS = [f"d{i}" for i in range(8)]
NAN, INF = np.nan, np.inf

# q0 retrieves d0..d5 (d6, d7 never); the pool of 4 keeps d0..d3. The stage orders them
# d1 .9, d2 .5, d3 .45, d0 .1 and keeps 2: d3 is just below its cut-off (rank 3, 0.05 short).
# The final k of 1 keeps d1 and drops d2. q1's list is short (4 documents) and keeps d5.
MATRIX = ScoreMatrix(
    query_ids=["q0", "q1"], doc_ids=DOCS,
    docs=np.array([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, -1, -1]]),
    first=np.array([[10, 9, 8, 7, 6, 5], [6, 5, 4, 3, -INF, -INF]], dtype=float),
    stage_scores=[np.array([[0.1, 0.9, 0.5, 0.45, NAN, NAN], [0.9, 0.8, 0.7, 0.6, NAN, NAN]])],
)
QRELS = Qrels({"q0": {"d3": 2, "d4": 1, "d7": 1, "d1": 1, "d2": 1}, "q1": {"d5": 1, "d0": 0}})
SPEC = CascadeSpec(ScorerConfig("bm25"), pool_size=4, stages=[StageSpec(ScorerConfig("bi-encoder"), keep=2)],
                   final_k=1)
MODELS = [CostModel("first", 5.0, 0.0, 1), CostModel("stage", 0.0, 2.0, 1)]  # 5 ms; 2 ms per pair


@pytest.fixture
def run():
    return simulate(SPEC, MATRIX)


def test_a_document_just_below_a_stage_cut_off(run):
    path = document_path(run, 0, "d3")
    assert path.dropped_at == "bi-encoder" and not path.survived and path.final_rank is None
    first, stage, final = path.steps
    assert (first.rank, first.keep, first.survived, first.rank_margin) == (4, 4, True, 0)
    assert first.score_margin == pytest.approx(0.0)      # it is the last one the pool keeps
    assert (stage.rank, stage.keep, stage.n_in, stage.rank_margin) == (3, 2, 4, 1)
    assert stage.score == pytest.approx(0.45) and stage.cutoff_score == pytest.approx(0.5)
    assert stage.score_margin == pytest.approx(0.05)
    assert not final.reached and final.rank is None
    assert path.describe() == "dropped at bi-encoder: rank 3, cut-off 2 (1 rank and 0.05 in score short)"


def test_a_document_below_the_pool_and_one_never_retrieved(run):
    below = document_path(run, 0, "d4")
    assert below.dropped_at == "first pass" and below.retrieved
    assert (below.steps[0].rank, below.steps[0].keep, below.steps[0].rank_margin) == (5, 4, 1)
    assert below.steps[0].score_margin == pytest.approx(1.0)   # 7 (d3, last kept) - 6
    assert not below.steps[1].reached

    never = document_path(run, 0, "d7")
    assert never.dropped_at == "first pass" and not never.retrieved and never.depth == 6
    assert never.steps[0].reached and never.steps[0].rank is None and never.steps[0].rank_margin is None
    assert never.describe() == "not retrieved in the first pass's top 6 (cut-off 4)"


def test_survivors_and_the_final_cut(run):
    kept = document_path(run, 0, "d1")
    assert kept.survived and kept.final_rank == 1 and kept.dropped_at is None
    assert [s.rank for s in kept.steps] == [2, 1, 1]
    assert kept.steps[1].rank_margin == -1 and kept.steps[1].score_margin == pytest.approx(-0.4)
    cut = document_path(run, 0, "d2")
    assert cut.dropped_at == "final" and cut.at("final").rank == 2 and cut.at("final").keep == 1
    assert cut.at("final").n_in == 2 and cut.at("final").score_margin == pytest.approx(0.4)
    # A short list: q1 stores 4 documents; all enter the stage.
    assert document_path(run, 1, "d5").final_rank == 1
    assert document_path(run, 1, "d2").at("bi-encoder").n_in == 4


def test_relevant_paths_cover_every_judged_document_furthest_first(run):
    paths = relevant_paths(run, QRELS, 0)
    assert [p.doc_id for p in paths] == ["d1", "d2", "d3", "d4", "d7"]
    assert [p.dropped_at for p in paths] == [None, "final", "bi-encoder", "first pass", "first pass"]
    assert [p.grade for p in paths] == [1, 1, 2, 1, 1]
    assert [p.doc_id for p in relevant_paths(run, QRELS, 1)] == ["d5"]   # grade 0 is not relevant

    summary = paths_summary(paths)
    assert summary.loc["d3", "rank there"] == 3 and summary.loc["d3", "rank margin"] == 1
    assert summary.loc["d3", "score margin"] == pytest.approx(0.05)
    assert summary.loc["d1", "final rank"] == 1 and summary.loc["d1", "dropped at"] == "-"
    long = paths_table(paths)
    assert len(long) == 5 * 3
    d3 = long[long["doc_id"] == "d3"].set_index("step")
    assert d3["outcome"].tolist() == ["kept", "dropped here", "not reached"]
    assert long[long["doc_id"] == "d7"]["outcome"].iloc[0] == "not retrieved"


def test_judged_documents_missing_from_the_corpus():
    run = simulate(SPEC, MATRIX)
    paths = relevant_paths(run, Qrels({"q0": {"nowhere": 1}}), 0)
    assert not paths[0].in_corpus and paths[0].dropped_at == "first pass"
    with pytest.raises(CascadeError, match="unknown document id 'nowhere'"):
        document_path(run, 0, "nowhere")
    with pytest.raises(CascadeError, match="unknown query id 'q9'"):
        query_index(run, "q9")
    assert query_index(run, "q1") == 1


def test_beaten_by_lists_the_last_kept_and_those_between(run):
    rel = Relevance.of(MATRIX, QRELS)
    table = beaten_by(run, 0, "bi-encoder", "d3", relevance=rel)
    assert table["doc_id"].tolist() == ["d1", "d2"] and table["rank"].tolist() == [1, 2]
    assert table["score"].tolist() == pytest.approx([0.9, 0.5]) and table["kept"].all()
    assert table["grade"].tolist() == [1, 1]
    assert beaten_by(run, 0, "bi-encoder", "d3", limit=1)["doc_id"].tolist() == ["d2"]
    # d0 (rank 4) also passed d3 (rank 3) on the way: dropped, between the cut-off and it.
    table = beaten_by(run, 0, 1, "d0")
    assert table["doc_id"].tolist() == ["d1", "d2", "d3"] and table["kept"].tolist() == [True, True, False]
    # The first pass: d5 at rank 6 with a pool of 4; with limit 1, the last kept and the one between.
    assert beaten_by(run, 0, "first pass", "d5", limit=1)["doc_id"].tolist() == ["d3", "d4"]
    # Never retrieved: below the whole stored list.
    assert beaten_by(run, 0, "first pass", "d7")["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert beaten_by(run, 0, "bi-encoder", "d2")["doc_id"].tolist() == ["d1"]   # a survivor
    with pytest.raises(CascadeError, match="never reached bi-encoder"):
        beaten_by(run, 0, "bi-encoder", "d4")
    with pytest.raises(CascadeError, match="no step named 'nope'"):
        beaten_by(run, 0, "nope", "d4")


def test_keep_needed_at_a_stage_simulates_where_it_goes_next(run):
    need = keep_needed(run, document_path(run, 0, "d3"), costs=MODELS)
    assert (need.step, need.keep, need.needed) == ("bi-encoder", 2, 3)
    assert need.spec.keeps == [4, 3] and need.spec.final_k == 1
    # The stage's own input does not change: neither does the latency (no stage after it).
    assert need.latency_before_ms == pytest.approx(13.0) and need.latency_after_ms == pytest.approx(13.0)
    assert need.then is not None and need.then.at("bi-encoder").survived and need.then.dropped_at == "final"
    assert need.describe().startswith("bi-encoder keeps >= 3 (now 2): predicted 13.0 ms -> 13.0 ms per query")

    final = keep_needed(run, document_path(run, 0, "d2"))
    assert final.spec.final_k == 2 and final.then.final_rank == 2
    assert np.isnan(final.latency_before_ms)   # no cost models given


def test_keep_needed_at_the_first_pass_prices_the_bigger_stage(run):
    need = keep_needed(run, document_path(run, 0, "d4"), costs=MODELS)
    assert need.needed == 5 and need.spec.pool_size == 5
    # The stage now receives 5 candidates for q0 and all 4 of q1: 4.5 x 2 ms, plus 5 ms.
    assert need.latency_before_ms == pytest.approx(13.0) and need.latency_after_ms == pytest.approx(14.0)
    assert need.then is None   # the stage never scored d4: not simulated, priced from the counts alone
    assert keep_needed(run, document_path(run, 0, "d7")).needed is None
    with pytest.raises(CascadeError, match="already passes"):
        keep_needed(run, document_path(run, 0, "d1"), "bi-encoder")


def test_predicted_latency_counts_like_a_simulation():
    scored = ScoreMatrix(MATRIX.query_ids, DOCS, MATRIX.docs, MATRIX.first,
                         [np.nan_to_num(MATRIX.stage_scores[0], nan=0.0)])
    run = simulate(SPEC, scored)
    for spec in (SPEC.with_keeps(pool_size=6, keeps=[3]), SPEC.with_keeps(pool_size=2, keeps=[1])):
        sim = simulate(spec, scored)
        n_in = [float(sim.steps[0].n_kept.mean())] + [float(s.n_in.mean()) for s in sim.steps[1:]]
        expected = predict_latency(spec.stage_names, n_in, MODELS)
        assert predicted_latency(run, spec, MODELS).total_ms == pytest.approx(expected.total_ms)


def test_lost_by_stage_counts_and_lists_every_lost_document(run):
    rel = Relevance.of(MATRIX, QRELS)
    lost = lost_by_stage(run, rel, QRELS)
    table = lost.by_stage
    assert list(table.index) == ["first pass", "bi-encoder", "final"]
    assert table["lost"].tolist() == [2, 1, 1] and table["queries"].tolist() == [1, 1, 1]
    assert table["keep"].tolist() == [4, 2, 1]
    assert table["share"].tolist() == pytest.approx([2 / 6, 1 / 6, 1 / 6])
    assert lost.n_relevant == 6 and lost.n_final == 2 and lost.queries == ["q0"]
    assert lost.lost_in("q0") == 4 and lost.lost_in("q1") == 0 and lost.first_query == "q0"
    flow = flow_table(run, rel)
    assert table["lost"].iloc[:-1].tolist() == flow["relevant_lost"].tolist()

    docs = lost.documents.set_index("doc_id")
    assert list(docs.index) == ["d4", "d7", "d3", "d2"]
    assert docs.loc["d3", "step"] == "bi-encoder" and docs.loc["d3", "rank"] == 3
    assert docs.loc["d3", "rank_margin"] == 1 and docs.loc["d3", "score_margin"] == pytest.approx(0.05)
    assert docs.loc["d3", "grade"] == 2
    assert docs.loc["d4", "score_margin"] == pytest.approx(1.0)
    assert docs.loc["d2", "step"] == "final" and docs.loc["d2", "score_margin"] == pytest.approx(0.4)
    assert docs["rank"].isna().tolist() == [False, True, False, False]   # d7: never retrieved
    # Without qrels the counts are the same; never-retrieved documents have no id to list.
    assert lost_by_stage(run, rel).documents["doc_id"].tolist() == ["d4", "d3", "d2"]

    # The first query worth showing loses a document it retrieved (q0's only loss was never retrieved).
    qrels = Qrels({"q0": {"d7": 1}, "q1": {"d2": 1}})
    lost = lost_by_stage(run, Relevance.of(MATRIX, qrels), qrels)
    assert lost.queries == ["q0", "q1"] and lost.first_query == "q1"
    assert lost_by_stage(run, Relevance.of(MATRIX, Qrels({"q1": {"d5": 1}}))).first_query is None


def test_scores_are_the_combined_ones_the_stage_ranked_by():
    spec = CascadeSpec(ScorerConfig("bm25"), pool_size=4,
                       stages=[StageSpec(ScorerConfig("bi-encoder"), keep=2, fusion=RRF(1))], final_k=1)
    run = simulate(spec, MATRIX)
    stage = document_path(run, 0, "d3").at("bi-encoder")
    # d3: incoming rank 4, stage rank 3 -> 1/(1+3) + 1/(1+4)
    assert stage.score == pytest.approx(1 / 4 + 1 / 5) and stage.raw == pytest.approx(0.45)


def test_highlight_spans_match_stems_and_skip_stopwords():
    text = "The Cells divided; a cell's division (not the cellar)."
    spans = highlight_spans(text, "the dividing cell")
    assert "".join(s for s, _ in spans) == text
    assert [s for s, hit in spans if hit] == ["Cells", "divided", "cell"]
    assert highlight_spans("nothing here", "cells") == [("nothing here", False)]
    assert highlight_spans("", "cells") == []
    corpus = Corpus.from_records([{"id": "x", "title": "Cell biology", "text": "Cells grow."}])
    assert [s for s, hit in highlight_document(corpus, "x", "cell") if hit] == ["Cell", "Cells"]
    with pytest.raises(CascadeError, match="unknown document id"):
        highlight_document(corpus, "y", "cell")


def test_keeps_to_final_raises_each_cut_off_in_turn(run):
    chain = keeps_to_final(run, document_path(run, 0, "d3"), costs=MODELS)
    assert [(k.step, k.needed) for k in chain] == [("bi-encoder", 3), ("final", 3)]
    assert chain[-1].spec.keeps == [4, 3] and chain[-1].spec.final_k == 3
    assert chain[-1].then.final_rank == 3 and chain[-1].latency_before_ms == pytest.approx(13.0)
    # Stops where the stored scores end: the stage never scored d4.
    chain = keeps_to_final(run, document_path(run, 0, "d4"))
    assert len(chain) == 1 and chain[0].then is None
    assert keeps_to_final(run, document_path(run, 0, "d1")) == []
    assert describe_keeps(keeps_to_final(run, document_path(run, 0, "d3"), costs=MODELS)) == (
        "bi-encoder keeps >= 3, final k >= 3: predicted 13.0 ms -> 13.0 ms per query; "
        "then it reaches the final list at rank 3")
    assert describe_keeps([]) == "already in the final list"


# -- the `cascade explain` command ------------------------------------------------------------

from tests.helpers import run_cli as cascade  # noqa: E402 - the CLI in this process


@pytest.mark.slow
def test_cascade_explain_by_stage_then_one_document(tiny_beir, tmp_path):
    # A cut-off of 1 after the bi-encoder: the small sample loses relevant documents there.
    spec = ["--dataset", str(tiny_beir), "--first-pass", "bm25", "--pool-size", "10",
            "--stage", "bi:all-MiniLM-L6-v2@1"]
    res = cascade("explain", *spec, home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    table = out[out.index("Lost at"):].splitlines()
    assert [line.split()[0] for line in table[1:4]] == ["first", "bi-encoder", "final"]
    lost = [int(line.split()[-3]) for line in table[1:4]]
    assert lost[1] > 0
    miss = out[out.index("Closest misses"):].splitlines()[1].split()
    qid, doc, rank = miss[0], miss[1], int(miss[6])
    assert miss[4] == "bi-encoder:" and rank > 1

    res = cascade("explain", *spec, "--query", qid, "--doc", doc, home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"Query {qid}:" in out and f"{doc} (grade " in out and "dropped at" in out
    assert "Ranked above it at" in out
    assert f"To keep it past bi-encoder: bi-encoder keeps >= {rank} (now 1): predicted " in out and "ms per query" in out


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--query", "no-such-query"], "unknown query id 'no-such-query'"),
    (["--query", "{qid}", "--doc", "no-such-doc"], "unknown document id 'no-such-doc'"),
    (["--doc", "x"], "--doc needs --query"),
])
def test_cascade_explain_bad_ids_give_one_line(args, message, tiny_beir, tiny_dataset, tmp_path):
    args = [a.replace("{qid}", tiny_dataset.queries.ids[0]) for a in args]
    res = cascade("explain", "--dataset", str(tiny_beir), *args, home=tmp_path / "home")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr
