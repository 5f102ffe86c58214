"""One entry point for every format: :func:`load_dataset`, :func:`load_corpus_file`, :func:`detect_format`.

Formats and how a folder is recognised (first match wins):

=========  ===================================================================================
``beir``   ``corpus.jsonl`` and a ``qrels/`` folder (``queries.jsonl``; see :mod:`.beir`)
``jsonl``  ``corpus.jsonl`` (optional ``queries.*``, ``qrels.*``; see :mod:`.tabular`)
``csv``    ``corpus.csv`` or ``corpus.tsv`` (same folder convention)
``trec``   a ``docs/`` folder or ``*.trec`` / ``*.sgml`` files, ``topics*``, ``qrels*`` (:mod:`.trec`)
``smart``  files of ``.I`` records, e.g. ``cran.all.1400``, ``cran.qry``, ``cranqrel`` (:mod:`.smart`)
=========  ===================================================================================

A folder that matches none of these names is read by content (:mod:`.sniff`): each role takes the
one file whose content fits it. A JSONL/CSV folder's queries and qrels not named by the convention
are found the same way.

A single file is a corpus alone, recognised by its content (:func:`~.sniff.sniff`: JSON lines,
CSV/TSV with a header, TREC SGML ``<DOC>`` records, SMART ``.I`` records), its suffix only where
the content says nothing; a file of topics or qrels is refused as a corpus, naming what it holds.

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
from .beir import choose_split, load_beir
from .irds import is_irds, load_irds
from .smart import (first_line, is_smart_folder, load_smart, load_smart_corpus, read_smart_docs, read_smart_qrels,
                    read_smart_queries, smart_files)
from .sniff import KINDS, ROLES, head_text, sniff
from .tabular import (CORPUS_NAMES, CSV_SUFFIXES, JSONL_SUFFIXES, QRELS_NAMES, QUERIES_NAMES, QUERY_ID_KEYS,
                      find_one, load_corpus, load_tabular_folder, read_docs, read_queries, several)
from .trec import DOC_SUFFIXES, is_trec_folder, load_trec, load_trec_corpus, read_topics, read_trec_docs, trec_files
from .types import Corpus, Dataset, Qrels, QuerySet, ValidationReport
from .validation import ReportBuilder, build_corpus, build_qrels, build_queries, finish, parse_qrels, suffix

FORMATS = ("beir", "trec", "jsonl", "csv", "smart")
_FOLDER_LOADERS = {
    "beir": load_beir,
    "jsonl": load_tabular_folder,
    "csv": load_tabular_folder,
    "trec": load_trec,
    "smart": load_smart,
}
_UNRECOGNISED = "cannot recognise the dataset format"
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


# The format a corpus file is read in, by what :func:`~.sniff.sniff` finds in it.
CORPUS_FORMATS = {"trec-docs": "trec", "jsonl-corpus": "jsonl", "jsonl-queries": "jsonl",
                  "csv-corpus": "csv", "csv-queries": "csv", "smart": "smart"}


def _file_format(p: Path) -> str | None:
    """A corpus file's format: by its content (the one recognition, :func:`~.sniff.sniff`), by its
    suffix only where the content says nothing; a file of topics or qrels is refused by name.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "docs.txt"
    >>> _ = p.write_text("<DOCNO> d1 </DOCNO>\\n<TEXT>cats purr</TEXT>\\n")
    >>> _file_format(p)
    'trec'
    """
    kind, how = sniff(p)
    if kind is not None:
        if kind not in CORPUS_FORMATS:
            raise DataError(f"holds {KINDS[kind]} ({how}), not a corpus", file=str(p))
        return CORPUS_FORMATS[kind]
    ext = suffix(p)
    if ext in JSONL_SUFFIXES:
        return "jsonl"
    if ext in CSV_SUFFIXES:
        return "csv"
    if ext in DOC_SUFFIXES:
        return "trec"
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
        f"{_UNRECOGNISED}. Found: {_listing(p)}. Expected one of: {_EXPECTED}",
        file=str(p),
    )


def _check_fmt(fmt: str) -> None:
    if fmt != "auto" and fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: use 'auto' or one of {', '.join(FORMATS)}")


def load_dataset(
    path: str | Path | None,
    split: str | None = None,
    fmt: str = "auto",
    *,
    corpus: str | Path | None = None,
    queries: str | Path | None = None,
    qrels: str | Path | None = None,
) -> Dataset:
    """Load a dataset folder (or a corpus file, giving a dataset with no queries) of any format.

    ``split`` selects a BEIR qrels split (default ``test``, else the only one); other formats
    have no splits. ``irds:NAME`` loads an ``ir_datasets`` collection by name (:mod:`.irds`). ``fmt`` forces a format instead of detecting it. ``corpus``, ``queries`` and
    ``qrels`` name files explicitly (``path`` may then be None): see :func:`load_files`.
    """
    if is_irds(path):   # irds:NAME, a collection by name through ir_datasets
        if corpus is not None or queries is not None or qrels is not None or fmt != "auto":
            raise DataError(f"{path}: a dataset by name takes no named files or format")
        return load_irds(path, split)
    if corpus is not None or queries is not None or qrels is not None or path is None:
        return load_files(path, corpus=corpus, queries=queries, qrels=qrels, split=split, fmt=fmt)
    _check_fmt(fmt)
    p = _existing(path)
    if fmt == "auto":
        try:
            fmt = detect_format(p)
        except DataError as exc:
            # No file is named by a convention: each file's content says what it holds.
            if p.is_dir() and _UNRECOGNISED in exc.message and _sniffed_roles(p)["corpus"]:
                return load_files(p, split=split)
            raise
        if fmt in ("jsonl", "csv") and p.is_dir() and _filled_by_content(p, _folder_roles(p, fmt, split)):
            return load_files(p, split=split)   # a corpus by name, queries or qrels by content
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
    dataset = _FOLDER_LOADERS[fmt](p, split)
    try:
        dataset.files = {
            role: [_describe(x) for x in paths] for role, paths in _folder_roles(p, fmt, split).items()
        }
    except DataError:
        pass  # the description is a courtesy; the load itself succeeded
    return dataset


def _describe(p: Path) -> str:
    kind, how = sniff(p)
    return f"{p.name}: {KINDS[kind]} ({how})" if kind else f"{p.name}: by its name"


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


# ---------------------------------------------------------------------------------------------
# Files named explicitly (``--corpus``, ``--queries-file``, ``--qrels``), recognised by content

ROLE_WORDS = {"corpus": "a corpus", "queries": "queries", "qrels": "relevance judgments (qrels)"}
ROLE_ORDER = ("corpus", "queries", "qrels")


def _first_line_no(p: Path) -> int | None:
    for n, line in enumerate(head_text(p).split("\n"), 1):
        if line.strip():
            return n
    return None


def check_role(path: str | Path, role: str) -> tuple[Path, str | None, str]:
    """``(path, kind, how)`` for a file named as ``role`` (corpus, queries, qrels).

    A missing file, a folder, or a file whose content is plainly something else (topics named
    as the corpus, documents as qrels ...) is a one-line DataError naming the file and line.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"no such file (named as the {role} file)", file=str(p))
    if p.is_dir():
        raise DataError(f"is a folder; the {role} file must be one file", file=str(p))
    kind, how = sniff(p)
    fits = kind is None or kind == "smart" or ROLES[kind] == role
    if kind in ("jsonl-corpus", "jsonl-queries", "csv-corpus", "csv-queries") and role in ("corpus", "queries"):
        fits = True  # both are id + text records: the flag decides
    if not fits:
        raise DataError(
            f"named as the {role} file, but it holds {KINDS[kind]} ({how}), not {ROLE_WORDS[role]}",
            file=str(p),
            line=_first_line_no(p),
        )
    return p, kind, how


def _read_docs(p: Path, kind: str | None, rb: ReportBuilder) -> list:
    if kind == "trec-docs":
        return read_trec_docs(p, rb)
    if kind == "smart":
        return read_smart_docs(p)
    tabular = kind in ("csv-corpus", "csv-queries") or (kind is None and suffix(p) in CSV_SUFFIXES)
    return read_docs(p, "csv" if tabular else "jsonl")


def _read_queries(p: Path, kind: str | None) -> list:
    if kind == "trec-topics":
        return read_topics(p)
    if kind == "smart":
        return read_smart_queries(p)
    if kind in ("csv-queries", "csv-corpus"):
        return read_queries(p, "csv")
    if kind in ("jsonl-queries", "jsonl-corpus"):
        return read_queries(p, "jsonl")
    if suffix(p) in (".jsonl", ".csv"):
        return read_queries(p)
    first = first_line(p).split("\t")[0].strip().lower()
    if suffix(p) == ".tsv" and first in QUERY_ID_KEYS:
        return read_queries(p)
    return read_topics(p)  # qid<TAB>text lines


def _folder_roles(folder: Path, fmt: str, split: str | None, named=()) -> dict[str, list[Path]]:
    """The files a folder's convention gives each role (as its loader would read them); a role in
    ``named`` (a file named explicitly) is not looked for, so two candidates for it are no error."""
    if fmt == "trec":
        docs, topics, qrels = trec_files(folder)
        found = {"corpus": docs, "queries": topics, "qrels": qrels}
    elif fmt == "smart":
        found = {role: [p] if p else [] for role, p in zip(ROLE_ORDER, smart_files(folder, skip=named))}
    else:
        look = {"corpus": lambda: find_one(folder, CORPUS_NAMES, "corpus"),
                "queries": lambda: find_one(folder, QUERIES_NAMES, "queries"),
                "qrels": (lambda: choose_split(folder, split)[1]) if fmt == "beir"
                else (lambda: find_one(folder, QRELS_NAMES, "qrels"))}
        found = {role: [p] for role in ROLE_ORDER if role not in named and (p := look[role]()) is not None}
    return {role: [] if role in named else found.get(role, []) for role in ROLE_ORDER}


def _sniffed_roles(folder: Path) -> dict[str, list[Path]]:
    """Each top-level file of a folder given the role its content says (unrecognised ones skipped)."""
    out: dict[str, list[Path]] = {"corpus": [], "queries": [], "qrels": []}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            kind, _ = sniff(p)
            if kind in ROLES:
                out[ROLES[kind]].append(p)
    return out


def _filled_by_content(folder: Path, roles: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """The roles a folder's names leave empty, each given the one file whose content fits it.

    ``corpus.jsonl`` beside ``questions.jsonl`` and ``judgments.tsv``: the names find the corpus,
    the contents the queries and qrels. A role two files could fill stays empty (ambiguous).
    """
    taken = {p for paths in roles.values() for p in paths}
    sniffed = _sniffed_roles(folder)
    return {role: [found[0]] for role, found in ((r, [p for p in sniffed[r] if p not in taken]) for r in roles)
            if not roles[role] and len(found) == 1}


def load_files(
    folder: str | Path | None = None,
    *,
    corpus: str | Path | None = None,
    queries: str | Path | None = None,
    qrels: str | Path | None = None,
    split: str | None = None,
    fmt: str = "auto",
) -> Dataset:
    """A dataset from files named explicitly, each overriding what ``folder`` (optional) would give.

    Each named file is recognised by its content (:func:`~.sniff.sniff`); one whose content is
    plainly not what it is named as is a DataError. Without ``corpus`` the folder's corpus is used.
    ``Dataset.files`` says, per role, which file was read and how it was recognised.
    """
    _check_fmt(fmt)
    named = {"corpus": corpus, "queries": queries, "qrels": qrels}
    checked = {r: check_role(p, r) for r, p in named.items() if p is not None}
    roles: dict[str, list[Path]] = {"corpus": [], "queries": [], "qrels": []}
    base = None
    if folder is not None:
        base = _existing(folder)
        if not base.is_dir():
            raise DataError("with explicitly named files, --dataset must be a folder", file=str(base))
        try:
            found = fmt if fmt != "auto" else detect_format(base)
        except DataError as exc:
            if corpus is None and (_UNRECOGNISED not in exc.message or not _sniffed_roles(base)["corpus"]):
                raise
            found = None
        roles = _folder_roles(base, found, split, named=checked) if found else _sniffed_roles(base)
        if found in ("jsonl", "csv"):
            by_content = _filled_by_content(base, roles)
            roles.update(by_content)      # a file named explicitly still wins (below)
        if found is None:
            for role, paths in roles.items():
                if role not in checked and len(paths) > 1:
                    raise DataError(several(role, paths), file=str(base))
    if corpus is None and not roles["corpus"]:
        raise DataError("no corpus: name a corpus file (--corpus) or a dataset folder (--dataset)")
    for role, (p, _, _) in checked.items():
        roles[role] = [p]
    kinds = {r: {p: (checked[r][1], checked[r][2]) if r in checked else sniff(p) for p in ps} for r, ps in roles.items()}
    smart = fmt == "smart" or any(k == "smart" for r in ("corpus", "queries") for k, _ in kinds[r].values())
    rb = ReportBuilder()
    corpus_paths = roles["corpus"]
    raw = [d for p in corpus_paths for d in _read_docs(p, kinds["corpus"][p][0], rb)]
    built_corpus = build_corpus(raw, rb, source=str(corpus_paths[0]))
    built_queries = build_queries([q for p in roles["queries"] for q in _read_queries(p, kinds["queries"][p][0])], rb)
    judgments = [
        j for p in roles["qrels"] for j in (read_smart_qrels(p, rb) if smart else parse_qrels(p))
    ]
    built_qrels = build_qrels(judgments, built_corpus, built_queries, rb)
    name = base.name if base is not None else (Path(corpus).name.split(".")[0] or "dataset")
    dataset = finish(name, built_corpus, built_queries, built_qrels, rb,
                     source=str(base if base is not None else corpus))
    dataset.files = {
        role: [
            f"{p.name}: {KINDS[kind] if kind else 'not recognised'} "
            f"({'named explicitly' if role in checked else how})"
            for p, (kind, how) in ps.items()
        ]
        for role, ps in kinds.items()
    }
    return dataset
