"""Distilled students on disk: ``$CASCADE_HOME/models/distilled/<name>/``, each a ``CrossEncoder``
folder with a ``distilled.json`` saying how it was made and how it did on held-out queries.

Students also ship with the sample (``sample_data/models/``: a SciFact student, packaged in
half precision with a manifest). The presets use the newest student trained on the current
dataset's corpus, else a shipped one made for it, else (with a note) the newest of any corpus,
instead of the untrained stand-in.

>>> import json, tempfile, pathlib
>>> home = pathlib.Path(tempfile.mkdtemp())
>>> folder = registry(home) / "demo-1"; folder.mkdir(parents=True)
>>> _ = (folder / INFO_FILE).write_text(json.dumps({"complete": True, "name": "demo-1",
...     "created": "2025-01-01T00:00:00", "dataset": {"name": "scifact", "corpus": "abc"},
...     "teacher": {"described": "bm25 -> 100 -> bi-encoder(all-MiniLM-L6-v2) -> 20 -> final 10"},
...     "training_queries": {"source": "split 'train' of scifact (809 queries)"},
...     "settings": {"layers": 3, "base": "all-MiniLM-L6-v2"},
...     "report": {"rows": [{"name": "student", "metrics": {"ndcg@10": 0.7}}]}}))
>>> student, matched = newest_student("abc", home)
>>> student.name, matched
('demo-1', True)
>>> print(student.describe())
distilled student demo-1 (3 layers of all-MiniLM-L6-v2), taught by bm25 -> 100 -> bi-encoder(all-MiniLM-L6-v2) -> 20 -> final 10 on split 'train' of scifact (809 queries); held-out nDCG@10 0.700
>>> newest_student("other", home)[1]
False
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..home import cascade_home
from ..readback import Unreadable, read_record

INFO_FILE = "distilled.json"
# Students that ship with the sample (``sample_data/models/<name>/``, each with a manifest.json
# saying how it was made): found after the data folder's own, before the untrained stand-in.
SHIPPED_STUDENTS = Path(__file__).resolve().parents[2] / "sample_data" / "models"


def registry(home: str | Path | None = None) -> Path:
    """The folder distilled students are kept in (not created here)."""
    return Path(home if home is not None else cascade_home()) / "models" / "distilled"


@dataclass(frozen=True)
class StudentInfo:
    path: Path
    info: dict

    @property
    def name(self) -> str:
        return self.info.get("name") or self.path.name

    @property
    def corpus(self) -> str | None:
        return (self.info.get("dataset") or {}).get("corpus")

    @property
    def created(self) -> str:
        return self.info.get("created", "")

    @property
    def shipped(self) -> bool:
        """Whether it ships with cascade-explorer (rather than being distilled in this data folder)."""
        return self.path.parent.resolve() == SHIPPED_STUDENTS.resolve()

    @property
    def domain(self) -> str:
        """What its training queries and documents were about, in words (``""`` when not said)."""
        return self.info.get("domain", "")

    def made_for(self, corpus: str | None) -> bool:
        """Whether it was trained on ``corpus`` (a fingerprint) or made to serve it: a shipped
        student lists the sample's corpus, a subset of its training collection whose evaluation
        queries it never saw (``serves`` in its distilled.json)."""
        return corpus is not None and (corpus == self.corpus or corpus in (self.info.get("serves") or []))

    def held_out(self, row: str = "student", metric: str = "ndcg@10") -> float | None:
        """A held-out metric of the report (None when no report was made)."""
        for r in (self.info.get("report") or {}).get("rows", []):
            if r.get("name") == row:
                return r.get("metrics", {}).get(metric)
        return None

    def describe(self) -> str:
        """One line: which model, from what, taught by whom on which queries, and how it did."""
        s = self.info.get("settings", {})
        teacher = (self.info.get("teacher") or {}).get("described", "?")
        # the source's first clause: "split 'train' of scifact (809 queries)", without what was left out
        queries = (self.info.get("training_queries") or {}).get("source", "?").split(";")[0]
        score = self.held_out()
        scored = f"; held-out nDCG@10 {score:.3f}" if score is not None else "; not evaluated"
        origin = "shipped with the sample: " if self.shipped else ""
        return (f"distilled student {self.name} ({origin}{s.get('layers', '?')} layers of {s.get('base', '?')}), "
                f"taught by {teacher} on {queries}{scored}")


def read_student(path: str | Path) -> StudentInfo | None:
    """The student in ``path``, or None when it is not a finished distilled student."""
    p = Path(path)
    try:
        # Students written before figures were stored as null carry NaN (the first pass's ms per
        # pair): an unmeasured figure, read as None, never a reason to lose a trained student.
        info = read_record(p / INFO_FILE, non_finite="unknown")
    except Unreadable:   # no file, or not one this tool wrote: not a finished student
        return None
    return StudentInfo(p, info) if info.get("complete") else None


def students(home: str | Path | None = None) -> list[StudentInfo]:
    """Every finished student in the registry, newest first."""
    return _finished_in(registry(home))


def shipped_students() -> list[StudentInfo]:
    """The students shipped with the sample (``sample_data/models/``), newest first."""
    return _finished_in(SHIPPED_STUDENTS)


def _finished_in(root: Path) -> list[StudentInfo]:
    found = [s for s in (read_student(p) for p in sorted(root.iterdir()) if p.is_dir())
             if s is not None] if root.is_dir() else []
    return sorted(found, key=lambda s: s.created, reverse=True)


def newest_student(corpus: str | None, home: str | Path | None = None) -> tuple[StudentInfo | None, bool]:
    """The student a preset's cross-encoder should be, and whether it was made for ``corpus``.

    In order: the newest student of this data folder trained on ``corpus`` (a corpus
    fingerprint), a shipped one made for it, then the newest of this data folder of any corpus,
    then a shipped one (``made_for`` False: the page says where it was trained); ``(None, False)``
    when there is none.
    """
    mine, shipped = students(home), shipped_students()
    for s in mine + shipped:
        if s.made_for(corpus):
            return s, True
    every = mine + shipped
    return (every[0] if every else None), False


def student_note(model: str | None, corpus: str | None = None) -> str | None:
    """A line naming a distilled student and how it was trained, or None for another model
    (the pages and ``cascade eval`` show it beside a cross-encoder stage).

    ``corpus``: the current dataset's corpus fingerprint; a student made for another corpus is
    said to be so, with what it was trained on and how to distil one here.
    """
    student = read_student(model) if model else None
    if student is None:
        return None
    note = f"Cross-encoder: {student.describe()}."
    teacher, first = student.held_out("teacher"), student.held_out("first pass")
    if teacher is not None and first is not None:
        note += f" (Teacher {teacher:.3f}, first pass alone {first:.3f}, on the same held-out queries.)"
    if corpus is not None and student.corpus is not None and not student.made_for(corpus):
        about = student.domain or student.info.get("dataset", {}).get("name", "?")
        note += (f" It was trained on another collection ({about}): distil one for this corpus (Build, "
                 "\"Distil a cross-encoder\", or cascade distill) for numbers that mean something here.")
    return note
