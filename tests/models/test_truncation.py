"""A huge document: cut to what each model reads before its tokenizer sees it, stored as a bounded
excerpt, and counted per step in every scoring report (library, CLI text and --json)."""

from __future__ import annotations

import json
import random

import pytest
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.models import resolve_model
from cascade_core.models.truncation import CHARS_PER_TOKEN, Cuts, char_limit, clip_for_model
from cascade_core.models.truncation import clipped
from cascade_core.vectors.index import PAYLOAD_CHARS, point_id
from tests.helpers import run_cli as cascade   # in this process: no interpreter, models loaded once

HUGE_CHARS = 2_000_000   # ~400 k tokens; the same code path as the 24 MB one, in a test's time
LONGEST_LIMIT = 512      # the largest max_length of the models below (tokens)


@pytest.fixture(scope="module")
def huge_beir(tmp_path_factory):
    """Six short documents and one of 2 MB, two queries judged on them."""
    out = tmp_path_factory.mktemp("huge-beir")
    rng = random.Random(0)
    words = "cell protein gene tumour patient dose receptor signal pathway cohort risk trial".split()
    docs = [{"_id": f"d{i}", "title": f"Doc {i}", "text": " ".join(rng.choice(words) for _ in range(60))}
            for i in range(6)]
    docs.append({"_id": "huge", "title": "Huge", "text": " ".join(rng.choice(words) for _ in range(HUGE_CHARS // 6))})
    (out / "qrels").mkdir()
    (out / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (out / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "tumour receptor signal"}) + "\n"
                                       + json.dumps({"_id": "q2", "text": "patient dose trial"}) + "\n")
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\thuge\t1\nq2\td2\t1\n")
    return out


@pytest.fixture
def tokenizer_inputs(monkeypatch):
    """The longest text any Hugging Face tokenizer is handed while the test runs."""
    seen = {"longest": 0}
    original = PreTrainedTokenizerBase.__call__

    def spy(self, text=None, text_pair=None, *args, **kwargs):
        for part in (text, text_pair):
            items = [part] if isinstance(part, str) else list(part or [])
            for item in items:
                for s in ([item] if isinstance(item, str) else list(item) if isinstance(item, (list, tuple)) else []):
                    if isinstance(s, str):
                        seen["longest"] = max(seen["longest"], len(s))
        return original(self, text, text_pair, *args, **kwargs)

    monkeypatch.setattr(PreTrainedTokenizerBase, "__call__", spy)
    return seen


def test_clip_for_model_cuts_characters_then_counts_tokens():
    from cascade_core.models import load_bi_encoder

    tok = load_bi_encoder(resolve_model("all-MiniLM-L6-v2")).tokenizer
    texts, lengths, cut = clip_for_model(tok, ["short text", "word " * 100_000, "word " * 300], 256)
    assert [len(t) <= char_limit(256) for t in texts] == [True, True, True]
    assert cut == [False, True, True] and lengths[0] < 10
    assert len(texts[1]) == 256 * CHARS_PER_TOKEN


def test_llm_clip_reads_only_a_window_of_a_huge_text():
    text, was_cut = clipped("word " * 5_000_000, 1200)
    assert was_cut and len(text) <= 1200
    assert clipped("a   b", 10) == ("a b", False)


def test_cuts_describe_documents_once():
    cuts = Cuts()
    cuts.add(["a", "b"], 256)
    cuts.add(["a"], 256)
    assert len(cuts) == 2 and cuts.describe() == "2 documents cut to 256 tokens"


STEPS = {
    "bi-encoder": {"kind": "bi-encoder", "model": "all-MiniLM-L6-v2"},
    "late": {"kind": "late"},
    "sparse": {"kind": "sparse"},
}


@pytest.mark.slow
@pytest.mark.parametrize("step", sorted(STEPS) + ["cross-encoder"])
def test_every_model_step_reads_a_bounded_text_and_reports_the_cut(huge_beir, tmp_path, tokenizer_inputs, step,
                                                                   tiny_cross_encoder):
    from cascade_core.scoring.workspace import Workspace

    dataset = load_dataset(huge_beir, split="test")
    scorer = STEPS.get(step) or {"kind": "cross-encoder", "model": tiny_cross_encoder}
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 7,
                                  "stages": [{"scorer": scorer, "keep": 7}], "final_k": 5})
    ws = Workspace(tmp_path / "home")
    try:
        report = Experiment(dataset, spec, ws).ensure_scores()
        name = spec.stage_names[1]
        assert report.truncated[name]["documents"] >= 1, report.truncated
        assert "tokens" in report.truncated[name]["limit"]
        # the tokenizers never saw the huge text, only its first few thousand characters
        assert 0 < tokenizer_inputs["longest"] <= char_limit(LONGEST_LIMIT), tokenizer_inputs
        assert any("cut to" in line for line in report.describe_truncated())
    finally:
        ws.close()


def test_dense_first_pass_reports_the_cut_and_stores_an_excerpt(huge_beir, tmp_path, tokenizer_inputs):
    from cascade_core.scoring.workspace import Workspace

    dataset = load_dataset(huge_beir, split="test")
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "dense", "model": "all-MiniLM-L6-v2"}, "pool_size": 5,
                                  "stages": [], "final_k": 5})
    ws = Workspace(tmp_path / "home")
    try:
        exp = Experiment(dataset, spec, ws)
        report = exp.ensure_scores()
        assert report.truncated[spec.stage_names[0]]["documents"] >= 1
        assert tokenizer_inputs["longest"] <= char_limit(256)
        index = ws.vector_index(dataset.corpus, resolve_model("all-MiniLM-L6-v2"))
        _, payload, _ = ws.qdrant.retrieve(index.name, [point_id("huge")], payload=True)[0]
        assert len(payload["text"]) == PAYLOAD_CHARS and payload["text_chars"] > HUGE_CHARS // 2
    finally:
        ws.close()


@pytest.mark.slow
def test_cli_report_and_json_say_how_many_were_cut(huge_beir, tmp_path):
    out = tmp_path / "r.json"
    res = cascade("eval", "--dataset", str(huge_beir), "--split", "test", "--first-pass", "bm25", "--pool-size", "7",
                  "--stage", "bi:all-MiniLM-L6-v2@5", "--final-k", "5", "--json", str(out), home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    assert "Truncated: bi-encoder:" in res.stdout and "cut to 256 tokens" in res.stdout
    report = json.loads(out.read_text())
    assert report["scoring"]["truncated"]["bi-encoder"]["documents"] >= 1
    assert report["notices"] == []
