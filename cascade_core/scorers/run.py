"""A run file as a step: the first pass a team's engine produced, or one stage's scores from
their reranker, evaluated here as if this tool had computed them.

``--first-pass run:FILE`` takes each query's top ``pool_size`` documents of the run;
``--stage run:FILE@20`` scores the candidates a stage receives with the run's scores for them.
The file is read by :mod:`cascade_core.data.runs` (TREC, JSON lines or Parquet, gzipped or not).

Runs name queries by id, while this library keys scores by query text: a query's text is matched
to the ids the loaded dataset gives it (the plan's queries). A query the run lacks has an empty
list (first pass) or scores nothing (stage), and is counted in the notes; run documents that are
not in the corpus are dropped and counted, run queries the dataset lacks too. In a stage, a
candidate the run does not score gets a score below every one it does (the lowest minus 1), so it
ranks after them; counted.

Its time is the engine's, not this process's: a run file with ``latency_ms`` per query gives the
step's measured cost; without it the step's timing is only the reading of the file, and a note
asks for a cost profile (``--cost 'first pass=25'``, ``costs:`` in the spec).

The scores' id is the file's content hash: a changed file is another run, stored apart; a file
moved elsewhere keeps its stored scores.

>>> RunRetriever.parse_params({})
Traceback (most recent call last):
...
cascade_core.errors.SpecError: run parameter file is required: a run file (TREC, JSON lines or Parquet)
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..data.runs import Run, read_run
from ..errors import SpecError
from ..params import Param
from .base import Retriever, Scorer, ScorerConfig, ScorerContext, register

SHOWN = 5
_lock = threading.Lock()
FILE = Param("file", "path", "", help="the run: TREC (qid Q0 docid rank score tag), or JSON lines / Parquet with "
                                      "qid, docid, score and optionally latency_ms; gzipped too")


def _examples(items) -> str:
    items = list(items)
    return ", ".join(map(repr, items[:SHOWN])) + (", ..." if len(items) > SHOWN else "")


class _RunStep:
    """What the first pass and the stage share: the file, read once per process, and the queries."""

    takes_model = False
    compact_param = "file"   # run:FILE on the command line
    cost_shape = "stated"
    parameters = (FILE,)

    def _setup(self, config: ScorerConfig, ctx: ScorerContext) -> None:
        self.file = self.parse_params(config.params)["file"]
        self.notes: list[str] = []
        self.unscored: set = set()   # stage: (query, document) pairs the run does not score
        self._queries = getattr(ctx, "queries", None) if ctx is not None else None
        self._by_text: dict[str, list[str]] | None = None

    @classmethod
    def parse_params(cls, params: dict) -> dict:
        parsed = super().parse_params(params)
        if not parsed["file"]:
            raise SpecError("run parameter file is required: a run file (TREC, JSON lines or Parquet)")
        return parsed

    @classmethod
    def missing_files(cls, params: dict) -> list[str]:
        file = str(params.get("file") or "").strip()
        if file and not Path(file).expanduser().is_file():
            return [f"run file {file}: no such file"]
        return []

    @property
    def run(self) -> Run:
        """The file, read once per process (per path, size and modification time)."""
        path = Path(self.file).expanduser().resolve()
        try:
            stat = path.stat()
            key = ("run", str(path), stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = ("run", str(path))
        cache = self.ctx.workspace.shared_objects if self.ctx is not None else {}
        with _lock:
            if key not in cache:
                cache[key] = read_run(path)
            return cache[key]

    @property
    def id(self) -> str:
        return f"{self.id_prefix}run:{self.run.fingerprint[:16]}"

    def resolved_models(self) -> list:
        return []

    def _query_id(self, text: str) -> str | None:
        """The run's query for a query text: the dataset's id for it that the run has."""
        if self._by_text is None:
            self._by_text = {}
            if self._queries is not None:
                for qid in self._queries.ids:
                    self._by_text.setdefault(self._queries.text_of(qid), []).append(qid)
        ids = self._by_text.get(text, [])
        return next((q for q in ids if q in self.run.lists), ids[0] if ids else None)

    def _entries(self, text: str) -> list[tuple[str, float]]:
        qid = self._query_id(text)
        return self.run.lists.get(qid, []) if qid is not None else []

    def stated_seconds(self, text: str) -> float | None:
        """The engine's own time for this query (the file's ``latency_ms``), or None."""
        qid = self._query_id(text)
        ms = self.run.latency_ms.get(qid) if qid is not None else None
        return None if ms is None else ms / 1000.0

    def _file_notes(self) -> list[str]:
        run, name = self.run, Path(self.file).name
        known = set(self.corpus.ids) if self.corpus is not None else set()
        strangers = sorted({d for entries in run.lists.values() for d, _ in entries if d not in known})
        notes = [f"run {name} ({run.format}): {len(run.lists):,} queries, {run.pairs:,} ranked documents"
                 + (f"; {len(strangers):,} documents not in the corpus are dropped (e.g. {_examples(strangers)})"
                    if strangers else "")]
        if self._queries is not None:
            dataset = set(self._queries.ids)
            lacking = [q for q in self._queries.ids if q not in run.lists]
            unknown = sorted(q for q in run.lists if q not in dataset)
            if lacking:
                notes.append(f"run {name} lacks {len(lacking):,} of the {len(dataset):,} queries: their lists are "
                             f"empty (e.g. {_examples(lacking)})")
            if unknown:
                notes.append(f"run {name} has {len(unknown):,} queries the dataset does not (not used; e.g. "
                             f"{_examples(unknown)})")
        if not run.latency_ms:
            notes.append(f"run {name} carries no latency_ms: the time measured here is reading the file, not your "
                         "engine's; set this step's cost profile (e.g. --cost 'first pass=25', or costs: in the "
                         "spec) for a latency that means something")
        return notes


@register("run", retriever=True)
class RunRetriever(_RunStep, Retriever):
    """Another engine's ranked lists as the first pass: each query's top ``pool_size`` of the run."""

    label = "a run file: your engine's ranked lists (TREC, JSON lines, Parquet)"

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self._setup(config, ctx)
        self._known = set(self.corpus.ids) if self.corpus is not None else set()

    def prepare(self, progress=None) -> None:
        self.notes = self._file_notes()

    def retrieve(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        kept = [(d, s) for d, s in self._entries(query) if d in self._known][:k]
        return [d for d, _ in kept], np.asarray([s for _, s in kept], dtype=float)


@register("run")
class RunScorer(_RunStep, Scorer):
    """A run's scores as a stage: the candidates it receives, scored as the run scored them."""

    label = "a run file: your reranker's scores for the candidates (TREC, JSON lines, Parquet)"
    pointwise = True

    def __init__(self, config: ScorerConfig, ctx: ScorerContext):
        super().__init__(config, ctx)
        self._setup(config, ctx)

    def prepare(self, doc_ids, progress=None) -> None:
        self.notes = self._file_notes()
        self.unscored = set()

    def score(self, query: str, doc_ids) -> np.ndarray:
        entries = self._entries(query)
        scores = dict(entries)
        below = (min(scores.values()) - 1.0) if scores else 0.0
        self.unscored.update((query, d) for d in doc_ids if d not in scores)
        return np.asarray([scores.get(d, below) for d in doc_ids], dtype=float)

    def scoring_notes(self) -> list[str]:
        """After scoring: the candidates the run did not score, if any."""
        if not self.unscored:
            return []
        return [f"run {Path(self.file).name}: {len(self.unscored):,} candidates it does not score were ranked after "
                "those it does (score: its lowest for the query minus 1)"]
