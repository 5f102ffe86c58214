"""BEIR folders: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Layout (every file may be gzipped, e.g. ``corpus.jsonl.gz``)::

    corpus.jsonl      {"_id": "4983", "title": "...", "text": "...", "metadata": {...}}
    queries.jsonl     {"_id": "1", "text": "..."}
    qrels/test.tsv    query-id<TAB>corpus-id<TAB>score   (header line, then one pair per line)

Splits: ``split`` picks ``qrels/<split>.tsv``. With ``split=None`` the loader takes ``test``
when present, else the only split, else raises a DataError that lists the splits.

Queries: a BEIR ``queries.jsonl`` often holds the queries of every split (SciFact's holds train
and test). When qrels exist, ``Dataset.queries`` keeps only the queries that the chosen split
judges; the others are counted in the report as ``queries without judgments in split <s>
(ignored)`` (an informational count, not a warning). Without a ``qrels/`` folder every query is
kept and there are no judgments.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "Cats", "text": "Cats purr."}\\n')
>>> _ = (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "purr"}\\n{"_id": "q2", "text": "bark"}\\n')
>>> (folder / "qrels").mkdir()
>>> _ = (folder / "qrels" / "test.tsv").write_text("query-id\\tcorpus-id\\tscore\\nq1\\td1\\t1\\n")
>>> ds = load_beir(folder)
>>> ds.split, ds.queries.ids, ds.report.counts["queries without judgments in split test (ignored)"]
('test', ['q1'], 1)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .tabular import find_one, read_docs, read_queries
from .types import Dataset, QuerySet
from .validation import ReportBuilder, base_name, build_corpus, build_qrels, build_queries, finish, parse_qrels

QRELS_SUFFIXES = (".tsv", ".csv", ".txt")


def available_splits(folder: Path) -> dict[str, Path]:
    """``{split: qrels file}`` for the files in ``folder/qrels``."""
    qrels_dir = folder / "qrels"
    if not qrels_dir.is_dir():
        return {}
    splits: dict[str, Path] = {}
    for p in sorted(qrels_dir.iterdir()):
        name = base_name(p)
        if p.is_file() and not name.startswith(".") and name.endswith(QRELS_SUFFIXES):
            stem = name.rsplit(".", 1)[0]
            if stem in splits:
                raise DataError(
                    f"two qrels files for split {stem!r}: {splits[stem].name}, {p.name}; keep one",
                    file=str(qrels_dir),
                )
            splits[stem] = p
    return splits


def choose_split(folder: Path, split: str | None) -> tuple[str | None, Path | None]:
    splits = available_splits(folder)
    listed = ", ".join(splits) or "none"
    if split is not None:
        if split not in splits:
            raise DataError(
                f"no qrels for split {split!r}; available splits: {listed}", file=str(folder / "qrels")
            )
        return split, splits[split]
    if not splits:
        return None, None
    if "test" in splits:
        return "test", splits["test"]
    if len(splits) == 1:
        (only,) = splits
        return only, splits[only]
    raise DataError(
        f"several qrels splits and no 'test': choose one of {listed} (split=...)", file=str(folder / "qrels")
    )


def load_beir(folder: Path, split: str | None = None) -> Dataset:
    """Load a BEIR folder (see the module docstring for layout, splits and query selection)."""
    corpus_path = find_one(folder, ("corpus.jsonl",))
    if corpus_path is None:
        raise DataError("no corpus.jsonl (or corpus.jsonl.gz) in this BEIR folder", file=str(folder))
    split, qrels_path = choose_split(folder, split)  # before the slow part: a bad split fails fast
    rb = ReportBuilder()
    corpus = build_corpus(read_docs(corpus_path), rb, source=str(corpus_path))
    queries_path = find_one(folder, ("queries.jsonl",))
    queries = build_queries(read_queries(queries_path), rb) if queries_path else QuerySet({})
    if qrels_path is None:
        if (folder / "qrels").is_dir():
            rb.warn(
                "no-qrels",
                "the qrels folder holds no <split>.tsv file: loaded without judgments",
                str(folder / "qrels"),
            )
        qrels = build_qrels([], corpus, queries, rb)
        return finish(folder.name, corpus, queries, qrels, rb, source=str(folder))
    qrels = build_qrels(parse_qrels(qrels_path), corpus, queries, rb)
    judged = set(qrels.query_ids)
    kept = queries.subset(q for q in queries.ids if q in judged)
    rb.info[f"queries without judgments in split {split} (ignored)"] = len(queries) - len(kept)
    return finish(folder.name, corpus, kept, qrels, rb, source=str(folder), split=split)
