"""The ``llm`` stage's local back end with its offline default, the packaged gemma-3-270m GGUF:
``llm@K`` as a fresh install runs it, pointwise and listwise. One test: loading takes up to a minute and a half the first time."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.cascade.spec import parse_stage
from cascade_core.scorers import ScorerConfig

pytestmark = pytest.mark.slow


def test_the_packaged_gemma_scores_pointwise_and_listwise_offline(tiny_dataset, workspace):
    stage = parse_stage("llm@3")   # what `--stage llm@3` makes: the default model, pointwise
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 4, "final_k": 3,
                                  "stages": [{"scorer": stage.scorer.to_dict(), "keep": stage.keep}]})
    queries = tiny_dataset.judged_queries
    exp = Experiment(tiny_dataset, spec, workspace, queries=queries.subset(queries.ids[:2]))
    scorer = exp.plan.scorers[0]
    assert scorer.id == "llm:gemma-3-270m:max_doc_chars=800,mode=pointwise,prompt=1"
    scorer.load_model()   # up to 80 s the first time, outside any timed call
    report = exp.ensure_scores()
    assert report.scored_pairs == {"llm": 8}
    result = exp.run()
    assert result.run.exact and result.latency.stages[1].predicted_ms > 0   # cost recorded
    scores = exp.matrix.stage_scores[0][:, :4]
    assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all() and len(np.unique(scores)) > 1
    # a batch scores what the pairs score alone (left padding does not move positions)
    query = queries.text_of(queries.ids[0])
    docs = [d for d in tiny_dataset.corpus.ids[:3]]
    together = scorer.score(query, docs)
    alone = np.array([scorer.score(query, [d])[0] for d in docs])
    np.testing.assert_allclose(together, alone, atol=1e-4)

    # listwise on the same loaded model: a full ranking of three, whatever the small model says
    listwise = workspace.scorer(ScorerConfig("llm", None, {"mode": "listwise", "window": 3, "stride": 2,
                                                           "max_doc_chars": 200}), tiny_dataset.corpus)
    ranked = listwise.score(query, docs)
    assert sorted(ranked.tolist()) == [1.0, 2.0, 3.0]

    # The GGUF's conversion is kept for the next process (checked tensor by tensor when it was
    # saved, here or by an earlier process): a fresh load reads it, and judges as the model that
    # scored above.
    from pathlib import Path

    from cascade_core.scorers.llm import CONVERTED_MARK, LocalLM, converted_folder

    gguf = next(Path(scorer.resolved_model.location).glob("*.gguf"))
    assert (converted_folder(gguf) / CONVERTED_MARK).exists()
    fresh = LocalLM(scorer.resolved_model.location)
    assert fresh.source == str(converted_folder(gguf))
    prompts = [f"Query: {query}\nDocument: {tiny_dataset.corpus.text_of(d)[:300]}\nRelevant:" for d in docs]
    # the same tensors; a float sum's order may differ between two loads (threads), so to 1e-6
    np.testing.assert_allclose(fresh.judge(prompts, 2), scorer.local.judge(prompts, 2), rtol=0, atol=1e-6)
