"""Documents cut to what a model reads, before its tokenizer sees them, and a log of who was cut.

A transformer reads at most ``max_tokens`` tokens of a document; the rest is cut. A tokenizer
handed the whole text first tokenizes all of it (a 24 MB document is millions of tokens: tens of
seconds and gigabytes for nothing), so text is cut in characters first, at ``CHARS_PER_TOKEN``
characters per token (real text averages 4 to 6 per token in the tokenizers here), then in tokens
by the tokenizer. Each step records which documents it cut (:class:`Cuts`), and the scoring
report says how many per step (:attr:`cascade_core.scoring.ensure.ScoringReport.truncated`).

>>> clip_chars("abcdefghij" * 3, max_tokens=2)
'abcdefghijabcdefghij'
>>> cuts = Cuts(); cuts.add(["d1", "d2"], 256); cuts.add(["d1"], 256); cuts.describe()
'2 documents cut to 256 tokens'
"""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

from .batching import token_lengths

CHARS_PER_TOKEN = 10   # characters kept per token a model reads: a cut in characters never bites first


def char_limit(max_tokens: int) -> int:
    """The characters of a document kept for a model that reads ``max_tokens`` tokens."""
    return max(1, int(max_tokens)) * CHARS_PER_TOKEN


def clip_chars(text: str, max_tokens: int) -> str:
    """``text`` cut to :func:`char_limit` characters (unchanged if shorter)."""
    limit = char_limit(max_tokens)
    return text if len(text) <= limit else text[:limit]


def clip(text: str, limit: int) -> str:
    """``text`` with its whitespace collapsed, cut to ``limit`` characters, at a word boundary when
    there is one nearby.

    >>> clip("one two three", 9)
    'one two'
    """
    return clipped(text, limit)[0]


def clipped(text: str, limit: int) -> tuple[str, bool]:
    """:func:`clip`'s text and whether it cut anything. Only a window of the text a little longer
    than what is kept is ever split into words: a huge document costs what a short one does.

    >>> clipped("one   two three", 9), clipped("a " * 5_000_000, 3)
    (('one two', True), ('a a', True))
    """
    window = 2 * limit + 16
    while True:
        collapsed = " ".join(text[:window].split())
        if len(collapsed) > limit or window >= len(text):
            break
        window *= 4
    if len(collapsed) <= limit:
        return collapsed, False
    cut = collapsed[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut), True


def clipped_docs(corpus, doc_ids: Sequence[str], limit: int, cuts: "Cuts") -> list[str]:
    """The documents' texts, whitespace collapsed and cut to ``limit`` characters (:func:`clipped`),
    each one cut recorded in ``cuts``: what a step that sends text (a prompt, a server) reads."""
    out = []
    for d in doc_ids:
        text, cut = clipped(corpus.text_of(d), limit)
        out.append(text)
        if cut:
            cuts.add([d], f"{limit} characters")
    return out


def clip_for_model(tokenizer, texts: Sequence[str], max_tokens: int, extra_tokens: Sequence[int] | int = 0
                   ) -> tuple[list[str], list[int], list[bool]]:
    """Texts cut in characters, their lengths in tokens (special tokens included, before the
    tokenizer's own cut) and whether each is cut: longer in characters, or in tokens (plus
    ``extra_tokens``: a query sharing the window) than ``max_tokens``.

    The tokenizer only ever sees the character-cut texts, so a huge document costs what a normal
    one does.
    """
    clipped = [clip_chars(t, max_tokens) for t in texts]
    lengths = token_lengths(tokenizer, clipped)
    extras = [extra_tokens] * len(texts) if isinstance(extra_tokens, int) else list(extra_tokens)
    cut = [len(c) < len(t) or n + e > max_tokens for t, c, n, e in zip(texts, clipped, lengths, extras)]
    return clipped, lengths, cut


class Cuts:
    """The documents one step cut to its model's limit (thread-safe; cleared per scoring run)."""

    def __init__(self):
        self.docs: set[str] = set()
        self.limit: str | None = None
        self._lock = threading.Lock()

    def add(self, doc_ids: Iterable[str], limit: int | str, unit: str = "tokens") -> None:
        with self._lock:
            self.docs.update(doc_ids)
            self.limit = f"{limit} {unit}" if isinstance(limit, int) else str(limit)

    def clear(self) -> None:
        with self._lock:
            self.docs.clear()

    def __len__(self) -> int:
        return len(self.docs)

    def describe(self) -> str:
        n = len(self.docs)
        return f"{n} document{'s' if n != 1 else ''} cut to {self.limit}"
