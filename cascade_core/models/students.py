"""Distilled students on disk: ``$CASCADE_HOME/models/distilled/<name>/``, each a ``CrossEncoder``
folder with a ``distilled.json`` saying how it was made and how it did on held-out queries.

The presets use the newest student trained on the current dataset's corpus (or, with a note,
the newest of any corpus) instead of the untrained stand-in.

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
        queries = (self.info.get("training_queries") or {}).get("source", "?")
        score = self.held_out()
        scored = f"; held-out nDCG@10 {score:.3f}" if score is not None else "; not evaluated"
        return (f"distilled student {self.name} ({s.get('layers', '?')} layers of {s.get('base', '?')}), "
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
    root = registry(home)
    found = [s for s in (read_student(p) for p in sorted(root.iterdir()) if p.is_dir())
             if s is not None] if root.is_dir() else []
    return sorted(found, key=lambda s: s.created, reverse=True)


def newest_student(corpus: str | None, home: str | Path | None = None) -> tuple[StudentInfo | None, bool]:
    """The newest student trained on ``corpus`` (a corpus fingerprint) and True; else the newest
    of any corpus and False; else ``(None, False)``."""
    every = students(home)
    mine = [s for s in every if corpus is not None and s.corpus == corpus]
    if mine:
        return mine[0], True
    return (every[0] if every else None), False
