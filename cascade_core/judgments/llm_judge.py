"""LLM-as-judge: graded labels (0/1/2) for (query, document) pairs from an LLM, with its raw answers.

The judge reuses the ``llm`` stage's two back ends (:mod:`cascade_core.scorers.llm`): an
OpenAI-compatible server (``base_url``: Ollama, llama.cpp, vLLM, OpenAI) or a local causal LM
(default: the packaged Gemma 3 270M GGUF, offline, slow and a near-random judge: for plumbing).
Parameters are the ``llm`` kind's (``api``, ``timeout_s``, ``retries``, ``concurrency``,
``max_doc_chars``, ``api_key_env``...), checked by it.

* The prompt is a parameter (:data:`DEFAULT_PROMPT` by default) with ``{query}`` and
  ``{document}`` where the texts go; it is shown and kept with the labels.
* Every label keeps the model's raw answer; :func:`parse_grade` reads it into 0/1/2, or None
  ("unparseable": counted in :attr:`JudgeRun.unparseable`, never guessed).
* :meth:`LLMJudge.estimate` says what a run will cost before it starts: pairs x seconds per pair
  (measured on a few pairs with :meth:`LLMJudge.measure`, or an assumed figure, said which) and
  tokens (prompt characters / 4, an English rule of thumb, said so).
* :meth:`LLMJudge.labels` yields labels as they come in, in the caller's thread;
  :func:`label_into_store` saves each one in the judgment log at once (a stopped run keeps them).
* Labels carry their source (``llm:<model>``): they are never mixed silently with human ones (the
  log's ``use`` setting, :func:`cascade_core.judgments.store.judged_qrels`, says whose count).
  :func:`cascade_core.judgments.agreement.agreement` compares the two sets.

>>> parse_grade("2"), parse_grade(" Grade: 1."), parse_grade("Not relevant"), parse_grade("maybe?")
(2, 1, 0, None)
>>> prompt = render_prompt(DEFAULT_PROMPT, "vitamin D and bones", "Vitamin D helps calcium absorption.")
>>> prompt.splitlines()[-3:]
['Query: vitamin D and bones', 'Document: Vitamin D helps calcium absorption.', 'Grade (0, 1 or 2):']
>>> judge = LLMJudge("llama3.2", base_url="http://localhost:11434/v1")   # nothing is contacted yet
>>> judge.source
'llm:llama3.2@http://localhost:11434/v1'
>>> est = judge.estimate([("q1", "some query text")] * 100, ["a document of forty characters, or so..."] * 100)
>>> est.pairs, est.source, est.seconds   # 0.5 s a pair (assumed), 4 requests at once
(100, 'assumed', 12.5)
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd

from ..errors import SpecError
from ..models.truncation import clipped
from ..scorers.base import ScorerConfig
from ..scorers.llm import LLMScorer

GRADE_VALUES = (0, 1, 2)
SYSTEM_JUDGE = ("You are a search relevance assessor. Grade how well a document answers a query with one "
                "digit: 2 relevant, 1 partly relevant, 0 not relevant. Answer with the digit only.")
DEFAULT_PROMPT = (
    "Grade the document's relevance to the search query.\n"
    "2 = relevant: it answers the query or is exactly on its topic.\n"
    "1 = partly relevant: on a related topic, or answers only part of the query.\n"
    "0 = not relevant.\n"
    "Answer with one digit.\n\n"
    "Query: {query}\n"
    "Document: {document}\n"
    "Grade (0, 1 or 2):"
)
# Before anything is measured (said as "assumed"; LLMJudge.measure replaces it): the packaged local
# model, generating 4 tokens unbatched, took 8.9 s a pair (300-character documents) and 17.4 s
# (800) on 2 cores shared with other heavy jobs, so 5 s is a guess for a quieter machine; a server
# answers one short request in about 0.5 s, `concurrency` at a time.
ASSUMED_S_PER_PAIR = {"local": 5.0, "http": 0.5}
CHARS_PER_TOKEN = 4.0    # English text, roughly; the estimate says it is approximate
ANSWER_TOKENS = 4        # max tokens asked for: a digit, maybe a space or a full stop

_WORDS = ((re.compile(r"\b(not|non|irrelevant|unrelated)\b"), 0),
          (re.compile(r"\b(partly|partially|somewhat|marginally)\b"), 1),
          (re.compile(r"\b(relevant|highly)\b"), 2))


def parse_grade(answer: str) -> int | None:
    """0, 1 or 2 from a model's answer; None when it says none of them (unparseable).

    The first standalone digit 0-2 wins ("Grade: 2", "1.", "(0)"); a digit inside a number ("12",
    "0.5") is no grade. Without a digit, words: "not relevant"/"irrelevant" 0, "partly" 1,
    "relevant" 2.

    >>> [parse_grade(a) for a in ["1", "**2**", "Answer: 0 because", "12", "0.5", "Partly relevant", ""]]
    [1, 2, 0, None, None, 1, None]
    """
    text = " ".join(str(answer).split())
    m = re.search(r"(?<![\d.])([0-2])(?![\d]|\.\d)", text)
    if m:
        return int(m.group(1))
    if re.search(r"\d", text):
        return None   # a number that is not a grade ("3", "12"): do not read words around it
    lower = text.lower()
    for pattern, grade in _WORDS:
        if pattern.search(lower):
            return grade
    return None


def render_prompt(template: str, query: str, document: str) -> str:
    """The prompt for one pair: ``{query}`` and ``{document}`` replaced (plain replacement, so
    braces in the texts or elsewhere in the template are left alone)."""
    return template.replace("{query}", query).replace("{document}", document)


def check_prompt(template: str) -> str:
    """``template`` if it has both ``{query}`` and ``{document}``; else a clear error."""
    missing = [p for p in ("{query}", "{document}") if p not in template]
    if missing:
        raise SpecError(f"the judge prompt needs {' and '.join(missing)} where the text goes")
    return template


@dataclass(frozen=True)
class LLMLabel:
    """One pair's label: the grade (None: unparseable), the raw answer, the seconds it took."""

    query_id: str
    doc_id: str
    grade: int | None
    answer: str
    seconds: float


@dataclass
class JudgeRun:
    """Labels of one run, with what made them (source, prompt) and how long it took."""

    source: str
    prompt: str
    labels: list[LLMLabel]
    seconds: float
    truncated: int = 0      # documents cut to max_doc_chars in the prompt

    @property
    def unparseable(self) -> int:
        return sum(lb.grade is None for lb in self.labels)

    @property
    def seconds_per_pair(self) -> float:
        return self.seconds / len(self.labels) if self.labels else float("nan")

    def qrels(self) -> dict[str, dict[str, int]]:
        """``{query_id: {doc_id: grade}}`` of the parsed labels (unparseable ones left out)."""
        out: dict[str, dict[str, int]] = {}
        for lb in self.labels:
            if lb.grade is not None:
                out.setdefault(lb.query_id, {})[lb.doc_id] = lb.grade
        return out

    def table(self) -> pd.DataFrame:
        """One row per label: query_id, doc_id, grade (NaN: unparseable), answer, seconds, source."""
        return pd.DataFrame([{"query_id": lb.query_id, "doc_id": lb.doc_id, "grade": lb.grade,
                              "answer": lb.answer, "seconds": lb.seconds, "source": self.source}
                             for lb in self.labels],
                            columns=["query_id", "doc_id", "grade", "answer", "seconds", "source"])


@dataclass(frozen=True)
class JudgeEstimate:
    """What a run will cost, before it starts."""

    pairs: int
    seconds_per_pair: float
    source: str               # "measured" (on a few pairs here) or "assumed"
    seconds: float            # wall time: pairs x seconds per pair / parallel requests
    prompt_tokens: int        # approximate (characters / 4)
    answer_tokens: int        # at most
    usd: float | None = None  # with a price per 1,000 tokens

    def describe(self) -> str:
        cost = f", about ${self.usd:.4f}" if self.usd is not None else ""
        return (f"{self.pairs} pairs: about {self.seconds:,.0f} s ({self.seconds_per_pair:.2f} s a pair, "
                f"{self.source}); about {self.prompt_tokens:,} prompt tokens (characters / 4) and at most "
                f"{self.answer_tokens:,} answer tokens{cost}")


@dataclass
class LLMJudge:
    """An LLM that grades (query, document) pairs 0/1/2 through the ``llm`` kind's back ends.

    ``model``: the server's model name with ``base_url``, else a local model (default: the
    packaged gemma-3-270m). ``params``: any other ``llm`` parameter (``api``, ``timeout_s``,
    ``retries``, ``concurrency``, ``max_doc_chars``, ``api_key_env``, ``backend``).
    """

    model: str | None = None
    base_url: str = ""
    prompt: str = DEFAULT_PROMPT
    system: str = SYSTEM_JUDGE
    params: dict = field(default_factory=dict)
    _scorer: LLMScorer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_prompt(self.prompt)
        params = dict(self.params)
        if self.base_url:
            params["base_url"] = self.base_url
        # The stage kind checks the parameters and owns both back ends (HTTP client, model loading).
        self._scorer = LLMScorer(ScorerConfig("llm", self.model, params), None)
        _ = self._scorer.model_name   # a server without a model name fails here, with one line

    @property
    def backend(self) -> str:
        return self._scorer.backend

    @property
    def source(self) -> str:
        """What every label of this judge is marked with: ``llm:<model>`` (``@server`` for http)."""
        s = self._scorer
        return f"llm:{s.model_name}@{s.http.base_url}" if self.backend == "http" else f"llm:{s.model_name}"

    @property
    def parallel(self) -> int:
        return self._scorer.params["concurrency"] if self.backend == "http" else 1

    def load(self) -> None:
        """Load the local model, or check the server is up (one clear line when not)."""
        self._scorer.load_model()

    def _document(self, text: str) -> tuple[str, bool]:
        return clipped(text, self._scorer.params["max_doc_chars"])

    def answer(self, query: str, document: str) -> str:
        """The model's raw answer for one pair (document already clipped)."""
        prompt = render_prompt(self.prompt, query, document)
        if self.backend == "http":
            return self._scorer.http.complete(prompt, self.system, ANSWER_TOKENS, "an LLM judgement")
        # a base model continues text: the instructions go first, in the same prompt
        return self._scorer.local.generate(f"{self.system}\n\n{prompt}", ANSWER_TOKENS)

    def label(self, pairs: Sequence[tuple[str, str]], query_texts: Mapping[str, str] | Callable[[str], str],
              doc_texts: Mapping[str, str] | Callable[[str], str],
              progress: Callable[[int, int], None] | None = None) -> JudgeRun:
        """Grade every ``(query_id, doc_id)`` pair. Texts come from ``query_texts`` /
        ``doc_texts`` (mappings, or functions such as ``QuerySet.text_of`` and
        ``Corpus.text_of``). A server is asked ``concurrency`` pairs at a time; ``progress(done,
        total)`` is called as labels come in. The labels are in the order of ``pairs``."""
        start, truncated = time.perf_counter(), [0]
        labels: list[LLMLabel | None] = [None] * len(pairs)
        for done, (i, label) in enumerate(self._labels(pairs, query_texts, doc_texts, truncated), start=1):
            labels[i] = label
            if progress is not None:
                progress(done, len(pairs))
        return JudgeRun(self.source, self.prompt, labels, time.perf_counter() - start, truncated=truncated[0])

    def labels(self, pairs: Sequence[tuple[str, str]], query_texts: Mapping[str, str] | Callable[[str], str],
               doc_texts: Mapping[str, str] | Callable[[str], str], truncated: list | None = None):
        """Yield each pair's :class:`LLMLabel` as it comes in (a server answers ``concurrency`` at a
        time, so not necessarily in order), in the caller's thread: a caller can save each one at once
        and draw its progress. Closing the generator early cancels the pairs not yet asked.
        ``truncated``: a one-item list that receives the count of documents clipped in the prompt."""
        for _, label in self._labels(pairs, query_texts, doc_texts, truncated):
            yield label

    def _labels(self, pairs, query_texts, doc_texts, truncated: list | None = None):
        """(index in ``pairs``, label) as labels come in: see :meth:`labels`."""
        qtext = query_texts if callable(query_texts) else query_texts.__getitem__
        dtext = doc_texts if callable(doc_texts) else doc_texts.__getitem__
        pairs = list(pairs)
        self.load()
        docs = [self._document(dtext(d)) for _, d in pairs]
        if truncated is not None:
            truncated[:] = [sum(cut for _, cut in docs)]

        def one(i: int) -> tuple[int, LLMLabel]:
            qid, did = pairs[i]
            t0 = time.perf_counter()
            raw = self.answer(qtext(qid), docs[i][0])
            return i, LLMLabel(qid, did, parse_grade(raw), raw, time.perf_counter() - t0)

        if self.parallel <= 1 or len(pairs) <= 1:
            for i in range(len(pairs)):
                yield one(i)
            return
        pool = ThreadPoolExecutor(max_workers=min(self.parallel, len(pairs)))
        try:
            futures = [pool.submit(one, i) for i in range(len(pairs))]
            for future in as_completed(futures):
                yield future.result()
        finally:   # closed early (a stopped page, an error): ask nothing more
            pool.shutdown(wait=False, cancel_futures=True)

    def measure(self, pairs: Sequence[tuple[str, str]], query_texts, doc_texts, n: int = 3) -> float:
        """Seconds a pair, measured on the first ``n`` pairs (model loading not counted)."""
        self.load()
        run = self.label(list(pairs)[:n], query_texts, doc_texts)
        return run.seconds / max(len(run.labels), 1) * min(self.parallel, max(len(run.labels), 1))

    def estimate(self, queries: Sequence[tuple[str, str]] | Sequence[str], documents: Sequence[str],
                 seconds_per_pair: float | None = None, usd_per_1k_tokens: float | None = None) -> JudgeEstimate:
        """The cost of labelling ``len(documents)`` pairs before running: ``queries[i]`` is the
        i-th pair's query text (or ``(query_id, text)``), ``documents[i]`` its document text.
        ``seconds_per_pair``: measured (:meth:`measure`); without it an assumed figure is used,
        and the estimate says so. Wall time divides by the requests a server takes at once."""
        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries for {len(documents)} documents: one query per pair")
        chars = 0
        for q, d in zip(queries, documents):
            qt = q[1] if isinstance(q, tuple) else q
            chars += len(render_prompt(self.prompt, qt, self._document(d)[0])) + len(self.system)
        prompt_tokens = int(round(chars / CHARS_PER_TOKEN))
        source = "measured" if seconds_per_pair is not None else "assumed"
        per_pair = float(seconds_per_pair if seconds_per_pair is not None else ASSUMED_S_PER_PAIR[self.backend])
        n = len(documents)
        answer_tokens = n * ANSWER_TOKENS
        usd = None if usd_per_1k_tokens is None else (prompt_tokens + answer_tokens) / 1000 * usd_per_1k_tokens
        return JudgeEstimate(n, per_pair, source, n * per_pair / self.parallel, prompt_tokens, answer_tokens, usd)


def label_into_store(judge: LLMJudge, store, pairs: Sequence[tuple[str, str]], query_texts, doc_texts,
                     who: str = "", progress: Callable[[int, int, LLMLabel], None] | None = None) -> JudgeRun:
    """Label ``pairs`` with ``judge`` and save each label in ``store`` (a
    :class:`~cascade_core.judgments.store.JudgmentStore`) the moment it comes in, marked with the
    judge's source (``llm:<model>``) and kept with its raw answer and prompt; an unparseable answer
    is kept too, as no judgment. A run stopped midway keeps every label saved so far.
    ``progress(done, total, label)`` is called in the caller's thread after each save."""
    qtext = query_texts if callable(query_texts) else query_texts.__getitem__
    start, labels, truncated = time.perf_counter(), [], [0]
    who = who or judge.source
    for label in judge.labels(pairs, qtext, doc_texts, truncated):
        if label.grade is None:
            store.unparsed_answer(label.query_id, label.doc_id, label.answer, judge.source, who, judge.prompt)
        else:
            store.judge(label.query_id, label.doc_id, label.grade, who=who, query_text=qtext(label.query_id),
                        source=judge.source, answer=label.answer, prompt=judge.prompt)
        labels.append(label)
        if progress is not None:
            progress(len(labels), len(pairs), label)
    return JudgeRun(judge.source, judge.prompt, labels, time.perf_counter() - start, truncated=truncated[0])
