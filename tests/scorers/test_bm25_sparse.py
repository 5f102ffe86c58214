"""The sparse-matrix BM25 gives rank-bm25's BM25Okapi scores (the project's k1, b, epsilon and
tokenisation) on the whole of SciFact: every test query, whole corpus and candidate subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from cascade_core.data.text import get_tokenizer
from cascade_core.scorers.bm25 import DEFAULTS, BM25Index, SparseBM25

from ..conftest import SHARED_DATA

SCIFACT = SHARED_DATA / "scifact"


@pytest.fixture(scope="module")
def scifact_tokens():
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip("SciFact is not in ../shared/data")
    tok = get_tokenizer(DEFAULTS["stem"], DEFAULTS["stopwords"])
    docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
    tokens = tok.tokenize_many([(d.get("title", "") + " " + d.get("text", "")).strip() for d in docs])
    test = {line.split()[0] for line in list((SCIFACT / "qrels" / "test.tsv").open())[1:]}
    queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open(encoding="utf-8")
               if json.loads(line)["_id"] in test]
    return tokens, [tok.tokenize(q) for q in queries]


def test_sparse_scores_equal_rank_bm25_on_scifact(scifact_tokens):
    tokens, queries = scifact_tokens
    params = dict(k1=DEFAULTS["k1"], b=DEFAULTS["b"], epsilon=DEFAULTS["epsilon"])
    ref, ours = BM25Okapi(tokens, **params), SparseBM25(tokens, **params)
    assert len(queries) == 300
    assert ours.idf == ref.idf and ours.avgdl == ref.avgdl
    rng = np.random.default_rng(0)
    worst = 0.0
    for q in queries + [["notawordinscifact"], [], queries[0] + queries[0]]:
        a, b = ref.get_scores(q), ours.get_scores(q)
        worst = max(worst, float(np.abs(a - b).max()))
        assert list(np.argsort(-a, kind="stable")[:100]) == list(np.argsort(-b, kind="stable")[:100])
        subset = rng.choice(len(tokens), 100, replace=False).tolist()
        assert np.abs(np.array(ref.get_batch_scores(q, subset)) - ours.get_batch_scores(q, subset)).max() <= 1e-6
    assert worst <= 1e-6


def test_bm25_index_uses_the_sparse_matrix(tiny_dataset):
    index = BM25Index(tiny_dataset.corpus, **DEFAULTS)
    assert isinstance(index.model, SparseBM25)
    query = tiny_dataset.queries.text_of(tiny_dataset.queries.ids[0])
    ref = BM25Okapi(index.tokenizer.tokenize_many([d.full_text for d in tiny_dataset.corpus]),
                    k1=DEFAULTS["k1"], b=DEFAULTS["b"], epsilon=DEFAULTS["epsilon"])
    assert np.allclose(index.scores_all(query), ref.get_scores(index.tokenizer.tokenize(query)), atol=1e-9)
    some = index.doc_ids[:7]
    assert np.allclose(index.scores_of(query, some), index.scores_all(query)[:7], atol=1e-9)
