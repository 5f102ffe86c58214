"""Late interaction (MaxSim): the MiniLM stand-in, and ColBERT checkpoints from local folders in
PyLate's format and in Stanford's plain Hugging Face format (tiny, untrained: plumbing only)."""

import json
from pathlib import Path

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.models import resolve_model
from cascade_core.scorers import ScorerConfig, ScorerContext, scorer_class
from cascade_core.scorers.late import TokenEncoder, load_token_encoder, maxsim
from tests.scorers.test_sparse import relevant_and_not


def test_scores_relevant_documents_above_irrelevant_ones(tiny_dataset, workspace):
    scorer = scorer_class("late")(ScorerConfig("late"), ScorerContext(tiny_dataset.corpus, workspace))
    wins = []
    for query, rel, other in relevant_and_not(tiny_dataset):
        scorer.prepare(rel + other)
        s = scorer.score(query, rel + other)
        wins.append(s[: len(rel)].mean() > s[len(rel):].mean())
        # Unit vectors: each query token adds a cosine, so a score is at most the query's length.
        assert np.all(np.isfinite(s)) and np.all(np.abs(s) <= 32 + 1e-3)
    assert all(wins), wins


def test_stand_in_is_minilms_token_embeddings(tiny_dataset):
    """The offline default is exactly SentenceTransformer's ``token_embeddings``, unit length."""
    from sentence_transformers import SentenceTransformer

    model = resolve_model("all-MiniLM-L6-v2")
    texts = [tiny_dataset.corpus.text_of(d) for d in tiny_dataset.corpus.ids[:3]]
    ours = load_token_encoder(model).encode(texts, 256, is_query=False)
    st = SentenceTransformer(model.location, device="cpu")
    st.max_seq_length = 256
    for mine, ref in zip(ours, st.encode(texts, output_value="token_embeddings", convert_to_numpy=False)):
        ref = ref.numpy() / np.linalg.norm(ref.numpy(), axis=1, keepdims=True)
        np.testing.assert_allclose(mine, ref, atol=1e-4)


def test_maxsim_equals_a_loop():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 8))
    docs = [rng.normal(size=(n, 8)) for n in (3, 1, 7)]
    loop = [sum(max(float(qi @ dj) for dj in d) for qi in q) for d in docs]
    starts = np.cumsum([0] + [len(d) for d in docs[:-1]])
    np.testing.assert_allclose(maxsim(q, np.concatenate(docs), starts), loop, rtol=1e-5)


# -- ColBERT checkpoints in local folders ------------------------------------------------------

def _tiny_bert(folder: Path, extra_tokens=()):
    """A 2-layer BERT (seeded, untrained) with MiniLM's tokenizer saved in ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522 + len(extra_tokens), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2").location)
    tokenizer.add_tokens(list(extra_tokens))
    tokenizer.save_pretrained(folder)
    return BertModel(config), config


@pytest.fixture(scope="module")
def pylate_folder(tmp_path_factory) -> Path:
    """PyLate's layout: the transformer at the root, a ``1_Dense`` projection to 16 dims, prefixes."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("pylate") / "tiny-colbert"
    folder.mkdir()
    bert, _ = _tiny_bert(folder, extra_tokens=("[Q] ", "[D] "))
    bert.save_pretrained(folder)
    (folder / "1_Dense").mkdir()
    (folder / "1_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 32, "out_features": 16, "bias": False,
         "activation_function": "torch.nn.modules.linear.Identity"}))
    save_file({"linear.weight": torch.randn(16, 32)}, str(folder / "1_Dense" / "model.safetensors"))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"}]))
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"query_prefix": "[Q] ", "document_prefix": "[D] ", "query_length": 32, "document_length": 180,
         "do_query_expansion": True, "attend_to_expansion_tokens": False, "similarity_fn_name": "MaxSim"}))
    return folder


@pytest.fixture(scope="module")
def stanford_folder(tmp_path_factory) -> Path:
    """Stanford's plain HF layout: ``HF_ColBERT`` weights with the projection as ``linear.weight``."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("stanford") / "tiny-colbertv2"
    folder.mkdir()
    bert, config = _tiny_bert(folder)
    config.architectures = ["HF_ColBERT"]
    config.save_pretrained(folder)
    weights = {f"bert.{k}": v.contiguous() for k, v in bert.state_dict().items()}
    weights["linear.weight"] = torch.randn(24, 32)
    save_file(weights, str(folder / "model.safetensors"))
    return folder


@pytest.mark.parametrize("layout,dim", [("pylate", 16), ("stanford", 24)])
def test_colbert_checkpoints_from_local_folders(layout, dim, pylate_folder, stanford_folder, tiny_dataset, workspace):
    folder = pylate_folder if layout == "pylate" else stanford_folder
    encoder = TokenEncoder(str(folder), local_files_only=True)
    assert encoder.colbert and encoder.query_prefix_id is not None and encoder.document_prefix_id is not None
    text = "Stem cells, in short: renewal."
    q = encoder.encode([text], 32, is_query=True)[0]
    d = encoder.encode([text], 256, is_query=False)[0]
    n_tokens = len(encoder.tokenizer(text)["input_ids"])
    # Queries are padded to their full length with [MASK] (query expansion); documents get the
    # prefix token and lose their punctuation (a comma, a colon, a full stop).
    assert q.shape == (32, dim) and d.shape == (n_tokens + 1 - 3, dim)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    # The kind takes the folder like any model, and the id names it by content.
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 10,
                                  "stages": [{"scorer": {"kind": "late", "model": str(folder)}, "keep": 5}],
                                  "final_k": 5})
    exp = Experiment(tiny_dataset, spec, workspace, queries=tiny_dataset.queries.subset(tiny_dataset.queries.ids[:3]))
    report = exp.ensure_scores()
    assert report.scored_pairs["late"] == 30
    assert exp.plan.scorers[0].id.startswith(f"late:{folder.name}-")
    assert np.isfinite(exp.run().run.final.scores[:, :5]).all()


def test_spec_round_trip_and_id_per_parameter(tiny_cross_encoder):
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 50, "final_k": 5, "stages": [
        {"scorer": {"kind": "colbert", "params": {"max_length": 180}}, "keep": 10}]})
    assert CascadeSpec.from_yaml(spec.to_yaml()) == spec
    cls = scorer_class("late")
    base = cls(ScorerConfig("late"), None).id
    ids = {cls(ScorerConfig("late", params={p.name: p.default + 8}), None).id for p in cls.parameters}
    assert base not in ids and len(ids) == len(cls.parameters)
    assert cls(ScorerConfig("late", tiny_cross_encoder), None).id != base   # another model, another id
