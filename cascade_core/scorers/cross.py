"""Cross-encoders: ``sentence_transformers.CrossEncoder`` with any hub id or local folder.

Scores are raw logits (no sigmoid): the ranking is the same, thresholds would not be. Pairs are
sorted by length before batching so that a batch wastes little padding. Documents are cut in
characters before the tokenizer sees them (:mod:`cascade_core.models.truncation`), and those that do
not fit ``max_length`` tokens with the query are counted as cut (:attr:`cuts`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SpecError
from ..models import load_cross_encoder, resolve_model
from ..models.pairs import score_pairs
from ..params import Param
from .base import Scorer, ScorerConfig, ScorerContext, register


@register("cross-encoder", "cross", "ce")
class CrossEncoderScorer(Scorer):
    label = "cross-encoder (query-document pairs)"
    parameters = (Param("max_length", "int", 512, low=1, help="tokens per (query, document) pair; longer is cut"),
                  Param("batch_size", "int", 32, low=1, help="pairs per model call (speed only)", cache=False))
    cost_shape = "per-pair"
    uses_device, half_on_gpu = True, True

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        if not config.model:
            raise SpecError("a cross-encoder stage needs a model: a hub id "
                            "(e.g. cross-encoder/ms-marco-MiniLM-L-6-v2) or a local folder")
        self.model = resolve_model(config.model)
        params = self.parse_params(config.params)
        self.max_length, self.batch_size = params["max_length"], params["batch_size"]
        self._encoder = None

    def load_model(self) -> None:
        self.encoder  # noqa: B018 - loads and caches it

    def resolved_models(self) -> list:
        return [self.model]

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_cross_encoder(self.model, self.max_length, self.device)
        return self._encoder

    def prepare(self, doc_ids, progress=None) -> None:
        self.encoder  # noqa: B018 - load outside the timed section

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        scores, cut = score_pairs(self.encoder, query, [self.corpus.text_of(d) for d in doc_ids],
                                  self.max_length, self.batch_size)
        limit = int(getattr(self.encoder, "max_seq_length", None) or self.max_length)
        self.cuts.add([d for d, c in zip(doc_ids, cut) if c], limit)
        return scores
