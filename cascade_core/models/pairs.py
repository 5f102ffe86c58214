"""(query, document) pairs scored by a loaded cross-encoder: one function for the ``cross-encoder``
kind and for ``cascade serve-model``, so a served model answers exactly what the stage stores.

Documents are cut in characters before the tokenizer sees them (:mod:`.truncation`), those that
do not fit the model's window beside the query are reported as cut, and pairs are sorted by
length before batching so a batch wastes little padding; scores come back in the order given.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .truncation import clip_chars, clip_for_model


def score_pairs(encoder, query: str, texts: Sequence[str], max_length: int, batch_size: int
                ) -> tuple[np.ndarray, list[bool]]:
    """Raw scores of ``query`` against each of ``texts`` (in their order), and which text was cut."""
    if not len(texts):
        return np.zeros(0), []
    limit = int(getattr(encoder, "max_seq_length", None) or max_length)
    tokenizer = encoder.tokenizer
    query_tokens = len(tokenizer(clip_chars(query, limit), add_special_tokens=False, verbose=False)["input_ids"])
    # the pair's tokens: [CLS] query [SEP] document [SEP] (the document's own count has 2 of them)
    clipped, _, cut = clip_for_model(tokenizer, list(texts), limit, extra_tokens=query_tokens + 1)
    order = np.argsort([len(t) for t in clipped], kind="stable")
    pairs = [(query, clipped[i]) for i in order]
    sorted_scores = encoder.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    out = np.empty(len(texts), dtype=float)
    out[order] = np.asarray(sorted_scores, dtype=float).reshape(-1)
    return out, cut
