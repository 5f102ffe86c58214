"""The data layer: corpus, queries, judgments, and loaders that say exactly what is wrong.

``load_dataset(path, split=None, fmt="auto")`` reads a BEIR, TREC, JSONL/CSV or SMART folder
(or one corpus file); ``load_corpus_file(path)`` reads a corpus alone; ``detect_format(path)``
names the format. Problems are reported with file and line: fatal ones raise
:class:`~cascade_core.errors.DataError`, recoverable ones are warnings in ``Dataset.report``.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "Cats", "text": "Cats purr."}\\n')
>>> _ = (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "purring"}\\n')
>>> _ = (folder / "qrels.tsv").write_text("q1\\td1\\t1\\n")
>>> ds = load_dataset(folder)
>>> ds.report.counts
{'documents': 1, 'queries': 1, 'judged queries': 1, 'judged pairs': 1, 'relevant pairs': 1}

Imports only the ground floor (``errors``); every loader reads files with one recognition (:mod:`.sniff`:
content first, the name a hint), and a file named explicitly wins over the folder's convention.
"""

from .loader import FORMATS, detect_format, load_corpus_file, load_dataset, load_files
from .types import Corpus, Dataset, Document, Finding, Level, Qrels, QuerySet, ValidationReport

__all__ = [
    "Corpus",
    "Dataset",
    "Document",
    "FORMATS",
    "Finding",
    "Level",
    "Qrels",
    "QuerySet",
    "ValidationReport",
    "detect_format",
    "load_corpus_file",
    "load_dataset",
    "load_files",
]
