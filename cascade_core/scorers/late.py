"""Late interaction (ColBERT's MaxSim): a rerank stage over per-token embeddings.

A query and a document are each encoded into one L2-normalised vector per token. The score is
the sum, over the query's tokens, of the best cosine similarity with any of the document's
tokens: ``sum_i max_j <q_i, d_j>``. It is pointwise (a document's score does not depend on the
other candidates), so "score once, cut anywhere" is exact.

Models, any of three formats:

* **the offline default, a stand-in**: the packaged all-MiniLM-L6-v2's token embeddings (the
  output of its transformer before pooling; SentenceTransformer's ``token_embeddings``). It was
  trained to be mean-pooled, not for MaxSim: a real late-interaction stage for its cost and
  plumbing, not ColBERT's quality;
* **a PyLate folder or hub id** (``lightonai/GTE-ModernColBERT-v1``, ...): the transformer, then
  its ``Dense`` projection(s), with its query/document prefix tokens and query expansion
  (queries padded with ``[MASK]`` to ``query_max_length``), punctuation skipped in documents;
* **a plain Hugging Face ColBERT checkpoint** (``colbert-ir/colbertv2.0``): the last hidden
  states, projected by the checkpoint's ``linear.weight`` when it ships one, with the
  ``[unused0]``/``[unused1]`` markers of Stanford's ColBERT.

Document token vectors are computed in ``prepare`` (outside the timed section, as a ColBERT
index stores them) and kept in memory per process; a query pays its own encoding and the MaxSim
products: the "per-query" cost shape. They are kept in float32 (float16 halves the memory but
converting back cost more per query than the products: ~13 ms for 100 candidates here), about
1.5 KB per token for the 384-d stand-in: ~0.7 GB for the 1,813 documents of the sample at 256
tokens. They are not stored on disk: a new process encodes its candidates again.

>>> LateInteractionScorer.parse_params({})
{'max_length': 256, 'query_max_length': 32}
>>> LateInteractionScorer(ScorerConfig("late"), None).id
'late:all-MiniLM-L6-v2:max_length=256,query_max_length=32'
>>> q = np.array([[1.0, 0.0], [0.0, 1.0]]); d = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])
>>> maxsim(q, d, np.array([0, 2])).round(3)    # doc 1: tokens 0-1, doc 2: tokens 2-3
array([1.8, 2. ])
"""

from __future__ import annotations

import string
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..models import ResolvedModel, load_model
from ..models.batching import length_sorted_batches, token_lengths
from ..models.resolve import MINILM
from ..models.truncation import clip_chars, clip_for_model
from ..params import Param
from ..progress import ProgressTracker
from ..readback import Unreadable, read_json
from .base import Scorer, ScorerConfig, ScorerContext, register

DEFAULT_LATE = MINILM   # a stand-in: trained for mean pooling, not MaxSim
TOKEN_BUDGET = 8192    # tokens per model call when encoding documents
PARAMS = (
    Param("max_length", "int", 256, low=8, help="document tokens encoded; longer documents are cut"),
    Param("query_max_length", "int", 32, low=4, help="query tokens encoded (ColBERT checkpoints pad "
          "queries to this length with [MASK]: keep the length they were trained with, usually 32)"),
)

_lock = threading.RLock()


def maxsim(query: np.ndarray, doc_tokens: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """MaxSim of one query against documents stacked token-wise.

    ``query`` is ``[query tokens, dim]``, ``doc_tokens`` every document's tokens one after the
    other ``[all tokens, dim]``, ``starts`` the first row of each document. One matrix product
    for all documents, then the best row per document and query token, summed over the query.
    """
    if not len(starts):
        return np.zeros(0)
    sims = doc_tokens.astype(np.float32, copy=False) @ query.astype(np.float32, copy=False).T
    best = np.maximum.reduceat(sims, starts, axis=0)        # [documents, query tokens]
    return best.sum(axis=1).astype(float)


# -- the encoder ---------------------------------------------------------------------------------

class TokenEncoder:
    """Texts -> one L2-normalised vector per token, for the three model formats above."""

    def __init__(self, location: str, local_files_only: bool = False, device: str = "cpu"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        folder = _local_folder(location, local_files_only)
        modules = _read_json(folder / "modules.json") or []
        types = [str(m.get("type", "")) for m in modules]
        transformer = next((m for m in modules if str(m.get("type", "")).endswith("Transformer")), None)
        self.body = folder / (transformer.get("path", "") if transformer else "")
        st_config = _read_json(folder / "config_sentence_transformers.json") or {}
        hf_config = _read_json(self.body / "config.json") or {}
        stanford = "HF_ColBERT" in (hf_config.get("architectures") or [])
        pylate = any("pylate" in t.lower() for t in types) or "query_prefix" in st_config

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.body), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.body), local_files_only=True).eval()
        # Projections: a PyLate folder's Dense modules (those before any pooling: they act on
        # tokens), else the checkpoint's own ``linear.weight`` (Stanford's ColBERT).
        self.projections = []
        for m in modules[1:]:
            if str(m.get("type", "")).endswith("Pooling"):
                break
            if str(m.get("type", "")).endswith("Dense"):
                self.projections.append(_dense_layer(folder / m.get("path", "")))
        if not self.projections and not modules:
            weight = _checkpoint_tensor(self.body, "linear.weight")
            if weight is not None:
                self.projections.append((weight, None))
        self.colbert = pylate or stanford or bool(self.projections)
        if pylate:
            self.query_prefix = st_config.get("query_prefix", "[Q] ")
            self.document_prefix = st_config.get("document_prefix", "[D] ")
            self.expand_queries = bool(st_config.get("do_query_expansion", True))
            self.attend_expansion = bool(st_config.get("attend_to_expansion_tokens", False))
        elif self.colbert:
            meta = _read_json(self.body / "artifact.metadata") or {}
            self.query_prefix = meta.get("query_token_id", "[unused0]")
            self.document_prefix = meta.get("doc_token_id", "[unused1]")
            self.expand_queries = True
            self.attend_expansion = bool(meta.get("attend_to_mask_tokens", False))
        else:   # the stand-in: a bi-encoder's token embeddings, exactly as it computes them
            self.query_prefix = self.document_prefix = ""
            self.expand_queries = self.attend_expansion = False
        self.query_prefix_id = self._token_id(self.query_prefix)
        self.document_prefix_id = self._token_id(self.document_prefix)
        # ColBERT checkpoints skip punctuation in documents (trained so); the stand-in keeps all.
        self.skiplist = ({self._token_id(c) for c in string.punctuation} - {None}) if self.colbert else set()
        self.limit = int(min(getattr(self.tokenizer, "model_max_length", 512) or 512,
                             getattr(self.model.config, "max_position_embeddings", 512) or 512))
        self.device = device
        self.model.to(device)
        self.projections = [(w.to(device), None if b is None else b.to(device)) for w, b in self.projections]
        self._torch = torch

    def _token_id(self, token: str):
        if not token:
            return None
        tid = self.tokenizer.convert_tokens_to_ids(token)
        return None if tid is None or tid == self.tokenizer.unk_token_id else tid

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return token_lengths(self.tokenizer, texts)

    def encode(self, texts: Sequence[str], max_length: int, is_query: bool,
               lengths: Sequence[int] | None = None) -> list[np.ndarray]:
        """Each text's token vectors ``[tokens, dim]`` (float32, unit length), in input order."""
        torch = self._torch
        max_length = min(int(max_length), self.limit)
        if not len(texts):
            return []
        prefix = self.query_prefix_id if is_query else self.document_prefix_id
        room = max_length - (prefix is not None)   # the prefix token takes one place, as in PyLate
        texts = [clip_chars(t, max_length) for t in texts]   # the tokenizer never sees more than it keeps
        lengths = list(lengths) if lengths is not None else self.token_lengths(texts)
        out: list = [None] * len(texts)
        for batch in length_sorted_batches(lengths, room, TOKEN_BUDGET):
            enc = self.tokenizer([texts[j] for j in batch], truncation=True, max_length=room,
                                 padding=True, return_tensors="pt")
            ids, attention = enc["input_ids"], enc["attention_mask"]
            if prefix is not None:   # after [CLS]
                col = torch.full((ids.shape[0], 1), prefix, dtype=ids.dtype)
                ids = torch.cat([ids[:, :1], col, ids[:, 1:]], dim=1)
                attention = torch.cat([attention[:, :1], torch.ones_like(col), attention[:, 1:]], dim=1)
            keep = attention.bool()
            if is_query and self.expand_queries:
                # Query expansion: pad with [MASK] to the full length; every position is kept.
                pad = max_length - ids.shape[1]
                if pad > 0:
                    ids = torch.cat([ids, torch.zeros((ids.shape[0], pad), dtype=ids.dtype)], dim=1)
                    attention = torch.cat([attention, torch.zeros((ids.shape[0], pad), dtype=attention.dtype)], dim=1)
                ids = ids.masked_fill(attention == 0, self.tokenizer.mask_token_id)
                keep = torch.ones_like(ids, dtype=torch.bool)
                if self.attend_expansion:
                    attention = torch.ones_like(attention)
            elif not is_query and self.skiplist:
                keep = keep & ~torch.isin(ids, torch.tensor(sorted(self.skiplist), dtype=ids.dtype))
            with torch.inference_mode():
                ids, attention = ids.to(self.device), attention.to(self.device)
                hidden = self.model(input_ids=ids, attention_mask=attention).last_hidden_state
                for weight, bias in self.projections:
                    hidden = torch.nn.functional.linear(hidden, weight, bias)
                hidden = torch.nn.functional.normalize(hidden, p=2, dim=-1)
            for j, h, k in zip(batch, hidden, keep):
                out[j] = h[k.to(h.device)].cpu().numpy().astype(np.float32)
        return out


def load_token_encoder(model: ResolvedModel, device: str = "cpu") -> TokenEncoder:
    """A :class:`TokenEncoder` on ``device``, loaded once per process (clear error when it cannot load)."""
    return load_model("late", model, lambda loc, local_files_only, device: TokenEncoder(loc, local_files_only, device),
                      device=device)


def _local_folder(location: str, local_files_only: bool) -> Path:
    """A model's folder: itself, or a hub id's snapshot (downloaded unless ``local_files_only``)."""
    path = Path(location)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(location, local_files_only=local_files_only,
                                  ignore_patterns=["*.onnx", "onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot"]))


def _read_json(path: Path):
    try:
        return read_json(path)
    except Unreadable:
        return None


def _checkpoint_tensor(folder: Path, name: str):
    """Tensor ``name`` of a checkpoint folder's weights (safetensors or pytorch_model.bin), or None."""
    import torch

    if (folder / "model.safetensors").exists():
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="pt", device="cpu") as f:
            return f.get_tensor(name) if name in f.keys() else None
    if (folder / "pytorch_model.bin").exists():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True).get(name)
    return None


def _dense_layer(folder: Path):
    """(weight, bias) of a sentence-transformers/PyLate ``Dense`` module folder (identity activation)."""
    config = _read_json(folder / "config.json") or {}
    activation = str(config.get("activation_function", "torch.nn.modules.linear.Identity"))
    if not activation.endswith("Identity"):
        raise ValueError(f"{folder.name}: activation {activation} is not supported (only Identity)")
    weight = _checkpoint_tensor(folder, "linear.weight")
    if weight is None:
        raise ValueError(f"{folder.name} holds no linear.weight")
    return weight, _checkpoint_tensor(folder, "linear.bias")


# -- the kind ------------------------------------------------------------------------------------

@register("late", "colbert")
class LateInteractionScorer(Scorer):
    """Sum over query tokens of the best cosine with any document token (ColBERT's MaxSim)."""

    label = "late interaction (ColBERT MaxSim)"
    default_model = DEFAULT_LATE
    default_model_note = ("Stand-in: MiniLM's token embeddings were trained for mean pooling, not "
                          "MaxSim. Its cost is a late-interaction stage's; for ColBERT's quality give a "
                          "ColBERT model (a PyLate folder, or e.g. colbert-ir/colbertv2.0 when online).")
    parameters = PARAMS
    cost_shape = "per-query"   # documents' token vectors are computed in prepare and kept
    uses_device = True

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        params = self.parse_params(config.params)
        self.max_length, self.query_max_length = params["max_length"], params["query_max_length"]

    @property
    def encoder(self) -> TokenEncoder:
        return load_token_encoder(self.resolved_model, self.device)

    def load_model(self) -> None:
        self.encoder  # noqa: B018 - loads and caches it

    def resolved_models(self) -> list:
        return [self.resolved_model]

    @property
    def _vectors(self) -> dict:
        """Document id -> token vectors, shared by every stage on this model and length."""
        key = ("late-vectors", self.ctx.corpus.fingerprint, self.resolved_model.key, self.max_length)
        with _lock:
            return self.ctx.workspace.shared_objects.setdefault(key, {})

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        self.load_model()
        self._encode_missing(doc_ids, progress)

    def _encode_missing(self, doc_ids: Sequence[str], progress=None) -> None:
        cache = self._vectors
        missing = [d for d in dict.fromkeys(doc_ids) if d not in cache]
        if not missing:
            return
        # Longest first across chunks too: documents of similar length share a batch.
        missing.sort(key=lambda d: -len(self.corpus.text_of(d)))
        encoder = self.encoder
        tracker = ProgressTracker(f"token vectors ({self.resolved_model.name})", len(missing), progress, "docs")
        limit = min(int(self.max_length), encoder.limit)
        prefix = int(encoder.document_prefix_id is not None)
        for lo in range(0, len(missing), 256):
            chunk = missing[lo:lo + 256]
            texts, lengths, cut = clip_for_model(encoder.tokenizer, [self.corpus.text_of(d) for d in chunk],
                                                 limit, extra_tokens=prefix)
            self.cuts.add([d for d, c in zip(chunk, cut) if c], limit)
            vecs = encoder.encode(texts, self.max_length, is_query=False, lengths=lengths)
            with _lock:
                cache.update(zip(chunk, vecs))
            tracker.advance(len(chunk))

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        if not len(doc_ids):
            return np.zeros(0)
        self._encode_missing(doc_ids)   # a live query's candidates not seen yet
        q = self.encoder.encode([query], self.query_max_length, is_query=True)[0]
        cache = self._vectors
        docs = [cache[d] for d in doc_ids]
        starts = np.cumsum([0] + [len(d) for d in docs[:-1]])
        return maxsim(q, np.concatenate(docs), starts)
