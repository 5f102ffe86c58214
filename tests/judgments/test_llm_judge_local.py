"""The LLM judge on the packaged local model (gemma-3-270m GGUF, offline): slow but real, 3 pairs.
Loading takes up to a minute and a half (seconds once its conversion is kept); the model is a near-random judge, so only the plumbing is asserted:
a raw answer per pair, a grade or "unparseable", time measured, agreement computed."""

import pytest

from cascade_core.judgments.agreement import agreement
from cascade_core.judgments.llm_judge import LLMJudge, parse_grade

pytestmark = pytest.mark.slow


def test_the_packaged_gemma_labels_three_pairs(tiny_dataset):
    qid = tiny_dataset.judged_queries.ids[0]
    rel = list(tiny_dataset.qrels.relevant(qid))[:1]
    pairs = [(qid, d) for d in rel + [d for d in tiny_dataset.corpus.ids if d not in rel][:2]]
    judge = LLMJudge(params={"max_doc_chars": 300})
    assert judge.backend == "local" and judge.source == "llm:gemma-3-270m"
    judge.load()   # up to 80 s, not counted in the labels' seconds
    run = judge.label(pairs, tiny_dataset.queries.text_of, tiny_dataset.corpus.text_of)
    assert [(lb.query_id, lb.doc_id) for lb in run.labels] == pairs
    for lb in run.labels:
        assert isinstance(lb.answer, str) and lb.grade == parse_grade(lb.answer) and lb.seconds > 0
    assert run.unparseable == sum(lb.grade is None for lb in run.labels)
    est = judge.estimate([tiny_dataset.queries.text_of(q) for q, _ in pairs],
                         [tiny_dataset.corpus.text_of(d) for _, d in pairs], seconds_per_pair=run.seconds_per_pair)
    assert est.source == "measured" and est.seconds == pytest.approx(run.seconds)
    human = {qid: {d: tiny_dataset.qrels.grade(qid, d) for _, d in pairs}}
    ag = agreement(human, run.qrels(), names=("qrels", "gemma"))
    assert ag.n == 3 - run.unparseable
    print(f"\ngemma-3-270m judge: {run.seconds_per_pair:.2f} s a pair; answers {[lb.answer for lb in run.labels]}; "
          f"{ag.summary()}")
