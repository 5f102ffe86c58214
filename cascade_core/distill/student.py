"""The student: a small cross-encoder started from the packaged MiniLM weights, and its folder.

``init_student`` builds a ``BertForSequenceClassification`` (one output, a fresh head) from the
weights of all-MiniLM-L6-v2 (a bi-encoder: its encoder knows English and relevance, the
head learns to read a (query, document) pair), optionally cut to its first ``layers`` layers:
half the layers, half the cost per pair, in training and when it reranks. ``save_student``
writes a plain Hugging Face folder, which ``sentence_transformers.CrossEncoder(path)`` (and so
``cross:PATH`` in a cascade) loads as it is.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

from ..models import resolve_model
from ..models.resolve import MINILM

BASE_MODEL = MINILM


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load report (a table of the fresh head's missing weights, which
    is what a fresh head is, not a problem) while a student is built or loaded."""
    from transformers.utils import logging

    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def init_student(base: str = BASE_MODEL, layers: int | None = None, seed: int = 0):
    """``(model, tokenizer)``: ``base``'s encoder with a fresh one-output head, its first
    ``layers`` layers only (None: all). Same seed, same head."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    location = resolve_model(base).location
    torch.manual_seed(seed)
    with quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(location, num_labels=1)
    # The bi-encoder's sentence vector is a mean over tokens: its pooler (a dense layer over the
    # [CLS] state) was never trained, and its small random weights give the head almost nothing
    # to read. Start it as the identity: the head reads the [CLS] state itself.
    with torch.no_grad():
        model.bert.pooler.dense.weight.copy_(torch.eye(model.config.hidden_size))
        model.bert.pooler.dense.bias.zero_()
    if layers is not None and layers < model.config.num_hidden_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    return model, AutoTokenizer.from_pretrained(location)


def save_student(model, tokenizer, folder: Path, positions: int | None = None) -> None:
    """Write a ``CrossEncoder``-loadable folder (config, weights, tokenizer).

    ``positions`` cuts the position table: the saved student reads at most that many tokens
    per pair wherever it is used (``cross:PATH`` asks for 512 by default; the loader keeps to
    the model's own limit), so its cost per pair is what was measured for it. Tokens within the
    limit are scored exactly as before the cut.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(model.config)
    config.id2label, config.label2id = {0: "relevance"}, {"relevance": 0}
    state = model.state_dict()
    key = "bert.embeddings.position_embeddings.weight"
    if positions is not None and positions < state[key].shape[0]:
        state[key] = state[key][:positions].clone()
        config.max_position_embeddings = positions
    saved_config, model.config = model.config, config
    try:
        with quiet_transformers():
            model.save_pretrained(folder, state_dict=state, safe_serialization=True)
    finally:
        model.config = saved_config
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(folder)
