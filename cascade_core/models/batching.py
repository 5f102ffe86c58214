"""Batching for the transformer kinds: texts longest first, in batches of a token budget.

A batch pads every text to its longest, so sorting by length wastes little padding, and a budget
of tokens per call (rather than texts per call) keeps the activations bounded whatever the lengths.
Shared by the kinds that encode documents themselves (sparse, late).

>>> [b.tolist() for b in length_sorted_batches([3, 10, 5, 10], max_tokens=8, token_budget=16)]
[[1, 3], [2, 0]]
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


def token_lengths(tokenizer, texts: Sequence[str]) -> list[int]:
    """Each text's length in tokens, special tokens included, before any truncation."""
    if not len(texts):
        return []
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [len(x) for x in ids]


def length_sorted_batches(lengths: Sequence[int], max_tokens: int, token_budget: int) -> Iterator[np.ndarray]:
    """Indices into ``lengths`` in batches, longest first; a batch holds about ``token_budget``
    tokens once each text is cut at ``max_tokens`` (at least one text per batch)."""
    order = np.argsort([-min(n, max_tokens) for n in lengths], kind="stable")
    i = 0
    while i < len(order):
        width = max(1, min(lengths[order[i]], max_tokens))
        batch = order[i:i + max(1, token_budget // width)]
        i += len(batch)
        yield batch
