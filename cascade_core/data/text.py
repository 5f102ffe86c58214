"""Tokenisation for lexical scoring (BM25).

Choices, and why (they matter more than the BM25 formula itself):

* lower-case, split on runs of letters and digits (``\\w+``): punctuation never glues terms;
* drop English stopwords (NLTK's list): they carry no signal and dominate the document length;
* Snowball (Porter 2) English stemming via PyStemmer: "cells" and "cell" match. On SciFact this is
  worth several points of nDCG@10 over whitespace tokens.

>>> Tokenizer().tokenize("The cells were dividing rapidly, weren't they?")
['cell', 'divid', 'rapid']
"""

from __future__ import annotations

import re
from functools import lru_cache

# NLTK's English stopword list (179 words).
ENGLISH_STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their
theirs themselves what which who whom this that that'll these those am is are was were be been
being have has had having do does did doing a an the and but if or because as until while of at
by for with about against between into through during before after above below to from up down
in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don
don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn
doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn
needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split())

_TOKEN = re.compile(r"\w+")


class Tokenizer:
    """Lower-case, split, drop stopwords, stem. Settings are part of the BM25 scorer's id."""

    def __init__(self, stem: bool = True, stopwords: bool = True):
        self.stem = stem
        self.stopwords = stopwords
        self._stemmer = _snowball() if stem else None

    @property
    def signature(self) -> str:
        return f"stem={'snowball-en' if self.stem else 'none'},stop={'nltk-en' if self.stopwords else 'none'}"

    def tokenize(self, text: str) -> list[str]:
        tokens = _TOKEN.findall(text.lower())
        if self.stopwords:
            # "weren't" splits into "weren" and "t": both are in the list.
            tokens = [t for t in tokens if t not in ENGLISH_STOPWORDS]
        if self._stemmer is not None:
            tokens = self._stemmer.stemWords(tokens)
        return tokens

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def _snowball():
    """PyStemmer's English Snowball stemmer, imported when a tokenizer first stems (so specs and the
    simulation import without it)."""
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=8)
def get_tokenizer(stem: bool = True, stopwords: bool = True) -> Tokenizer:
    return Tokenizer(stem=stem, stopwords=stopwords)
