"""Relevance judgments made here: an append-only log per corpus, merged with a dataset's own qrels.

Every judgment is one JSON line appended to ``<data folder>/judgments/<corpus fingerprint>.jsonl``
and fsync'd before :meth:`JudgmentStore.judge` returns, so a browser refresh, a killed server or a
power cut loses nothing that was acknowledged. Nothing is ever rewritten: an undo is a line too
(it names the judgment it cancels), and so is a query typed by hand or read from a file. Reading
replays the log; the latest judgment of a (query, document) pair wins.

The log is keyed by the corpus's content fingerprint, not by the whole dataset's: judgments name
query ids *and* carry the query text, so editing or re-uploading a queries file (or judging a
query typed here) keeps every judgment made on the same documents.

The log is people's work and cannot be recomputed, so reading it never fails: every line is
read through :func:`cascade_core.readback.read_lines` (bounded, finite numbers only) and checked
against its record's schema (a grade on the scale, ids that are text), and a line that is not a
record this store wrote -- a torn write, a hand edit, a hostile line -- is skipped and kept in
:attr:`JudgmentStore.skipped` with its line number; every other line counts. A torn last line (the
process died mid-write) is skipped too, and the next write starts on a fresh line.

Judgments belong to their judge: each carries the ``session`` that made it (on a shared dashboard,
the browser session's own key; a typed name is a label, not a key), and :meth:`JudgmentStore.undo`
given a session cancels only that session's judgments. Text is bounded as it is written (a query,
an answer, a line, the whole log: :data:`LIMITS`), so no visitor can make the log that every page
replays arbitrarily big.

>>> import tempfile
>>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "judgments.jsonl")
>>> _ = store.judge("q1", "d1", 2, who="ana", query_text="do cats purr")
>>> _ = store.judge("q1", "d2", 0, who="ana")
>>> _ = store.judge("q1", "d1", 1, who="ana")          # changed her mind: the latest wins
>>> store.qrels().judgments
{'q1': {'d1': 1, 'd2': 0}}
>>> store.undo(who="ana").grade                         # the last judgment is cancelled...
1
>>> store.qrels().judgments                             # ...and the one before it counts again
{'q1': {'d1': 2, 'd2': 0}}
>>> merged = merge_qrels(Qrels({"q1": {"d1": 0, "d7": 2}}), store)
>>> merged.qrels.judgments, [(c.query, c.doc, c.dataset_grade, c.judged_grade) for c in merged.conflicts]
({'q1': {'d1': 0, 'd7': 2, 'd2': 0}}, [('q1', 'd1', 0, 2)])
>>> merge_qrels(Qrels({"q1": {"d7": 1}}), store).qrels.judgments   # 0/1 qrels: relevant here counts 1
{'q1': {'d7': 1, 'd1': 1, 'd2': 0}}
>>> print(to_trec(merged.qrels), end="")
q1 0 d1 0
q1 0 d2 0
q1 0 d7 2
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..data import Qrels, QuerySet
from ..errors import CascadeError
from ..readback import SkippedLine, Unreadable, cut, loads, read_lines

try:   # an advisory lock between processes sharing a data folder (absent on Windows)
    import fcntl
except ImportError:   # pragma: no cover - Windows
    fcntl = None

GRADES = {2: "relevant", 1: "partly relevant", 0: "not relevant"}
HUMAN = "human"
LLM = "llm"     # as a source filter: every LLM judge's labels (each marked ``llm:<model>``)
# Which judgments every number uses (a setting of the log, as ``prefer``): people's (the dataset's
# qrels and the judgments made here by hand), the LLM labels alone, or both with a human grade winning.
USE_HUMAN, USE_LLM, USE_BOTH = "human", "llm", "both"
USES = {USE_HUMAN: "human judgments", USE_LLM: "LLM labels only", USE_BOTH: "both (a human grade wins)"}
PREFER_DATASET, PREFER_JUDGMENTS = "dataset", "judgments"
FOLDER = "judgments"


@dataclass(frozen=True)
class Limits:
    """How much text the log takes. A query or an id longer than this is not a query; a log past
    ``log_bytes`` takes no more (every page load replays it). ``CASCADE_JUDGMENTS_MB`` sets the log's."""

    query_chars: int = 5_000       # the text of one query (ArguAna's longest arguments fit)
    id_chars: int = 500            # a query or document id
    answer_chars: int = 5_000      # an LLM judge's raw answer (cut, not refused: the grade is kept)
    prompt_chars: int = 20_000     # an LLM judge's prompt template
    name_chars: int = 100          # a judge's name
    line_chars: int = 64_000       # one line of the log, read back
    queries_per_add: int = 5_000   # queries added at once (a typed box, a file)
    queries_file_chars: int = 5_000_000   # a file (or a box) of queries to add
    log_bytes: int = 50_000_000    # the whole log

    @classmethod
    def from_env(cls) -> "Limits":
        mb = os.environ.get("CASCADE_JUDGMENTS_MB", "").strip()
        try:
            return cls(log_bytes=int(float(mb) * 1_000_000)) if mb else cls()
        except ValueError:
            raise CascadeError(f"CASCADE_JUDGMENTS_MB={cut(mb)!r}: give a size in MB, such as 50") from None


LIMITS = Limits()


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Judgment:
    """One grade given to one (query, document) pair: by whom, when, and by what kind of judge."""

    query: str
    doc: str
    grade: int
    who: str
    at: str
    source: str = HUMAN
    id: str = ""
    query_text: str = ""
    answer: str = ""        # an LLM judge's raw answer
    prompt: str = ""        # the id of the prompt it was asked with (:meth:`JudgmentStore.prompt_text`)
    session: str = ""       # the session that made it: the key an undo is matched on (``who`` is a label)


@dataclass(frozen=True)
class Unparsed:
    """An LLM judge's answer that gave no grade: kept (with its prompt), never counted as one."""

    query: str
    doc: str
    answer: str
    source: str
    at: str
    prompt: str = ""


def is_llm(source: str) -> bool:
    """Whether ``source`` marks an LLM judge's label (``llm:<model>``)."""
    return source == LLM or source.startswith(LLM + ":")


def source_matches(source: str, wanted: str | None) -> bool:
    """``wanted``: None (every judge), :data:`LLM` (any LLM judge) or one exact source."""
    return wanted is None or source == wanted or (wanted == LLM and is_llm(source))


@dataclass(frozen=True)
class Conflict:
    """A pair the dataset's qrels and a judgment made here grade differently."""

    query: str
    doc: str
    dataset_grade: int
    judged_grade: int
    who: str = ""
    at: str = ""


@dataclass
class MergedQrels:
    """The dataset's qrels with the judgments made here; ``prefer`` says who wins a conflict."""

    qrels: Qrels
    conflicts: list[Conflict] = field(default_factory=list)
    prefer: str = PREFER_DATASET
    added_pairs: int = 0          # judged pairs the dataset did not have
    use: str = USE_HUMAN          # which judgments: USE_HUMAN, USE_LLM or USE_BOTH
    llm_pairs: int = 0            # pairs graded by an LLM label in ``qrels``
    llm_overruled: int = 0        # USE_BOTH: LLM labels a human grade overruled
    llm_sources: dict = field(default_factory=dict)   # (query, doc) -> the LLM source of its grade in ``qrels``
    binary: bool = False          # the dataset's qrels are 0/1: grades made here were put on that scale


@dataclass
class _State:
    """What a replay of the log gives (rebuilt from the file, extended as lines are appended)."""

    active: dict[str, Judgment] = field(default_factory=dict)   # judgment id -> judgment, log order
    queries: dict[str, str] = field(default_factory=dict)       # added query id -> text
    prefer: str = PREFER_DATASET
    use: str = USE_HUMAN
    prompts: dict[str, str] = field(default_factory=dict)        # prompt id -> text
    unparsed: list[Unparsed] = field(default_factory=list)
    lines: int = 0                                               # complete lines replayed
    skipped: list[SkippedLine] = field(default_factory=list)     # the first MAX_SKIPPED_KEPT of them
    bad_lines: int = 0


MAX_SKIPPED_KEPT = 100   # skipped lines remembered with their reason (all are counted)


class JudgmentStore:
    """The judgment log of one corpus (see the module docstring). Thread- and process-safe:
    writes are one ``write`` of a whole line under a lock, readers re-read what was appended."""

    def __init__(self, path: str | Path, limits: Limits | None = None):
        self.path = Path(path)
        self.limits = limits or Limits.from_env()
        # A quota this log shares with others (a shared dashboard's: uploads and judgment logs):
        # called with the bytes about to be written, it raises when they do not fit.
        self.quota: Callable[[int], None] | None = None
        self._lock = threading.RLock()
        self._state = _State()
        self._offset = 0            # bytes of the file replayed so far (always at a line end)
        self._stamp: tuple | None = None
        self.torn_tail = False      # the file ends in a partial line (a write that died)

    @classmethod
    def for_corpus(cls, home: str | Path, fingerprint: str) -> "JudgmentStore":
        """The store of the corpus with ``fingerprint`` in the data folder ``home``: one shared
        instance per file in this process (nothing is created until the first judgment).

        >>> import tempfile
        >>> home = tempfile.mkdtemp()
        >>> JudgmentStore.for_corpus(home, "abc") is JudgmentStore.for_corpus(home, "abc")
        True
        """
        if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", fingerprint or ""):
            raise CascadeError(f"not a corpus fingerprint: {fingerprint!r}")
        path = (Path(home) / FOLDER / f"{fingerprint}.jsonl").resolve()
        with _OPEN_LOCK:
            store = _OPEN.get(path)
            if store is None:
                store = _OPEN[path] = cls(path)
            return store

    # -- writing ---------------------------------------------------------------------------

    def judge(self, query: str, doc: str, grade: int, who: str, query_text: str = "",
              source: str = HUMAN, answer: str = "", prompt: str = "", session: str = "") -> Judgment:
        """Record ``grade`` (2 relevant, 1 partly, 0 not) for ``doc`` on ``query``; durable on return.
        An LLM judge's label also keeps its raw ``answer`` (cut to the limit) and its ``prompt`` (the
        template, stored once per log and named by its hash in each label). ``session``: the key
        :meth:`undo` matches (a dashboard session's own; empty for none)."""
        grade = check_grade(grade)
        lim = self.limits
        j = Judgment(_id(query, "query", lim), _id(doc, "document", lim), grade, _who(who), now_utc(),
                     _text(source or HUMAN, "source", lim.name_chars), uuid.uuid4().hex[:16],
                     _text(query_text, "query", lim.query_chars), cut(str(answer or ""), lim.answer_chars),
                     self._prompt_id(prompt), _text(session, "session", lim.name_chars))
        record = {"op": "judge", "id": j.id, "query": j.query, "doc": j.doc, "grade": j.grade,
                  "who": j.who, "at": j.at, "source": j.source, "query_text": j.query_text}
        for key in ("answer", "prompt", "session"):
            if getattr(j, key):
                record[key] = getattr(j, key)
        self._append(record)
        return j

    def unparsed_answer(self, query: str, doc: str, answer: str, source: str, who: str = "",
                        prompt: str = "") -> Unparsed:
        """Keep an LLM judge's answer that gave no grade (it counts as no judgment)."""
        lim = self.limits
        u = Unparsed(_id(query, "query", lim), _id(doc, "document", lim), cut(str(answer), lim.answer_chars),
                     _text(source, "source", lim.name_chars), now_utc(), self._prompt_id(prompt))
        self._append({"op": "unparsed", "query": u.query, "doc": u.doc, "answer": u.answer, "source": u.source,
                      "who": _who(who), "at": u.at, "prompt": u.prompt})
        return u

    def _prompt_id(self, prompt: str) -> str:
        """The id of ``prompt`` in this log ("" for none), appending its text the first time."""
        if not prompt:
            return ""
        _text(prompt, "prompt", self.limits.prompt_chars)
        pid = hashlib.sha1(prompt.encode("utf-8")).hexdigest()[:12]
        with self._lock:
            if pid not in self._replayed().prompts:
                self._append({"op": "prompt", "id": pid, "text": prompt, "at": now_utc()})
        return pid

    def undo(self, who: str | None = None, query: str | None = None, source: str | None = HUMAN,
             session: str | None = None) -> Judgment | None:
        """Cancel the latest judgment still in force (of ``session``, ``who`` and ``query`` when
        given); the judgment it had replaced counts again. Returns the cancelled judgment, None if
        none. On a shared dashboard pass ``session``: a name is whatever a visitor types, so
        matching on it would let anyone undo anyone's work.

        >>> import tempfile
        >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
        >>> _ = store.judge("q1", "d1", 2, who="anonymous", session="s-ana")
        >>> _ = store.judge("q1", "d2", 0, who="anonymous", session="s-bo")
        >>> store.undo(session="s-ana").doc, store.undo(session="s-ana"), sorted(store.qrels().judgments["q1"])
        ('d1', None, ['d2'])
        """
        if session is not None and not session:
            raise CascadeError("an undo by session needs the session's key")
        with self._lock:
            for j in reversed(list(self._replayed().active.values())):
                if (who is None or j.who == _who(who)) and (query is None or j.query == query) \
                        and (source is None or j.source == source) and (session is None or j.session == session):
                    record = {"op": "undo", "ref": j.id, "who": _who(who or j.who), "at": now_utc()}
                    if session:
                        record["session"] = session
                    self._append(record)
                    return j
        return None

    def add_queries(self, queries: dict[str, str], who: str, known: set | frozenset = frozenset()) -> list[str]:
        """Store queries to judge (id -> text). An id already used (here or in ``known``, the
        dataset's ids) with another text is refused; an empty text is skipped. Returns the ids added."""
        lim = self.limits
        if len(queries) > lim.queries_per_add:
            raise CascadeError(f"{len(queries):,} queries at once: at most {lim.queries_per_add:,} are added "
                               "together (split the file)")
        state = self._replayed()
        records = []
        for qid, text in queries.items():
            qid, text = str(qid).strip(), " ".join(str(text).split())
            if not qid or not text:
                continue
            qid, text = _id(qid, "query", lim), _text(text, f"query {cut(qid)}", lim.query_chars)
            if qid in known or state.queries.get(qid, text) != text:
                raise CascadeError(f"query id {cut(qid)!r} is taken: give the query another id")
            if state.queries.get(qid) == text:
                continue
            records.append({"op": "query", "query": qid, "text": text, "who": _who(who), "at": now_utc()})
        # All or none: a file that does not fit adds nothing (not its first half).
        self._check_room(sum(len(_line(r)) for r in records))
        for r in records:
            self._append(r)
        return [r["query"] for r in records]

    def set_prefer(self, prefer: str, who: str) -> None:
        """Who wins when the dataset's qrels and a judgment made here disagree on a pair."""
        if prefer not in (PREFER_DATASET, PREFER_JUDGMENTS):
            raise CascadeError(f"prefer {prefer!r}: use {PREFER_DATASET!r} or {PREFER_JUDGMENTS!r}")
        if prefer != self.prefer:
            self._append({"op": "prefer", "value": prefer, "who": _who(who), "at": now_utc()})

    def set_use(self, use: str, who: str) -> None:
        """Which judgments every number uses: :data:`USE_HUMAN`, :data:`USE_LLM` or :data:`USE_BOTH`."""
        if use not in USES:
            raise CascadeError(f"use {use!r}: use one of {', '.join(USES)}")
        if use != self.use:
            self._append({"op": "use", "value": use, "who": _who(who), "at": now_utc()})

    def size(self) -> int:
        """The log's size in bytes (0 while there is none): what it takes of a quota."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def _check_room(self, n_bytes: int) -> None:
        if self.size() + n_bytes > self.limits.log_bytes:
            raise CascadeError(f"the judgment log of this corpus is full ({self.limits.log_bytes / 1e6:,.0f} MB, "
                               "CASCADE_JUDGMENTS_MB): nothing was added; every judgment made stays")
        if self.quota is not None:
            self.quota(n_bytes)

    def _append(self, record: dict) -> None:
        data = _line(record)
        with self._lock:
            self._check_room(len(data))
            new = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data   # a torn last line stays one (skipped) line of its own
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            finally:
                os.close(fd)   # closing releases the lock
            if new:   # the file's name in its folder must survive a crash too
                _fsync_dir(self.path.parent)

    # -- reading ---------------------------------------------------------------------------

    def _replayed(self) -> _State:
        """The log replayed up to its last complete line (only what was appended since last time)."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._state, self._offset, self._stamp, self.torn_tail = _State(), 0, None, False
                return self._state
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if stamp == self._stamp:
                return self._state
            if self._stamp is None or st.st_ino != self._stamp[0] or st.st_size < self._offset:
                self._state, self._offset = _State(), 0   # a new or shortened file: replay it all
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1
            _replay(self._state, chunk[:end].split(b"\n")[:-1], self.limits.line_chars)
            self._offset += end
            self.torn_tail = end < len(chunk)
            self._stamp = stamp
            return self._state

    def version(self) -> tuple | None:
        """Changes whenever the log does (cheap: one ``stat``); None while there is no log."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    @property
    def bad_lines(self) -> int:
        """Lines that could not be read (a torn write, a hand edit) and were skipped."""
        return self._replayed().bad_lines + int(self.torn_tail)

    @property
    def skipped(self) -> list[SkippedLine]:
        """The lines skipped (the first :data:`MAX_SKIPPED_KEPT`), each with its number and why;
        a torn last line last."""
        state = self._replayed()
        tail = [SkippedLine(state.lines + 1, "an unfinished last line (a write that died)")] if self.torn_tail else []
        return state.skipped + tail

    def skipped_note(self) -> str:
        """One line saying which lines were skipped ("" when none), for the CLI and the pages.

        >>> import tempfile
        >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
        >>> _ = store.judge("q1", "d1", 2, who="ana")
        >>> with open(store.path, "a") as f:
        ...     _ = f.write('{"op": "judge", "grade": 1e309}\\n')
        >>> store.skipped_note()   # doctest: +ELLIPSIS
        '1 line of the judgment log .../j.jsonl was skipped, every other judgment counts: line 2: not a finite number: 1e309'
        """
        skipped, n = self.skipped, self.bad_lines
        if not n:
            return ""
        listed = "; ".join(str(s) for s in skipped[:3]) + ("; ..." if n > 3 else "")
        return (f"{n} line{'s' if n > 1 else ''} of the judgment log {self.path} {'were' if n > 1 else 'was'} "
                f"skipped, every other judgment counts: {listed}")

    @property
    def prefer(self) -> str:
        return self._replayed().prefer

    @property
    def use(self) -> str:
        """Which judgments every number uses (:data:`USES`; human ones unless set)."""
        return self._replayed().use

    def prompt_text(self, prompt_id: str) -> str:
        return self._replayed().prompts.get(prompt_id, "")

    def unparsed(self, source: str | None = LLM) -> list[Unparsed]:
        """LLM answers that gave no grade (of ``source``: any LLM judge by default), oldest first."""
        return [u for u in self._replayed().unparsed if source_matches(u.source, source)]

    def sources(self) -> list[str]:
        """Every source of a judgment in force (``human``, ``llm:<model>``...), first seen first."""
        return list(dict.fromkeys(j.source for j in self._replayed().active.values()))

    def history(self, source: str | None = HUMAN) -> list[Judgment]:
        """Every judgment in force, oldest first (a pair judged twice appears twice); ``source``:
        one source, :data:`LLM` (every LLM judge) or None (all)."""
        return [j for j in self._replayed().active.values() if source_matches(j.source, source)]

    def latest(self, source: str | None = HUMAN) -> dict[tuple[str, str], Judgment]:
        """The judgment that counts for each (query, document) pair: the latest in force."""
        return {(j.query, j.doc): j for j in self.history(source)}

    def qrels(self, source: str | None = HUMAN) -> Qrels:
        """The judgments made here as :class:`Qrels` (``source=None``: every kind of judge)."""
        table: dict[str, dict[str, int]] = {}
        for (q, d), j in self.latest(source).items():
            table.setdefault(q, {})[d] = j.grade
        return Qrels(table)

    def added_queries(self) -> dict[str, str]:
        """Queries typed or read from a file here (id -> text), in the order they were added."""
        return dict(self._replayed().queries)

    def query_texts(self) -> dict[str, str]:
        """The text of every query known here: added ones, and those named by a judgment."""
        out = {j.query: j.query_text for j in self.history(None) if j.query_text}
        return {**out, **self.added_queries()}

    def __len__(self) -> int:
        return len(self.latest())


def _replay(state: _State, lines: list[bytes], max_line: int) -> None:
    """Apply complete lines of the log to ``state``; a line that is not a record is skipped (kept
    with its number, counted), every other one applied."""
    read = read_lines(lines, _checked, first_number=state.lines + 1, max_line=max_line)
    state.lines += len(lines)
    for rec in read.records:
        _apply(state, rec)
    state.bad_lines += len(read.skipped)
    state.skipped.extend(read.skipped[:max(0, MAX_SKIPPED_KEPT - len(state.skipped))])


def check_grade(grade) -> int:
    """A grade on the scale (2, 1, 0) as an int, or a one-line CascadeError (``True``, ``7``,
    ``2.5``, ``1e300`` are not grades).

    >>> check_grade(2.0), check_grade(0)
    (2, 0)
    >>> check_grade(7)
    Traceback (most recent call last):
    ...
    cascade_core.errors.CascadeError: grade 7: use 2 (relevant), 1 (partly relevant) or 0 (not relevant)
    """
    ok = not isinstance(grade, bool) and isinstance(grade, (int, float)) and grade in GRADES
    if not ok:
        raise CascadeError(f"grade {cut(repr(grade))}: use 2 (relevant), 1 (partly relevant) or 0 (not relevant)")
    return int(grade)


_TEXT_FIELDS = {   # per op: the fields that must be there, the ones that may be (all text unless named)
    "judge": (("id", "query", "doc", "grade"), ("who", "at", "source", "query_text", "answer", "prompt", "session")),
    "undo": (("ref",), ("who", "at", "session")),
    "query": (("query", "text"), ("who", "at")),
    "prefer": (("value",), ("who", "at")),
    "use": (("value",), ("who", "at")),
    "prompt": (("id", "text"), ("at",)),
    "unparsed": (("query", "doc", "answer", "source"), ("who", "at", "prompt")),
}


def _checked(rec: dict) -> dict:
    """``rec`` if it is a record this store writes (the schema of its ``op``), else ValueError.
    Ids may be numbers in a hand-edited line; everything else that is text must be text."""
    op = rec.get("op")
    if op not in _TEXT_FIELDS:
        raise ValueError(f"not a record of the judgment log (op {cut(repr(op))})")
    required, optional = _TEXT_FIELDS[op]
    for key in required:
        if key not in rec:
            raise ValueError(f"a {op} record without its {key!r}")
    for key in (*required, *optional):
        value = rec.get(key)
        if key == "grade":
            rec[key] = check_grade(value)
        elif key in ("query", "doc") and isinstance(value, int) and not isinstance(value, bool):
            rec[key] = str(value)
        elif value is not None and not isinstance(value, str):
            raise ValueError(f"{key} is not text: {cut(repr(value))}")
    if op in ("judge", "unparsed", "query") and not (rec["query"] and (op == "query" or rec["doc"])):
        raise ValueError(f"a {op} record with an empty id")
    if op == "prefer" and rec["value"] not in (PREFER_DATASET, PREFER_JUDGMENTS):
        raise ValueError(f"prefer {cut(repr(rec['value']))} is not {PREFER_DATASET!r} or {PREFER_JUDGMENTS!r}")
    if op == "use" and rec["value"] not in USES:
        raise ValueError(f"use {cut(repr(rec['value']))} is not one of {', '.join(USES)}")
    return rec


def _apply(state: _State, rec: dict) -> None:
    """One checked record (:func:`_checked`) applied to the replayed state."""
    op, get = rec["op"], lambda key: rec.get(key) or ""
    if op == "judge":
        j = Judgment(rec["query"], rec["doc"], rec["grade"], get("who"), get("at"), get("source") or HUMAN,
                     rec["id"], get("query_text"), get("answer"), get("prompt"), get("session"))
        state.active.pop(j.id, None)
        state.active[j.id] = j
    elif op == "undo":
        state.active.pop(rec["ref"], None)
    elif op == "query":
        state.queries[rec["query"]] = rec["text"]
    elif op == "prefer":
        state.prefer = rec["value"]
    elif op == "use":
        state.use = rec["value"]
    elif op == "prompt":
        state.prompts[rec["id"]] = rec["text"]
    elif op == "unparsed":
        state.unparsed.append(Unparsed(rec["query"], rec["doc"], rec["answer"], rec["source"], get("at"),
                                       get("prompt")))


def _line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _text(value, what: str, limit: int) -> str:
    text = str(value or "")
    if len(text) > limit:
        raise CascadeError(f"the {what} is {len(text):,} characters long: at most {limit:,} are kept "
                           f"({cut(text)!r})")
    return text


def _id(value, what: str, limits: Limits) -> str:
    text = _text(value, f"{what} id", limits.id_chars)
    if not text:
        raise CascadeError(f"an empty {what} id")
    return text


def _who(who: str | None) -> str:
    who = " ".join(str(who or "").split())[:LIMITS.name_chars]   # a label: a long one is cut, not refused
    return who or "anonymous"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:   # pragma: no cover - a platform that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:   # pragma: no cover
        pass
    finally:
        os.close(fd)


_OPEN: dict[Path, JudgmentStore] = {}
_OPEN_LOCK = threading.Lock()


# -- merging and export -------------------------------------------------------------------------

def is_binary_scale(qrels: Qrels) -> bool:
    """Whether a dataset grades 0/1 only (SciFact, most BEIR sets): nothing above 1, something judged.

    >>> is_binary_scale(Qrels({"q1": {"d1": 1, "d2": 0}})), is_binary_scale(Qrels({"q1": {"d1": 2}}))
    (True, False)
    """
    grades = [g for docs in qrels.judgments.values() for g in docs.values()]
    return bool(grades) and max(grades) <= 1


def on_scale(grade: int, binary: bool) -> int:
    """A grade made here (2 relevant, 1 partly, 0 not) on the dataset's scale: with 0/1 qrels both
    relevant and partly count 1 (TREC's binary reading: any grade >= 1 is relevant). Without it a
    document marked relevant here would weigh twice any relevant document of the dataset in nDCG."""
    return min(grade, 1) if binary else grade


def grade_word(grade: int, binary: bool, short: bool = False) -> str:
    """A grade in words on the scale the numbers use: with 0/1 qrels a grade of 1 *is* relevant
    (grades made here were put on that scale, :func:`on_scale`), never "partly relevant".

    >>> grade_word(1, binary=True), grade_word(1, binary=False), grade_word(1, binary=False, short=True)
    ('relevant', 'partly relevant', 'partly')
    >>> grade_word(3, binary=False)   # a dataset's own scale may go higher
    'grade 3'
    """
    if binary:
        words = {1: "relevant", 0: "not relevant"}
    else:
        words = {2: "relevant", 1: "partly" if short else "partly relevant", 0: "not relevant"}
    return words.get(grade, f"grade {grade}")


def merge_qrels(dataset: Qrels, store: JudgmentStore | None, prefer: str | None = None,
                source: str | None = HUMAN) -> MergedQrels:
    """The dataset's qrels plus the judgments made here, on the dataset's scale (:func:`on_scale`).
    A pair both grade differently is a :class:`Conflict`; ``prefer`` (default: the store's
    setting, else the dataset) decides it.

    >>> merge_qrels(Qrels({"q1": {"d1": 1}}), None).qrels.judgments
    {'q1': {'d1': 1}}
    """
    prefer = prefer or (store.prefer if store is not None else PREFER_DATASET)
    table = {q: dict(d) for q, d in dataset.judgments.items()}
    binary = is_binary_scale(dataset)
    if store is None:
        return MergedQrels(Qrels(table), [], prefer, binary=binary)
    conflicts, added = [], 0
    for (q, d), j in store.latest(source).items():
        known = dataset.judgments.get(q, {})
        grade = on_scale(j.grade, binary)
        if d in known:
            if known[d] != grade:
                conflicts.append(Conflict(q, d, known[d], grade, j.who, j.at))
                if prefer == PREFER_JUDGMENTS:
                    table[q][d] = grade
        else:
            table.setdefault(q, {})[d] = grade
            added += 1
    return MergedQrels(Qrels(table), conflicts, prefer, added, binary=binary)


def judged_qrels(dataset: Qrels, store: JudgmentStore | None, use: str | None = None) -> MergedQrels:
    """The qrels every number uses, by the store's :attr:`~JudgmentStore.use` setting (or ``use``):

    * ``human``: the dataset's qrels merged with the judgments people made here (:func:`merge_qrels`);
    * ``llm``: the LLM labels alone (every LLM judge's; the latest label of a pair wins);
    * ``both``: the human set, plus the LLM labels of the pairs no human graded (a human grade wins).

    The conflicts listed are always the dataset's qrels against people's judgments here.

    >>> import tempfile
    >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
    >>> _ = store.judge("q1", "d2", 2, who="llm", source="llm:m", answer="2")
    >>> _ = store.judge("q1", "d1", 0, who="llm", source="llm:m", answer="0")
    >>> dataset = Qrels({"q1": {"d1": 1}})
    >>> judged_qrels(dataset, store).qrels.judgments                  # human (the default)
    {'q1': {'d1': 1}}
    >>> judged_qrels(dataset, store, "llm").qrels.judgments          # on the dataset's 0/1 scale
    {'q1': {'d2': 1, 'd1': 0}}
    >>> both = judged_qrels(dataset, store, "both")
    >>> both.qrels.judgments, both.llm_pairs, both.llm_overruled
    ({'q1': {'d1': 1, 'd2': 1}}, 1, 1)
    """
    use = use or (store.use if store is not None else USE_HUMAN)
    if use not in USES:
        raise CascadeError(f"use {use!r}: use one of {', '.join(USES)}")
    human = merge_qrels(dataset, store, source=HUMAN)
    human.use = use
    if store is None or use == USE_HUMAN:
        return human
    llm = store.latest(LLM)
    if use == USE_LLM:
        table: dict[str, dict[str, int]] = {}
        for (q, d), j in llm.items():
            table.setdefault(q, {})[d] = on_scale(j.grade, human.binary)
        return MergedQrels(Qrels(table), human.conflicts, human.prefer, 0, use, len(llm),
                           llm_sources={pair: j.source for pair, j in llm.items()}, binary=human.binary)
    table = {q: dict(d) for q, d in human.qrels.judgments.items()}
    overruled, sources = 0, {}
    for (q, d), j in llm.items():
        known = table.setdefault(q, {})
        grade = on_scale(j.grade, human.binary)
        if d in known:
            overruled += known[d] != grade
        else:
            known[d] = grade
            sources[(q, d)] = j.source
    return MergedQrels(Qrels(table), human.conflicts, human.prefer, human.added_pairs, use, len(sources), overruled,
                       sources, binary=human.binary)


def query_id_for(store: JudgmentStore, queries: QuerySet, text: str, who: str) -> str:
    """The id of the query with ``text`` (among ``queries``, the dataset's and those added here);
    a new text is added to the store as a query to judge (``judge-N``), as the Judge page adds
    a typed one.

    >>> import tempfile
    >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
    >>> qs = QuerySet({"q1": "do cats purr"})
    >>> query_id_for(store, qs, "do  cats purr", "ana"), query_id_for(store, qs, "why is the sky blue", "ana")
    ('q1', 'judge-1')
    >>> query_id_for(store, with_added_queries(qs, store), "why is the sky blue", "ana")
    'judge-1'
    """
    wanted = " ".join(str(text).split())
    if not wanted:
        raise CascadeError("an empty query cannot be judged")
    every = with_added_queries(queries, store)
    for qid in every.ids:
        if " ".join(every.text_of(qid).split()) == wanted:
            return qid
    new = parse_queries(wanted, taken=set(every.ids))
    return store.add_queries(new, who=who, known=set(queries.ids))[0]


def with_added_queries(queries: QuerySet, store: JudgmentStore | None) -> QuerySet:
    """``queries`` and the queries added to ``store`` for judging (an id the dataset has keeps
    the dataset's text).

    >>> import tempfile
    >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
    >>> _ = store.add_queries({"t1": "typed"}, who="ana")
    >>> with_added_queries(QuerySet({"q1": "given"}), store).queries
    {'q1': 'given', 't1': 'typed'}
    """
    added = {q: t for q, t in (store.added_queries() if store is not None else {}).items() if q not in queries}
    return QuerySet({**queries.queries, **added}) if added else queries


def to_trec(qrels: Qrels) -> str:
    """TREC qrels text (``query 0 document grade``, one pair a line, sorted), as trec_eval reads.

    >>> to_trec(Qrels({"q2": {"d9": 2}, "q1": {"d3": 0}}))
    'q1 0 d3 0\\nq2 0 d9 2\\n'
    """
    lines = [f"{q} 0 {d} {g}" for q in sorted(qrels.judgments) for d, g in sorted(qrels.judgments[q].items())]
    for q, d in ((q, d) for q in qrels.judgments for d in qrels.judgments[q]):
        if any(c.isspace() for c in q + d):
            raise CascadeError(f"query {q!r} / document {d!r}: an id with a space cannot be written as TREC qrels")
    return "".join(line + "\n" for line in lines)


def parse_queries(text: str, taken: set | frozenset = frozenset(), prefix: str = "judge-") -> dict[str, str]:
    """Queries from a file's text or a typed box: JSON lines (``{"_id"|"id", "text"|"query"}``),
    ``id<TAB>text`` lines, or plain lines (one query each; ids ``judge-1``, ``judge-2``... skipping
    ``taken`` ids). Blank lines and ``#`` comments are skipped.

    >>> parse_queries("statins and heart attacks\\nq7\\tvitamin D and bones\\n", taken={"judge-1"})
    {'judge-2': 'statins and heart attacks', 'q7': 'vitamin D and bones'}
    """
    if len(text) > LIMITS.queries_file_chars:
        raise CascadeError(f"{len(text):,} characters of queries: at most {LIMITS.queries_file_chars:,} are read "
                           "at once (split the file)")
    out: dict[str, str] = {}
    n = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        qid = None
        if line.startswith("{"):
            try:
                rec = loads(line, max_chars=LIMITS.line_chars)
                qid = str(rec.get("_id", rec.get("id", rec.get("query_id", ""))) or "") or None
                line = str(rec.get("text", rec.get("query", "")))
            except (Unreadable, AttributeError):   # not a JSON object: the line is the query's text
                pass
        elif "\t" in raw:
            qid, line = (part.strip() for part in raw.split("\t", 1))
        if qid is None:
            while True:
                n += 1
                qid = f"{prefix}{n}"
                if qid not in taken and qid not in out:
                    break
        if line.strip():
            out[qid] = " ".join(line.split())
    return out
