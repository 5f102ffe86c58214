"""Precomputed embeddings keyed by document id: read, check, and match them to a corpus.

Users who already embedded their corpus (or the bundled sample, whose vectors ship with it) index
those vectors instead of encoding again. Accepted files:

===============================  ==============================================================
``vectors.npy`` + ids file       one row per document; ids in ``vectors.ids.txt`` (one per line),
                                 ``vectors.ids.json`` (a list), or named with ``ids=``
``vectors.npz``                  arrays ``ids`` and ``vectors`` (``embeddings`` also accepted)
``vectors.parquet``              a column ``id`` (or ``_id``, ``doc_id``, ``docid``) and a column
                                 ``vector`` (or ``embedding``) of equal-length lists
===============================  ==============================================================

Every problem is one :class:`~cascade_core.errors.DataError` naming the file: no ids, ids and rows
that differ in count, duplicate ids, a dimension other than the model's, non-finite values, and
(against a corpus) ids the corpus lacks or documents without a vector.

>>> import tempfile, pathlib, numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> np.save(folder / "v.npy", np.eye(3, dtype=np.float16))
>>> _ = (folder / "v.ids.txt").write_text("d1\\nd2\\nd3\\n")
>>> vecs = read_vectors(folder / "v.npy")
>>> vecs.ids, vecs.dim, vecs.matrix.dtype
(['d1', 'd2', 'd3'], 3, dtype('float32'))
>>> vecs.check(dim=3, doc_ids=["d1", "d2", "d3", "d4"]).missing
['d4']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError
from ..readback import Unreadable, loads, shipped_manifest

ID_COLUMNS = ("id", "_id", "doc_id", "docid")
VECTOR_COLUMNS = ("vector", "embedding", "embeddings")
MAX_LISTED = 5   # ids named in a message; the rest are counted


@dataclass
class VectorCheck:
    """How a vector file matches a corpus: documents without a vector, vectors of no document."""

    missing: list[str] = field(default_factory=list)     # corpus documents the file has no vector for
    unknown: list[str] = field(default_factory=list)     # ids in the file the corpus does not have

    def summary(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing):,} documents have no vector ({_some(self.missing)})")
        if self.unknown:
            parts.append(f"{len(self.unknown):,} vectors name no document of the corpus ({_some(self.unknown)})")
        return "; ".join(parts) or "every document has exactly one vector"


@dataclass
class PrecomputedVectors:
    """Document ids and their vectors (float32, one row per id, in file order)."""

    ids: list[str]
    matrix: np.ndarray
    source: str

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def fingerprint(self) -> str:
        """A hash of ids and values: the same vectors give the same fingerprint (16 hex digits)."""
        h = hashlib.sha1()
        h.update("\n".join(self.ids).encode("utf-8"))
        h.update(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def check(self, dim: int | None = None, doc_ids: Sequence[str] | None = None,
              allow_missing: bool = True) -> VectorCheck:
        """Check the dimension against a model's (DataError if it differs) and the ids against a
        corpus: vectors naming unknown documents are an error; documents without a vector are
        returned (the caller encodes them) or, with ``allow_missing=False``, an error."""
        if dim is not None and self.dim != dim:
            raise DataError(f"the vectors have {self.dim} dimensions, the model's have {dim}: they were made by "
                            "another model (or name the model that made them)", file=self.source)
        result = VectorCheck()
        if doc_ids is not None:
            have, want = set(self.ids), set(doc_ids)
            result.unknown = [i for i in self.ids if i not in want]
            result.missing = [d for d in doc_ids if d not in have]
            if result.unknown:
                raise DataError(f"{len(result.unknown):,} of {len(self.ids):,} vectors name documents the corpus "
                                f"does not have ({_some(result.unknown)}): another corpus's vectors?", file=self.source)
            if result.missing and not allow_missing:
                raise DataError(f"{result.summary()}", file=self.source)
        return result

    def rows_for(self, doc_ids: Sequence[str]) -> np.ndarray:
        """The vectors of ``doc_ids``, in that order (each must have one)."""
        where = {d: i for i, d in enumerate(self.ids)}
        return self.matrix[[where[d] for d in doc_ids]]


def _some(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED:,} more" if len(ids) > MAX_LISTED else "")


def read_vectors(path: str | Path, ids: str | Path | None = None) -> PrecomputedVectors:
    """Read a vector file (``.npy`` with its ids, ``.npz`` or ``.parquet``) and check its shape,
    values and ids. ``ids`` names the ids file of a ``.npy`` when it is not beside it."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("no such vector file", file=str(p))
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            matrix = np.load(p, allow_pickle=False)
            id_list = _read_ids(Path(ids).expanduser() if ids else _ids_beside(p), p)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as archive:
                names = set(archive.files)
                key = next((k for k in ("vectors",) + VECTOR_COLUMNS if k in names), None)
                if "ids" not in names or key is None:
                    raise DataError(f"a .npz of vectors holds arrays 'ids' and 'vectors' (found: {sorted(names)})",
                                    file=str(p))
                matrix, id_list = archive[key], [str(i) for i in archive["ids"].tolist()]
        elif suffix == ".parquet":
            matrix, id_list = _read_parquet(p)
        else:
            raise DataError("a vector file is .npy (with an ids file), .npz or .parquet", file=str(p))
    except DataError:
        raise
    except (ValueError, OSError, EOFError) as exc:   # a damaged or pickled file (allow_pickle=False)
        raise DataError(f"cannot read the vectors: {str(exc).splitlines()[0][:200]}", file=str(p)) from None
    return _checked(np.asarray(matrix), id_list, str(p))


def _ids_beside(p: Path) -> Path:
    for candidate in (p.with_suffix(".ids.txt"), p.with_suffix(".ids.json"), p.with_name("ids.txt"),
                      p.with_name("ids.json")):
        if candidate.is_file():
            return candidate
    raise DataError(f"no ids for these vectors: put them in {p.with_suffix('.ids.txt').name} (one id per line) "
                    "or name the ids file", file=str(p))


def _read_ids(path: Path, vectors: Path) -> list[str]:
    if not path.is_file():
        raise DataError("no such ids file", file=str(path))
    text = path.read_text(encoding="utf-8", errors="strict")
    if path.suffix.lower() == ".json":
        try:
            data = loads(text)
        except Unreadable as exc:
            raise DataError(str(exc), file=str(path)) from None
        if not isinstance(data, list):
            raise DataError("expected a JSON list of document ids", file=str(path))
        return [str(i) for i in data]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_parquet(p: Path) -> tuple[np.ndarray, list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    names = table.column_names
    id_col = next((c for c in ID_COLUMNS if c in names), None)
    vec_col = next((c for c in VECTOR_COLUMNS if c in names), None)
    if id_col is None or vec_col is None:
        raise DataError(f"expected an id column ({', '.join(ID_COLUMNS)}) and a vector column "
                        f"({', '.join(VECTOR_COLUMNS)}); found {names}", file=str(p))
    vectors = table.column(vec_col).to_pylist()
    lengths = {len(v) if v is not None else 0 for v in vectors}
    if len(lengths) > 1:
        raise DataError(f"vectors of different lengths ({sorted(lengths)[:5]}) in column {vec_col!r}", file=str(p))
    return np.asarray(vectors, dtype=np.float32), [str(i) for i in table.column(id_col).to_pylist()]


def _checked(matrix: np.ndarray, ids: list[str], source: str) -> PrecomputedVectors:
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise DataError(f"expected a 2-d array (documents x dimensions), found shape {matrix.shape}", file=source)
    if not np.issubdtype(matrix.dtype, np.number):
        raise DataError(f"expected numbers, found {matrix.dtype}", file=source)
    if len(ids) != matrix.shape[0]:
        raise DataError(f"{len(ids):,} ids for {matrix.shape[0]:,} vectors: one id per row", file=source)
    seen: set[str] = set()
    dupes = [i for i in ids if i in seen or seen.add(i)]
    if dupes:
        raise DataError(f"{len(dupes):,} duplicate ids ({_some(dupes)})", file=source)
    matrix = matrix.astype(np.float32, copy=False)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        rows = [ids[i] for i in np.flatnonzero(bad)]
        raise DataError(f"{len(rows):,} vectors hold NaN or infinite values ({_some(rows)})", file=source)
    return PrecomputedVectors(ids=list(ids), matrix=matrix, source=source)


# -- vectors shipped beside a dataset (the bundled sample's) -------------------------------------

SHIPPED_FOLDER = "vectors"   # beside the corpus file: vectors/<model>.npy, .ids.txt and .json


def shipped_path(corpus_source: str | Path, model_name: str) -> Path:
    """Where vectors of ``model_name`` for the corpus read from ``corpus_source`` would be shipped."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    where = Path(corpus_source)
    return (where if where.is_dir() else where.parent) / SHIPPED_FOLDER / f"{safe}.npy"


def find_shipped(corpus, model_name: str, model_fingerprint: str) -> tuple[PrecomputedVectors | None, str]:
    """Vectors shipped beside ``corpus`` for this model, if they were made from this very corpus
    (fingerprint) by these very weights (content fingerprint): ``(vectors, "")``, else
    ``(None, why not)`` (nothing shipped is not a reason worth saying: ``""``)."""
    if not getattr(corpus, "source", ""):
        return None, ""
    path = shipped_path(corpus.source, model_name)
    meta, why = shipped_manifest(path, corpus, "encoding instead")
    if meta is None:
        return None, why
    if meta.get("model_fingerprint") != model_fingerprint:
        return None, f"{path.name} was made by other {model_name} weights: encoding instead"
    try:
        return read_vectors(path), ""
    except DataError as exc:
        return None, f"{exc}: encoding instead"


def write_shipped(corpus, model_name: str, model_fingerprint: str, ids: Sequence[str], matrix: np.ndarray) -> Path:
    """Ship ``matrix`` (float16) beside the corpus, with the manifest :func:`find_shipped` checks."""
    path = shipped_path(corpus.source, model_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_vectors(path, ids, matrix)
    path.with_suffix(".json").write_text(json.dumps({
        "model": model_name, "model_fingerprint": model_fingerprint, "corpus": corpus.fingerprint,
        "documents": len(ids), "dim": int(np.asarray(matrix).shape[1]), "dtype": "float16",
        "how": "written by benchmarks/ship_sample_vectors.py from the tool's own index (normalised embeddings)",
    }, indent=1), encoding="utf-8")
    return path


def write_vectors(path: str | Path, ids: Sequence[str], matrix: np.ndarray, dtype=np.float16) -> Path:
    """Write ``path`` (``.npy``) and its ``.ids.txt``; float16 halves the size (rankings barely move:
    cosine of unit vectors to ~1e-3)."""
    p = Path(path)
    np.save(p, np.asarray(matrix, dtype=dtype))
    p.with_suffix(".ids.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    return p
