"""Scores shipped beside a corpus: a slow step's scores made once, checked here, then imported.

The bundled sample ships its precision stage's scores (the distilled student over the seed-001
preset's candidates: 30,000 pairs, about ten minutes of a 2-core CPU) so the demo shows a real
cross-encoder at once. They sit beside the corpus, as shipped vectors do
(:mod:`cascade_core.data.vectors`): ``scores/<hash of the scorer id>.npz`` with a ``.json``
manifest naming the step's id (kind, model content hash, parameters), the corpus fingerprint and
the machine that made them.

Nothing is taken on trust: :func:`find_shipped_scores` uses a file only for the very step id and
corpus it was made for, and the scoring loop (:func:`cascade_core.scoring.ensure.ensure_scores`)
scores the first :data:`VERIFY_QUERIES` covered queries for real (their timings are this
machine's costs) and imports the rest only when those agree with the file to :data:`TOLERANCE`.

>>> import tempfile, pathlib
>>> class Corpus: source, fingerprint = tempfile.mkdtemp(), "c1"
>>> _ = write_shipped_scores(Corpus, "cross-encoder:m", {"q one": {"d1": 1.5, "d2": -0.25}}, {"machine": "x"})
>>> shipped, why = find_shipped_scores(Corpus, "cross-encoder:m")
>>> shipped.covers("q one", ["d2", "d1"]), shipped.covers("q one", ["d3"]), why
(True, False, '')
>>> shipped.scores("q one", ["d2", "d1"]).tolist()
[-0.25, 1.5]
>>> find_shipped_scores(Corpus, "cross-encoder:other")[0] is None
True
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..readback import shipped_manifest

SHIPPED_FOLDER = "scores"   # beside the corpus file: scores/<hash>.npz and .json
VERIFY_QUERIES = 2          # covered queries scored for real before the rest is imported
TOLERANCE = 0.01            # largest difference (raw logits) between the file and this machine


def shipped_scores_path(corpus_source: str | Path, scorer_id: str) -> Path:
    """Where scores of step ``scorer_id`` for the corpus read from ``corpus_source`` would lie."""
    where = Path(corpus_source)
    name = hashlib.sha1(scorer_id.encode("utf-8")).hexdigest()[:16]
    return (where if where.is_dir() else where.parent) / SHIPPED_FOLDER / f"{name}.npz"


@dataclass
class ShippedScores:
    """One step's shipped scores: ``{query key: {doc id: score}}`` and where they came from."""

    path: Path
    scorer: str
    by_query: dict[str, dict[str, float]]
    provenance: dict

    @property
    def pairs(self) -> int:
        return sum(len(d) for d in self.by_query.values())

    def covers(self, query_key: str, doc_ids: Sequence[str]) -> bool:
        """Whether the file holds a score for every one of ``doc_ids`` under ``query_key``."""
        have = self.by_query.get(query_key)
        return bool(have) and all(d in have for d in doc_ids)

    def scores(self, query_key: str, doc_ids: Sequence[str]) -> np.ndarray:
        have = self.by_query[query_key]
        return np.asarray([have[d] for d in doc_ids], dtype=float)

    def disagreement(self, query_key: str, doc_ids: Sequence[str], scored: Sequence[float]) -> float:
        """The largest difference between this machine's scores and the file's, for one query."""
        return float(np.max(np.abs(self.scores(query_key, doc_ids) - np.asarray(scored, dtype=float)), initial=0.0))


def find_shipped_scores(corpus, scorer_id: str) -> tuple[ShippedScores | None, str]:
    """Scores shipped beside ``corpus`` for exactly this step id and corpus fingerprint:
    ``(scores, "")``, else ``(None, why not)`` (nothing shipped is not worth saying: ``""``)."""
    if not getattr(corpus, "source", ""):
        return None, ""
    path = shipped_scores_path(corpus.source, scorer_id)
    meta, why = shipped_manifest(path, corpus, "scoring instead")
    if meta is None or meta.get("scorer") != scorer_id:   # nothing, or a hash collision / hand-copied file
        return None, why
    stat = path.stat()
    by_query, why = _read_scores(str(path), stat.st_mtime_ns, stat.st_size)
    if by_query is None:
        return None, f"{path.name} {why}: scoring instead"
    return ShippedScores(path, scorer_id, by_query, meta.get("provenance") or {}), ""


@functools.lru_cache(maxsize=8)
def _read_scores(path: str, mtime_ns: int, size: int) -> tuple[dict | None, str]:
    """The file's ``{query key: {doc id: score}}`` (read once per version of the file: estimates
    ask on every page), or ``(None, what is wrong)``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            queries, q_index, docs, scores = z["queries"], z["query_index"], z["docs"], z["scores"]
    except (OSError, ValueError, KeyError) as exc:
        return None, f"could not be read ({exc})"
    if not (len(q_index) == len(docs) == len(scores)) or (len(q_index) and q_index.max() >= len(queries)) \
            or not np.all(np.isfinite(scores)):
        return None, "is inconsistent (rows of unequal length, or non-finite scores)"
    by_query: dict[str, dict[str, float]] = {}
    for qi, d, s in zip(q_index.tolist(), docs.tolist(), scores.tolist()):
        by_query.setdefault(str(queries[qi]), {})[d] = s
    return by_query, ""


def write_shipped_scores(corpus, scorer_id: str, by_query: dict[str, dict[str, float]], provenance: dict,
                         how: str = "") -> Path:
    """Write ``{query key: {doc id: score}}`` beside ``corpus`` with the manifest
    :func:`find_shipped_scores` checks (scores as float32: rankings and ties as stored)."""
    path = shipped_scores_path(corpus.source, scorer_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    queries = sorted(by_query)
    rows = [(i, d, s) for i, q in enumerate(queries) for d, s in sorted(by_query[q].items())]
    np.savez_compressed(path, queries=np.asarray(queries, dtype=str),
                        query_index=np.asarray([r[0] for r in rows], dtype=np.int32),
                        docs=np.asarray([r[1] for r in rows], dtype=str),
                        scores=np.asarray([r[2] for r in rows], dtype=np.float32))
    path.with_suffix(".json").write_text(json.dumps({
        "scorer": scorer_id, "corpus": corpus.fingerprint, "queries": len(queries), "pairs": len(rows),
        "dtype": "float32", "how": how, "provenance": provenance,
    }, indent=1), encoding="utf-8")
    return path
