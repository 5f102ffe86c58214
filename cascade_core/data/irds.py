"""Datasets by name, through ``ir_datasets`` (an optional extra): ``irds:beir/scifact/test``.

``load_dataset("irds:NAME")`` reads ``ir_datasets.load(NAME)``'s documents (``title`` and
``text`` where it has them, else its default text), queries and qrels, and checks them like
every dataset read from files (:mod:`.validation`): duplicates, empty texts, judgments of
unknown documents or queries, each counted in the report. The split is part of the name
(``beir/scifact/test``, ``msmarco-passage/dev/small``). ``ir_datasets`` downloads a collection
the first time it is asked for (into ``~/.ir_datasets``, or ``IR_DATASETS_HOME``); a download
that fails, or a name it does not know, is one :class:`~cascade_core.errors.DataError`.

>>> is_irds("irds:beir/scifact/test"), is_irds("sample_data/scifact-mini")
(True, False)
"""

from __future__ import annotations

import contextlib
import io
import logging
import re

from ..errors import DataError, require
from .types import Dataset
from .validation import Judgment, RawDoc, RawQuery, ReportBuilder, build_corpus, build_qrels, build_queries, finish

PREFIX = "irds:"


def is_irds(path) -> bool:
    """Whether a dataset path names an ``ir_datasets`` collection (``irds:NAME``)."""
    return isinstance(path, str) and path.strip().startswith(PREFIX)


def _text(record, field: str = "text") -> str:
    value = getattr(record, field, None)
    if isinstance(value, str):
        return value
    default = getattr(record, "default_text", None)
    return default() if callable(default) else ""


def failure_words(exc: BaseException) -> str:
    """What went wrong, in a few words: a host that does not resolve or answer is named; anything
    else is its type and the start of its message, cut between words.

    >>> failure_words(OSError("HTTPSConnectionPool(host='data.example.org', port=443): Max retries "
    ...                       "exceeded (Caused by NameResolutionError(...))"))
    'cannot reach data.example.org (no network here?)'
    >>> failure_words(FileNotFoundError(2, "No such file or directory"))
    'FileNotFoundError: [Errno 2] No such file or directory'
    """
    text = " ".join(str(exc).split())
    host = re.search(r"host='([^']+)'", text)
    if host:
        return f"cannot reach {host.group(1)} (no network here?)"
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_irds(path: str, split: str | None = None) -> Dataset:
    """The ``ir_datasets`` collection ``irds:NAME`` as a checked :class:`Dataset`."""
    name = path.strip()[len(PREFIX):].strip()
    where = f"{PREFIX}{name}"
    if not name:
        raise DataError("irds: needs a dataset name, e.g. irds:beir/scifact/test (see ir-datasets.com)")
    if split is not None:
        raise DataError(f"{where}: an ir_datasets name carries its split (e.g. irds:beir/scifact/test), "
                        f"so no split is asked for separately (asked for {split!r})")
    ir_datasets = require("ir_datasets", "a dataset by name (irds:...)")
    logging.getLogger("ir_datasets").setLevel(logging.ERROR)   # its progress lines are not ours to print
    try:
        collection = ir_datasets.load(name)
    except KeyError:
        raise DataError(f"ir_datasets knows no dataset {name!r}: the names are listed at https://ir-datasets.com "
                        "(e.g. irds:beir/scifact/test)") from None
    if not collection.has_docs():
        raise DataError(f"{where} has no documents (ir_datasets gives it queries or judgments only)")
    rb = ReportBuilder()
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # its progress bars and log lines, on a download
            docs = (RawDoc(str(d.doc_id), _text(d, "title") if hasattr(d, "title") else "", _text(d), {}, where, i)
                    for i, d in enumerate(collection.docs_iter(), start=1))
            corpus = build_corpus(docs, rb, source=where)
            queries = build_queries((RawQuery(str(q.query_id), _text(q), where, i)
                                     for i, q in enumerate(collection.queries_iter(), start=1)), rb) \
                if collection.has_queries() else build_queries([], rb)
            judgments = [Judgment(str(j.query_id), str(j.doc_id), int(j.relevance), where, i)
                         for i, j in enumerate(collection.qrels_iter(), start=1)] if collection.has_qrels() else []
    except DataError:
        raise
    except Exception as exc:   # noqa: BLE001 - a third party's download or parse: one line, never a traceback
        raise DataError(f"{where}: ir_datasets could not read or download it: {failure_words(exc)}. It downloads "
                        "into ~/.ir_datasets (or IR_DATASETS_HOME) on first use: that needs the network, or the "
                        "files already there") from None
    qrels = build_qrels(judgments, corpus, queries, rb)
    judged = set(qrels.query_ids)
    kept = queries.subset(q for q in queries.ids if q in judged) if judgments else queries
    if judgments:
        rb.info["queries without judgments (ignored)"] = len(queries) - len(kept)
    return finish(name.replace("/", "-"), corpus, kept, qrels, rb, source=where)
