"""One entry point for every format: :func:`load_dataset`, :func:`load_corpus_file`, :func:`detect_format`.

Formats and how a folder is recognised (first match wins):

=========  ===================================================================================
``beir``   ``corpus.jsonl`` and a ``qrels/`` folder (``queries.jsonl``; see :mod:`.beir`)
``jsonl``  ``corpus.jsonl`` (optional ``queries.*``, ``qrels.*``; see :mod:`.tabular`)
``csv``    ``corpus.csv`` or ``corpus.tsv`` (same folder convention)
``trec``   a ``docs/`` folder or ``*.trec`` / ``*.sgml`` files, ``topics*``, ``qrels*`` (:mod:`.trec`)
``smart``  files of ``.I`` records, e.g. ``cran.all.1400``, ``cran.qry``, ``cranqrel`` (:mod:`.smart`)
=========  ===================================================================================

A single file is a corpus alone: ``.jsonl`` / ``.csv`` / ``.tsv`` by name, TREC SGML (``<DOC>``)
or SMART (``.I``) by name or content.

Loading is pure: it returns new objects and changes nothing; a failed load raises
:class:`~cascade_core.errors.DataError` saying which file and line is wrong.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "corpus.jsonl").write_text('{"id": "d1", "text": "Cats purr."}\\n{"id": "d1", "text": "Again"}\\n')
>>> detect_format(folder)
'jsonl'
>>> ds = load_dataset(folder)
>>> print(ds.report.summary())  # doctest: +ELLIPSIS
documents: 1, queries: 0, judged queries: 0, judged pairs: 0, relevant pairs: 0, duplicate documents (dropped): 1
warning: .../corpus.jsonl:2: duplicate document id 'd1' (first at line 1): kept the first
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .beir import load_beir
from .smart import first_line, is_smart_folder, load_smart, load_smart_corpus
from .tabular import CSV_SUFFIXES, JSONL_SUFFIXES, find_one, load_corpus, load_tabular_folder
from .trec import DOC_SUFFIXES, is_trec_folder, load_trec, load_trec_corpus
from .types import Corpus, Dataset, Qrels, QuerySet, ValidationReport
from .validation import suffix

FORMATS = ("beir", "trec", "jsonl", "csv", "smart")
_FOLDER_LOADERS = {
    "beir": load_beir,
    "jsonl": load_tabular_folder,
    "csv": load_tabular_folder,
    "trec": load_trec,
    "smart": load_smart,
}
_EXPECTED = (
    "BEIR (corpus.jsonl, queries.jsonl, qrels/<split>.tsv); "
    "JSONL/CSV (corpus.jsonl or corpus.csv, optional queries.jsonl|csv and qrels.tsv|csv); "
    "TREC (docs/ or *.trec/*.sgml files, optional topics* and qrels*); "
    "SMART (files of '.I' records such as cran.all.1400 and cran.qry, and a qrels file such as cranqrel)"
)


def _existing(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError("no such file or folder", file=str(p))
    return p


def _file_format(p: Path) -> str | None:
    ext = suffix(p)
    if ext in JSONL_SUFFIXES:
        return "jsonl"
    if ext in CSV_SUFFIXES:
        return "csv"
    if ext in DOC_SUFFIXES:
        return "trec"
    head = first_line(p)
    if head.startswith("{"):
        return "jsonl"
    if head.upper().startswith("<DOC>"):
        return "trec"
    if head.startswith(".I"):
        return "smart"
    return None


def _listing(folder: Path, limit: int = 12) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (", ".join(names[:limit]) + more) if names else "nothing (the folder is empty)"


def detect_format(path: str | Path) -> str:
    """The format of a dataset folder or corpus file: one of ``beir, trec, jsonl, csv, smart``.

    Raises DataError when the path does not exist or its format cannot be recognised; the
    message lists what was found and what was expected.
    """
    p = _existing(path)
    if p.is_file():
        fmt = _file_format(p)
        if fmt is None:
            raise DataError(
                "cannot recognise the format of this file: expected .jsonl, .csv, .tsv, "
                "TREC SGML (<DOC> records) or SMART ('.I' records)",
                file=str(p),
            )
        return fmt
    corpus = find_one(p, ("corpus.jsonl", "corpus.csv", "corpus.tsv"))
    if corpus is not None:
        if suffix(corpus) == ".jsonl":
            return "beir" if (p / "qrels").is_dir() else "jsonl"
        return "csv"
    if is_trec_folder(p):
        return "trec"
    if is_smart_folder(p):
        return "smart"
    raise DataError(
        f"cannot recognise the dataset format. Found: {_listing(p)}. Expected one of: {_EXPECTED}",
        file=str(p),
    )


def _check_fmt(fmt: str) -> None:
    if fmt != "auto" and fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: use 'auto' or one of {', '.join(FORMATS)}")


def load_dataset(path: str | Path, split: str | None = None, fmt: str = "auto") -> Dataset:
    """Load a dataset folder (or a corpus file, giving a dataset with no queries) of any format.

    ``split`` selects a BEIR qrels split (default ``test``, else the only one); other formats
    have no splits. ``fmt`` forces a format instead of detecting it.
    """
    _check_fmt(fmt)
    p = _existing(path)
    if fmt == "auto":
        fmt = detect_format(p)
    if p.is_file():
        if split is not None:
            raise DataError(f"a single corpus file has no splits (asked for split {split!r})", file=str(p))
        corpus, report = load_corpus_file(p, fmt)
        report.counts = {
            "documents": len(corpus),
            "queries": 0,
            "judged queries": 0,
            "judged pairs": 0,
            "relevant pairs": 0,
            **{k: v for k, v in report.counts.items() if k != "documents"},
        }
        name = p.name.split(".")[0] or p.name
        return Dataset(
            name=name, corpus=corpus, queries=QuerySet({}), qrels=Qrels({}), report=report, source=str(p)
        )
    return _FOLDER_LOADERS[fmt](p, split)


def load_corpus_file(path: str | Path, fmt: str = "auto") -> tuple[Corpus, ValidationReport]:
    """Load one corpus file (``jsonl``, ``csv``/``tsv``, ``trec`` SGML or ``smart``) and its report."""
    _check_fmt(fmt)
    p = _existing(path)
    if p.is_dir():
        raise DataError(
            "is a folder; load_corpus_file expects one file (use load_dataset for folders)", file=str(p)
        )
    if fmt == "auto":
        fmt = detect_format(p)
    if fmt in ("jsonl", "csv"):
        return load_corpus(p, fmt)
    if fmt == "trec":
        return load_trec_corpus(p)
    if fmt == "smart":
        return load_smart_corpus(p)
    raise DataError(f"format {fmt!r} is a folder layout, not a corpus file: use load_dataset", file=str(p))
