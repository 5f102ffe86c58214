"""LLM rerankers: a relevance judgement per pair (pointwise) or windows reordered (listwise).

One kind, ``llm``, two modes and two back ends.

Modes:

* **pointwise**: the prompt asks whether the document is relevant to the query and the model's
  next token is read: the score is ``P(yes) / (P(yes) + P(no))`` (every casing and leading
  space of the two words counts). Pointwise, so it is cached and simulated like any scorer.
* **listwise** (RankGPT / RankLLM): the model reorders a window of ``window`` candidates, given
  as ``[1] ... [n]`` and answered as ``[3] > [1] > [2]``; the window slides from the bottom of
  the list to the top by ``stride``, so good documents bubble up. The document at final
  position ``i`` (0-based) of ``n`` scores ``n - i``. Its scores depend on the list it received:
  they are stored per list and a cut-off change upstream marks the simulation approximate
  (:mod:`cascade_core.cascade.listwise`).

Back ends (``backend: auto`` picks ``http`` when a ``base_url`` is given, else ``local``):

* **local**: a causal LM run here through transformers. The default, ``gemma-3-270m`` (the
  packaged Q4_K_M GGUF of Gemma 3 270M *base*, joined from its PyPI chunks), loads with no
  network in about 80 s the first time (reading a GGUF converts it in Python; the conversion is
  kept, see :func:`keep_converted`) and in seconds after that, and scores about 1 s a pair on 2 cores (abstracts cut to 800
  characters): real plumbing and cost, and a near-random judge (on 50 SciFact queries, BM25@30 ->
  llm@10 has nDCG@10 0.16 against BM25's 0.79). Any causal LM folder, a folder holding one
  ``.gguf`` file, or a hub id works too.
* **http**: any OpenAI-compatible server: Ollama (``http://localhost:11434/v1``), llama.cpp's
  ``llama-server`` (``http://localhost:8080/v1``), vLLM (``http://localhost:8000/v1``), OpenAI.
  The model is the server's name for it; the API key is read from the environment variable
  named by ``api_key_env`` (never stored). Pointwise asks for one token with ``logprobs``; a
  server that returns none is scored from the answer's text (yes 1, no 0), with a warning.
  Requests time out after ``timeout_s``, are retried ``retries`` times (connection errors,
  timeouts, 429 and 5xx), at most ``concurrency`` at once per server; when all tries fail the
  error is one line naming the step, the server and what to check.

>>> LLMScorer.parse_params({"mode": "listwise"})["window"]
20
>>> LLMScorer(ScorerConfig("llm"), None).id
'llm:gemma-3-270m:max_doc_chars=800,mode=pointwise,prompt=1'
>>> LLMScorer(ScorerConfig("llm", "llama3.2", {"base_url": "http://localhost:11434/v1",
...                                             "mode": "listwise"}), None).id
'llm:llama3.2@http://localhost:11434/v1:api=chat,max_doc_chars=800,mode=listwise,prompt=1,stride=10,window=20'
>>> parse_permutation("[2] > [3] > [2] > [9] > [1]", 4)   # a repeat and an unknown id dropped; [4] missing
[1, 2, 0, 3]
>>> sliding_windows(25, window=10, stride=5)   # bottom up; the last window reaches the top
[(15, 25), (10, 20), (5, 15), (0, 10)]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ModelError, ServiceError, SpecError
from ..models import ResolvedModel, load_model, resolve_model
from ..models.resolve import cache_folder, folder_key
from ..models.truncation import clipped_docs
from ..params import Param
from ..remote.client import JsonService
from .base import Scorer, ScorerConfig, ScorerContext, params_signature, register

try:   # one GGUF conversion at a time between processes (absent on Windows)
    import fcntl
except ImportError:   # pragma: no cover - Windows: no lock, each process converts
    fcntl = None

DEFAULT_LLM = "gemma-3-270m"
DEFAULT_API_KEY_ENV = "CASCADE_LLM_API_KEY"   # the variable a server's key is read from (a shared dashboard: only it)
PROMPT_VERSION = 1    # in the id: a change of the prompts below must not reuse old scores
PARAMS = (
    Param("mode", "choice", "pointwise", choices=("pointwise", "listwise"),
          help="pointwise: P(yes) per pair from token probabilities; listwise: RankGPT windows reordered "
               "(scores depend on the list: a cut-off change upstream makes results approximate)"),
    Param("backend", "choice", "auto", choices=("auto", "local", "http"),
          help="local: transformers on this machine; http: an OpenAI-compatible server; auto: http when "
               "base_url is set"),
    Param("base_url", "url", "", help="the server's OpenAI-compatible API, e.g. http://localhost:11434/v1 "
                                       "(Ollama), http://localhost:8080/v1 (llama.cpp), http://localhost:8000/v1 (vLLM)"),
    Param("api_key_env", "secret-env", DEFAULT_API_KEY_ENV,
          help="name of the environment variable holding the server's API key (the key is never stored)"),
    Param("api", "choice", "chat", choices=("chat", "completions"),
          help="http: /chat/completions (instruction-tuned models) or /completions (base models)"),
    Param("window", "int", 20, low=2, help="listwise: candidates the model reorders at once"),
    Param("stride", "int", 10, low=1, help="listwise: how far the window moves up each time (at most window)"),
    Param("max_doc_chars", "int", 800, low=50, help="documents are cut to this many characters in the prompt"),
    Param("timeout_s", "number", 60, low=0, low_open=True, help="http: seconds to wait for one answer"),
    Param("retries", "int", 2, low=0, help="http: tries after the first on connection errors, timeouts, 429, 5xx"),
    Param("concurrency", "int", 4, low=1, help="http: requests in flight at once to the server"),
    Param("batch_size", "int", 8, low=1, help="local pointwise: prompts per forward pass"),
)
# What changes a score (in the id); the rest (timeouts, concurrency, batching) changes only speed.
SCORE_PARAMS = {"pointwise": ("mode", "max_doc_chars"), "listwise": ("mode", "max_doc_chars", "window", "stride")}

YES, NO = ("yes",), ("no",)
SYSTEM_POINTWISE = "You judge whether a document is relevant to a search query. Answer only yes or no."
SYSTEM_LISTWISE = ("You are RankGPT, an intelligent assistant that can rank passages based on their "
                   "relevancy to the query.")


# -- prompts and answers --------------------------------------------------------------------------

def pointwise_prompt(query: str, doc: str) -> str:
    return (f"Query: {query}\nDocument: {doc}\n"
            "Is the document relevant to the query? Answer yes or no.\nAnswer:")


def listwise_prompt(query: str, docs: Sequence[str]) -> str:
    """RankGPT's instruction (as RankLLM words it), the passages ``[1]..[n]``, then the request."""
    passages = "\n".join(f"[{i}] {d}" for i, d in enumerate(docs, start=1))
    n = len(docs)
    return (f"I will provide you with {n} passages, each indicated by a numerical identifier []. "
            f"Rank the passages based on their relevance to the search query: {query}.\n\n{passages}\n\n"
            f"Search Query: {query}.\nRank the {n} passages above based on their relevance to the search "
            "query. All the passages should be included and listed using identifiers, in descending order "
            "of relevance. The output format should be [] > [], e.g., [2] > [1]. Only respond with the "
            "ranking results, do not say any word or explain.")


def answer_word(token: str) -> str:
    """A token or answer as a bare lower-case word: ``" Yes."`` -> ``"yes"``."""
    return token.strip().strip(".,;:!?*\"'`()[]").lower()


def yes_share(top: dict[str, float]) -> float | None:
    """``P(yes) / (P(yes) + P(no))`` from next-token log-probabilities ``{token: logprob}``.

    Every token reading "yes" (or "no") adds up. A word missing from a top-k list has at most the
    smallest probability listed: that bound stands in for it. None when neither word is listed.

    >>> round(yes_share({" Yes": math.log(0.5), "yes": math.log(0.1), " No": math.log(0.2)}), 3)
    0.75
    >>> round(yes_share({"Yes": math.log(0.6), "The": math.log(0.3)}), 3)   # "no" below 0.3
    0.667
    """
    p_yes = sum(math.exp(lp) for t, lp in top.items() if answer_word(t) in YES)
    p_no = sum(math.exp(lp) for t, lp in top.items() if answer_word(t) in NO)
    if not p_yes and not p_no:
        return None
    floor = math.exp(min(top.values()))
    return (p_yes or floor) / ((p_yes or floor) + (p_no or floor))


def parse_permutation(answer: str, n: int) -> list[int]:
    """0-based order of ``n`` passages from an answer like ``[2] > [3] > [1]``.

    Bracketed ids are read when there are any (else every number); ids outside ``1..n`` and
    repeats are dropped; passages the answer leaves out keep their incoming order below the rest.

    >>> parse_permutation("[3] > [1]", 3), parse_permutation("3, 1, 2", 3), parse_permutation("no idea", 2)
    ([2, 0, 1], [2, 0, 1], [0, 1])
    >>> parse_permutation("Passage [2] (from 2019) beats [1]", 2)
    [1, 0]
    """
    found = re.findall(r"\[(\d+)\]", answer) or re.findall(r"\d+", answer)
    order: list[int] = []
    for text in found:
        i = int(text) - 1
        if 0 <= i < n and i not in order:
            order.append(i)
    return order + [i for i in range(n) if i not in order]


def sliding_windows(n: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each window over a list of ``n``, from the bottom up (RankGPT's order).

    Unlike RankGPT's loop, the last window always reaches position 0, whatever ``n``.

    >>> sliding_windows(5, 20, 10), sliding_windows(30, 20, 10)
    ([(0, 5)], [(10, 30), (0, 20)])
    """
    if n <= window:
        return [(0, n)] if n else []
    out, end = [], n
    while True:
        start = max(end - window, 0)
        out.append((start, end))
        if start == 0:
            return out
        end -= stride


def listwise_order(n: int, window: int, stride: int, rank: Callable[[list[int]], list[int]]) -> list[int]:
    """The final order of ``n`` candidates (indices into the incoming list, best first).

    ``rank(chunk)`` reorders one window: it gets the window's candidates (indices, in their
    current order) and returns a permutation of ``range(len(chunk))``, best first.

    >>> listwise_order(4, 2, 1, lambda chunk: sorted(range(len(chunk)), key=lambda i: chunk[i] % 2))
    [0, 2, 1, 3]
    """
    order = list(range(n))
    for start, end in sliding_windows(n, window, stride):
        chunk = order[start:end]
        order[start:end] = [chunk[i] for i in rank(chunk)]
    return order


def scores_from_order(order: Sequence[int]) -> np.ndarray:
    """Scores for the incoming list from a final order: position ``i`` of ``n`` scores ``n - i``.

    >>> scores_from_order([2, 0, 1])
    array([2., 1., 3.])
    """
    n = len(order)
    scores = np.zeros(n)
    scores[list(order)] = np.arange(n, 0, -1, dtype=float)
    return scores


# -- the HTTP back end ----------------------------------------------------------------------------

_server_lock = threading.Lock()
_checked: set[tuple] = set()   # servers (and models) checked and warmed up in this process


class HttpLLM:
    """An OpenAI-compatible server: one JSON POST per judgement or window, through
    :class:`~cascade_core.remote.client.JsonService` (bounded, retried, one-line errors)."""

    def __init__(self, base_url: str, model: str, api_key_env: str, api: str, timeout_s: float,
                 retries: int, concurrency: int):
        self.service = JsonService(base_url, f"llm {model!r}", api_key_env, timeout_s, retries, concurrency,
                                   hints={404: f"check the model name (the server lists its models at "
                                               f"{base_url.rstrip('/')}/models) and that base_url ends where "
                                               "the API starts (usually /v1)"})
        self.base_url = self.service.base_url
        self.model = model
        self.api_key_env = api_key_env
        self.api = api
        self.warned_no_logprobs = False

    @property
    def where(self) -> str:
        return self.service.where

    def request(self, path: str, payload: dict | None, doing: str, up_is_enough: bool = False) -> dict:
        """POST ``payload`` (GET when None) to ``base_url + path``; the JSON answer, or one line."""
        return self.service.request(path, payload, doing, up_is_enough)


    def check(self) -> None:
        """Ask the server for its models once per process: a server that is down fails here,
        with one line, before any scoring (the CLI loads every step's model first)."""
        key = (self.base_url, self.model)
        if key in _checked:
            return
        self.request("/models", None, "checking the server", up_is_enough=True)
        with _server_lock:
            _checked.add(key)

    def _completion(self, prompt: str, system: str, max_tokens: int, logprobs: bool, doing: str) -> dict:
        payload: dict = {"model": self.model, "max_tokens": max_tokens, "temperature": 0}
        if self.api == "chat":
            payload["messages"] = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
            if logprobs:
                payload.update(logprobs=True, top_logprobs=20)
            path = "/chat/completions"
        else:
            payload["prompt"] = f"{system}\n\n{prompt}"
            if logprobs:
                payload["logprobs"] = 20
            path = "/completions"
        answer = self.request(path, payload, doing)
        try:
            choice = answer["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ServiceError(f"{self.where}: {doing} failed: the answer has no choices "
                               f"({json.dumps(answer)[:120]}); is this an OpenAI-compatible API?") from None
        return choice

    def complete(self, prompt: str, system: str, max_tokens: int, doing: str = "a completion") -> str:
        """The answer's text to ``prompt`` (greedy, at most ``max_tokens``): what a caller that
        reads words, not token probabilities, needs (the LLM judge, cascade_core.judgments)."""
        return _choice_text(self._completion(prompt, system, max_tokens, False, doing))

    def judge(self, query: str, doc: str) -> float:
        """P(yes | yes or no) for one pair, from the first answer token's log-probabilities."""
        choice = self._completion(pointwise_prompt(query, doc), SYSTEM_POINTWISE, 1, True,
                                  "a pointwise judgement")
        top = _top_logprobs(choice)
        share = yes_share(top) if top else None
        if share is not None:
            return share
        text = _choice_text(choice)
        if not top and not self.warned_no_logprobs:
            self.warned_no_logprobs = True
            warnings.warn(f"{self.where} returned no logprobs: pointwise scores come from the answer's text "
                          "(yes 1, no 0, else 0.5), so many tie; use a server or model that returns logprobs "
                          "(llama.cpp, vLLM, Ollama 0.12+) for graded scores", stacklevel=2)
        word = answer_word(text.split()[0]) if text.split() else ""
        return 1.0 if word in YES else 0.0 if word in NO else 0.5

    def rank(self, query: str, docs: Sequence[str]) -> list[int]:
        choice = self._completion(listwise_prompt(query, docs), SYSTEM_LISTWISE, 8 * len(docs) + 16, False,
                                  "a listwise ranking")
        return parse_permutation(_choice_text(choice), len(docs))

    def warm_up(self) -> None:
        """One short request: a server may load the model on its first one (seconds, Ollama),
        which must not be timed as the cost of the first query."""
        self._completion("Answer yes.", SYSTEM_POINTWISE, 1, False, "a warm-up request")


def _top_logprobs(choice: dict) -> dict[str, float]:
    """``{token: logprob}`` of the first answer token, from a chat or a completions answer."""
    lp = choice.get("logprobs") if isinstance(choice, dict) else None
    if not isinstance(lp, dict):
        return {}
    try:
        if lp.get("content"):       # chat: content[0].top_logprobs = [{token, logprob}, ...]
            first = lp["content"][0]
            top = {t["token"]: float(t["logprob"]) for t in first.get("top_logprobs") or []}
            top.setdefault(first["token"], float(first["logprob"]))
            return top
        if lp.get("top_logprobs"):  # completions: top_logprobs = [{token: logprob}, ...]
            return {t: float(v) for t, v in lp["top_logprobs"][0].items()}
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return {}
    return {}


def _choice_text(choice: dict) -> str:
    message = choice.get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    return str(text if text is not None else choice.get("text") or "")


# -- the local back end ---------------------------------------------------------------------------

class LocalLM:
    """A causal LM and its tokenizer, loaded once per process (:func:`load_local_lm`)."""

    def __init__(self, location: str, local_files_only: bool = False, device: str = "cpu"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(location)
        ggufs = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
        gguf = ggufs[0] if ggufs and not (folder / "config.json").exists() else None
        # Reading a GGUF file is slow (about 80 s for the packaged Gemma on 2 cores: transformers
        # converts its vocabulary and de-quantises its weights in Python). What it converts to is
        # kept (checked equal first), so the next process loads that in seconds: same tensors,
        # same tokens, same scores.
        converted = converted_folder(gguf) if gguf is not None else None
        # One conversion at a time: a second process waits for the first's and reads it (two
        # converting at once would each pay the 80 s).
        with converting(converted):
            source, extra = location, {}
            if converted is not None:
                if (converted / CONVERTED_MARK).exists():
                    source = str(converted)
                else:
                    extra = {"gguf_file": gguf.name}
            with one_gguf_read() if extra else contextlib.nullcontext():
                self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only, **extra)
                self.model = AutoModelForCausalLM.from_pretrained(source, local_files_only=local_files_only,
                                                                  dtype=torch.float32, **extra).eval()
            self.source = source   # where it was read from (the GGUF folder, or its converted copy)
            if extra:
                keep_converted(self.model, self.tokenizer, converted)
        self.tokenizer.padding_side = "left"   # the next token is read at the last position of every row
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.yes_ids = self._word_ids(YES[0])
        self.no_ids = self._word_ids(NO[0])
        if not self.yes_ids or not self.no_ids:
            raise ValueError("its vocabulary has no single token for 'yes' or 'no'")
        self.lock = threading.Lock()   # one forward at a time: torch already uses every core
        self.device = device
        self.model.to(device)
        self._torch = torch

    def _word_ids(self, word: str) -> list[int]:
        """Token ids that spell ``word`` alone, in any casing, with or without a leading space."""
        ids = set()
        for form in {word, word.capitalize(), word.upper()}:
            for text in (form, " " + form):
                tokens = self.tokenizer.encode(text, add_special_tokens=False)
                if len(tokens) == 1:
                    ids.add(tokens[0])
        return sorted(ids)

    def judge(self, prompts: Sequence[str], batch_size: int) -> np.ndarray:
        """P(yes | yes or no) as the next token after each prompt; similar lengths batched."""
        torch = self._torch
        lengths = [len(p) for p in prompts]
        order = np.argsort(lengths, kind="stable")
        out = np.zeros(len(prompts))
        for lo in range(0, len(order), batch_size):
            rows = order[lo:lo + batch_size]
            enc = self.tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True)
            # Left padding shifts positions; give each row positions from its first real token,
            # so a prompt scores the same alone or in a batch.
            positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0).to(self.device)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with self.lock, torch.inference_mode():
                # logits_to_keep=1: only the last position's logits (Gemma's vocabulary is 262k
                # tokens: all positions' logits would cost more than the model itself)
                logits = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                    position_ids=positions, logits_to_keep=1).logits[:, -1, :].float()
            logp = torch.log_softmax(logits, dim=-1)
            log_yes = torch.logsumexp(logp[:, self.yes_ids], dim=-1)
            log_no = torch.logsumexp(logp[:, self.no_ids], dim=-1)
            out[rows] = torch.sigmoid(log_yes - log_no).cpu().numpy()
        return out

    def generate(self, prompt: str, max_new_tokens: int) -> str:
        torch = self._torch
        enc = {k: v.to(self.device) for k, v in self.tokenizer(prompt, return_tensors="pt").items()}
        with self.lock, torch.inference_mode():
            ids = self.model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                      max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    def rank(self, query: str, docs: Sequence[str]) -> list[int]:
        answer = self.generate(listwise_prompt(query, docs) + "\n\nRanking:", 6 * len(docs) + 8)
        return parse_permutation(answer, len(docs))


CONVERTED_MARK = "converted-from-gguf.json"
CHECK_TEXT = "Is the document relevant to the query? Answer yes or no. 0.5% of cells, IL-6 & TNF-α: yes"


def converted_folder(gguf: Path) -> Path:
    """Where the model converted from the GGUF file ``gguf`` is kept (:func:`cache_folder`),
    named by the file's path, size and modification time: a changed file is converted again.

    >>> converted_folder(Path("/models/gemma/model.gguf")).parent.name
    'converted-gguf'
    """
    try:
        stat = gguf.stat()
        version = f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    except OSError:
        version = str(gguf)
    return cache_folder() / "converted-gguf" / f"{gguf.stem}-{hashlib.sha256(version.encode()).hexdigest()[:16]}"


@contextlib.contextmanager
def one_gguf_read():
    """Read each GGUF file once while transformers converts it: it opens the file three times
    (configuration, tokenizer, weights), and each opening parses the whole header, the packaged
    Gemma's 262k-token vocabulary included: about 30 s each on 2 cores. The reader is read-only (a
    memory map), so the three share one; what is converted is checked tensor by tensor before it
    is kept anyway (:func:`keep_converted`)."""
    import gguf   # the llm extra

    real = gguf.GGUFReader
    readers: dict = {}

    def shared(path, *args, **kwargs):
        key = (str(Path(path).resolve()), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = real(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = shared   # transformers imports it by name at each call: it finds this one
    try:
        yield
    finally:
        gguf.GGUFReader = real


@contextlib.contextmanager
def converting(target: Path | None):
    """Hold the lock on converting to ``target`` between processes (a file beside it), while a
    process reads a GGUF file and keeps its conversion; nothing for a model that needs none, or
    where there is no ``fcntl`` (Windows) or the cache cannot be written."""
    if target is None or fcntl is None:
        yield
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target.with_name(f".{target.name}.converting"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the lock


def keep_converted(model, tokenizer, target: Path) -> bool:
    """Save what a GGUF file was converted to in ``target``, after reading it back and finding it
    equal (every tensor, and the tokens of :data:`CHECK_TEXT`); True when kept.

    Written in a folder of this process and renamed into place whole, the mark last: a process
    that finds the mark finds everything. Only a cache: a full disk, a second process saving at
    once or a difference found costs the next load its speed, nothing else.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _save_dequantised(model, tmp)
        tokenizer.save_pretrained(tmp)
        back = AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True, dtype=torch.float32)
        back_tokens = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        ours, theirs = model.state_dict(), back.state_dict()
        same = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours) and \
            tokenizer.encode(CHECK_TEXT) == back_tokens.encode(CHECK_TEXT)
        if not same:
            return False
        (tmp / CONVERTED_MARK).write_text(json.dumps({"checked": "every tensor equal; tokens equal"}))
        os.replace(tmp, target)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save_dequantised(model, folder: Path) -> None:
    """``model.save_pretrained`` for a model read from GGUF: its weights are de-quantised float32
    tensors already, but transformers still marks it "quantized with gguf" and refuses to save it;
    the mark is lifted for the save (and put back), so the folder is a plain float32 model."""
    quantizer = getattr(model, "hf_quantizer", None)
    config_mark = getattr(model.config, "quantization_config", None)
    try:
        if quantizer is not None:
            model.hf_quantizer = None
        if config_mark is not None:
            del model.config.quantization_config
        model.save_pretrained(folder, safe_serialization=True)
    finally:
        if quantizer is not None:
            model.hf_quantizer = quantizer
        if config_mark is not None:
            model.config.quantization_config = config_mark


def load_local_lm(model: ResolvedModel, device: str = "cpu") -> LocalLM:
    """A :class:`LocalLM` on ``device``, loaded once per process (one clear line when it cannot load)."""
    return load_model("llm", model, lambda loc, local_files_only, device: LocalLM(loc, local_files_only, device),
                      device=device)


# -- the kind -------------------------------------------------------------------------------------

@register("llm")
class LLMScorer(Scorer):
    """An LLM as a rerank stage: pointwise P(yes), or RankGPT sliding windows (listwise)."""

    label = "LLM reranker (pointwise or listwise)"
    default_model = DEFAULT_LLM
    default_model_note = ("Gemma 3 270M base (packaged, offline): about 80 s to load the first time, 7 s after, about 1 s a pair on "
                          "2 cores, and a near-random judge (SciFact, BM25@30 -> llm@10: nDCG@10 0.16 against "
                          "BM25's 0.79). It is for plumbing and cost; for quality point the stage at a server "
                          "(base_url: Ollama, llama.cpp, vLLM) or give a larger instruction-tuned model.")
    parameters = PARAMS
    cost_shape = "per-pair"
    pointwise = None   # the mode decides; each instance says (self.pointwise)

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self.params = self.parse_params(config.params)
        self.mode = self.params["mode"]
        self.pointwise = self.mode == "pointwise"
        backend = self.params["backend"]
        self.backend = backend if backend != "auto" else ("http" if self.params["base_url"] else "local")
        self.uses_device = self.backend == "local"   # a server's model runs where the server is
        self._http: HttpLLM | None = None

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        out = super().parse_params(params)
        if out["stride"] > out["window"]:
            raise SpecError(f"llm parameter stride ({out['stride']}) must be at most window ({out['window']}): "
                            "a larger stride skips candidates")
        if out["backend"] == "http" and not out["base_url"]:
            raise SpecError("llm backend http needs a base_url, e.g. http://localhost:11434/v1 (Ollama)")
        if out["base_url"] and not re.match(r"https?://", out["base_url"]):
            raise SpecError(f"llm parameter base_url must start with http:// or https://, not {out['base_url']!r}")
        return out

    @property
    def model_name(self) -> str:
        if self.backend == "http":
            if not self.config.model:
                raise SpecError("an llm stage on a server needs the server's model name, e.g. llama3.2 (Ollama) "
                                "or the name vLLM serves")
            return self.config.model
        return self.config.model or self.default_model

    @property
    def resolved_model(self) -> ResolvedModel | None:
        """The local model (a packaged name, a folder with config.json or one .gguf, a hub id);
        None on a server, whose weights are not here to fingerprint."""
        if self.backend == "http":
            return None
        if "_resolved_model" not in self.__dict__:
            self.__dict__["_resolved_model"] = _resolve_local(self.model_name)
        return self.__dict__["_resolved_model"]

    @property
    def id(self) -> str:
        """Kind, model (with the server for http) and what changes a score: mode, prompt version,
        document length, window and stride (listwise), the API flavour (http). Not timeouts,
        retries, concurrency or batching: they change speed only."""
        shown = {k: self.params[k] for k in SCORE_PARAMS[self.mode]}
        shown["prompt"] = PROMPT_VERSION
        if self.backend == "http":
            shown["api"] = self.params["api"]
            model = f"{self.model_name}@{self.http.base_url}"
        else:
            model = self.resolved_model.key
        return f"llm:{model}:{params_signature(shown)}"

    @property
    def http(self) -> HttpLLM:
        if self._http is None:
            p = self.params
            self._http = HttpLLM(p["base_url"], self.model_name, p["api_key_env"], p["api"], p["timeout_s"],
                                 p["retries"], p["concurrency"])
        return self._http

    @property
    def local(self) -> LocalLM:
        return load_local_lm(self.resolved_model, self.device)

    def load_model(self) -> None:
        if self.backend == "http":
            self.http.check()
        else:
            self.local  # noqa: B018 - loads and caches it

    def prepare(self, doc_ids: Sequence[str], progress=None) -> None:
        self.load_model()   # outside the timed section
        if self.backend == "http":
            key = ("warm", self.http.base_url, self.model_name)
            if key not in _checked:
                self.http.warm_up()
                with _server_lock:
                    _checked.add(key)

    def _texts(self, doc_ids: Sequence[str]) -> list[str]:
        return clipped_docs(self.corpus, doc_ids, self.params["max_doc_chars"], self.cuts)

    def score(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        if not len(doc_ids):
            return np.zeros(0)
        docs = self._texts(doc_ids)
        if self.mode == "pointwise":
            if self.backend == "local":
                return self.local.judge([pointwise_prompt(query, d) for d in docs], self.params["batch_size"])
            with ThreadPoolExecutor(max_workers=min(self.params["concurrency"], len(docs))) as pool:
                return np.asarray(list(pool.map(lambda d: self.http.judge(query, d), docs)), dtype=float)
        if len(docs) == 1:
            return np.ones(1)
        ranker = self.http if self.backend == "http" else self.local
        order = listwise_order(len(docs), self.params["window"], self.params["stride"],
                               lambda chunk: ranker.rank(query, [docs[i] for i in chunk]))
        return scores_from_order(order)


def _resolve_local(name: str) -> ResolvedModel:
    """:func:`resolve_model`, and also a folder holding one ``.gguf`` file (no config.json)."""
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        raise ModelError(f"model {name!r} is a GGUF file: give the folder that holds it")
    if path.is_dir() and not (path / "config.json").exists():
        ggufs = list(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ResolvedModel(name, str(path.resolve()), True, folder_key(path.resolve()))
        if len(ggufs) > 1:
            raise ModelError(f"model folder {name!r} holds {len(ggufs)} .gguf files: keep one per folder")
    return resolve_model(name)
