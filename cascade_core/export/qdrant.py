"""The in-Qdrant part of a cascade as one Query API request: what a Qdrant user deploys.

The dashboard is where the limits are chosen; this module writes them down as Qdrant runs them.
A first pass Qdrant can run itself becomes a request on one collection with named vectors:

==============  ========================  ===================================================
first pass      named vector              the request
==============  ========================  ===================================================
``dense``       ``dense`` (cosine)        nearest to the query embedding, ``limit`` = pool
``bm25``        ``bm25`` (sparse)         nearest to the query's term counts: the dot product
                                          is rank-bm25's score exactly (see below)
``sparse``      ``splade`` (sparse)       nearest to the query's SPLADE vector (dot product)
``hybrid`` rrf  ``dense`` + ``bm25``      two prefetches of ``depth`` each, fused by RRF
==============  ========================  ===================================================

Two facts make the request return what the simulation says:

* **RRF's k.** Qdrant counts positions from 0 (``1 / (k + position)``), this tool ranks from 1
  (``1 / (k + rank)``, as the paper): our ``rrf_k=60`` is Qdrant's ``k=61``. The export converts
  and says so.
* **BM25's weights.** A document's ``bm25`` vector holds, per term, rank-bm25's
  ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))`` with this corpus's idf (the
  negative ones floored as rank-bm25 does) and the query's vector each term's count, so the dot
  product is the BM25 score to float precision. The idf is frozen at export: a collection that
  grows should use Qdrant's own ``Modifier.IDF`` instead (a slightly different idf: say so to
  whoever compares). Term ids are positions in the exported vocabulary (``.vocab.json``).

A hybrid's fusion says how Qdrant runs it (:meth:`cascade_core.fusion.Fusion.qdrant`): ``rrf``
and ``dbsf`` exactly; ``norm-sum`` has no Qdrant equivalent (min-max normalisation needs each list
whole), so DBSF stands in and the plan is marked approximate. Stages after the
first pass (cross-encoders, LLMs, any rerank) are listed as application-side steps.

>>> from cascade_core.cascade import CascadeSpec
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "hybrid", "params": {"depth": 50}}, "pool_size": 100,
...     "stages": [{"scorer": {"kind": "cross"}, "keep": 20}], "final_k": 10})
>>> p = plan(spec)
>>> p.request["query"], [(f["using"], f["limit"]) for f in p.request["prefetch"]], p.request["limit"]
({'rrf': {'k': 61}}, [('dense', 100), ('bm25', 100)], 100)
>>> p.exact, p.app_steps[0][:32]
(True, 'cross-encoder (keep 20): score t')
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..cascade.spec import CascadeSpec
from ..errors import SpecError
from ..fusion import QdrantFusion, Replace
from ..scorers.base import ScorerConfig, ScorerContext, canonical_kind, retriever_class
from ..scorers.bm25 import BM25Index, parse_bm25_params
from ..scorers.dense import DEFAULT_BI_ENCODER
from ..scorers.sparse import DEFAULT_SPARSE

DENSE, BM25, SPLADE = "dense", "bm25", "splade"
QDRANT_KINDS = ("dense", "bm25", "sparse", "hybrid")
SPARSE_FILL = ("a sparse search returns only documents sharing a term with the query: where fewer than the "
               "pool match, Qdrant returns fewer documents than the tool's first pass, which fills the pool with "
               "score-0 documents in corpus order (they carry no signal); every document that scores is ranked "
               "the same")
BM25_WEIGHT = ("weight(term) = idf[term] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl)), tf the "
               "term's count in the document's tokens, doc_len their number; idf, k1, b and avgdl in the "
               "vocabulary file")
TOKENS = ("tokens: lower-cased \\w+ words of title + text, NLTK English stopwords removed (stopwords on), "
          "Snowball English stemming (stem on), as cascade_core.data.text.get_tokenizer(stem, stopwords).tokenize")


@dataclass
class QdrantPlan:
    """A spec's first pass as a Query API request (REST body, placeholders for query vectors)."""

    spec: CascadeSpec
    request: dict
    vectors: dict[str, dict]              # named vector -> {"type": "dense"|"sparse", "from": ...}
    exact: bool = True                    # the request returns the simulated first pass
    notes: list[str] = field(default_factory=list)
    app_steps: list[str] = field(default_factory=list)
    fusion: QdrantFusion | None = None    # how Qdrant fuses the prefetches (a hybrid first pass)

    def to_json(self, collection: str) -> dict:
        """Everything a REST user needs: the collection's vectors, the query body, the rest."""
        return {
            "collection": collection,
            "create_collection": {"PUT": f"/collections/{collection}", "body": _collection_body(self.vectors)},
            "query": {"POST": f"/collections/{collection}/points/query", "body": self.request},
            "points": {"id": "any unique id per document (this tool: a UUID5 of the document id)",
                       "payload": {"doc_id": "the document id"},
                       "vectors": {name: v["document"] for name, v in self.vectors.items()}},
            "query_vectors": {name: v["from"] for name, v in self.vectors.items()},
            "exact": self.exact,
            "notes": self.notes,
            "application_side_steps": self.app_steps,
            "spec": self.spec.to_dict(),
        }


def plan(spec: CascadeSpec) -> QdrantPlan:
    """The Query API request for ``spec``'s first pass (SpecError for a first pass Qdrant cannot run)."""
    fp = spec.first_pass
    kind = canonical_kind(fp.kind, retriever=True)
    notes: list[str] = []
    if kind == "dense":
        vectors = {DENSE: _dense_vector(fp)}
        request = {"query": f"<{DENSE}>", "using": DENSE, "limit": spec.pool_size}
    elif kind == "bm25":
        notes.append(SPARSE_FILL)
        vectors = {BM25: _bm25_vector(fp)}
        request = {"query": f"<{BM25}>", "using": BM25, "limit": spec.pool_size}
    elif kind == "sparse":
        notes.append(SPARSE_FILL)
        vectors = {SPLADE: _splade_vector(fp)}
        request = {"query": f"<{SPLADE}>", "using": SPLADE, "limit": spec.pool_size}
    elif kind == "hybrid":
        params = fp.params
        depth = max(int(params.get("depth", 100)), spec.pool_size)
        hybrid = retriever_class(kind)
        vectors = {DENSE: _dense_vector(fp), BM25: _bm25_vector(ScorerConfig("bm25", None, hybrid.bm25_params(params)))}
        fusion = hybrid.fused_by(params).qdrant()
        if fusion is None:
            raise SpecError(f"the hybrid's fusion {hybrid.fused_by(params).label} has no Qdrant equivalent")
        if fusion.note:
            notes.append(fusion.note)
        request = {"prefetch": [{"query": f"<{DENSE}>", "using": DENSE, "limit": depth},
                                {"query": f"<{BM25}>", "using": BM25, "limit": depth}],
                   "query": fusion.query, "limit": spec.pool_size}
        notes.append(SPARSE_FILL)
        result = QdrantPlan(spec, request, vectors, fusion.exact, notes, fusion=fusion)
        result.app_steps = _app_steps(spec)
        return result
    else:
        raise SpecError(f"a {fp.kind} first pass does not run inside Qdrant; these do: {', '.join(QDRANT_KINDS)}")
    result = QdrantPlan(spec, request, vectors, True, notes)
    result.app_steps = _app_steps(spec)
    return result


def _dense_vector(fp: ScorerConfig) -> dict:
    model = fp.model or DEFAULT_BI_ENCODER
    return {"type": "dense", "from": f"the query's embedding by {model} (cosine)", "model": model,
            "document": f"the document's embedding by {model} (title + text, cut to the model's limit, unit length)"}


def _bm25_vector(fp: ScorerConfig) -> dict:
    params = parse_bm25_params(fp.params)
    return {"type": "sparse", "params": params,
            "from": "the query's BM25 tokens (cascade_core.data.text, stemming "
                    f"{'on' if params['stem'] else 'off'}, stopwords {'out' if params['stopwords'] else 'kept'}) "
                    "as {vocabulary index: count}, terms missing from the vocabulary left out",
            "document": f"{{vocabulary index: weight}} over the document's terms: {BM25_WEIGHT}; {TOKENS}"}


def _splade_vector(fp: ScorerConfig) -> dict:
    model = fp.model or DEFAULT_SPARSE
    return {"type": "sparse", "model": model, "params": dict(fp.params),
            "from": f"the query's SPLADE vector by {model} (non-zero vocabulary weights)",
            "document": f"the document's SPLADE vector by {model}: {{model vocabulary id: weight}}, the non-zero "
                        "max over tokens of log(1 + relu(logit))"}


def _app_steps(spec: CascadeSpec) -> list[str]:
    steps = []
    for name, stage in zip(spec.stage_names[1:], spec.stages):
        steps.append(f"{name} (keep {stage.keep}): score the candidates Qdrant returns in the application, "
                     f"{'replacing earlier scores' if stage.fusion == Replace() else 'combined with earlier scores by ' + stage.fusion.label}, "
                     "keep the top")
    steps.append(f"final: the top {spec.final_k}")
    return steps


def _collection_body(vectors: dict[str, dict]) -> dict:
    body: dict = {}
    dense = {n: v for n, v in vectors.items() if v["type"] == "dense"}
    sparse = [n for n, v in vectors.items() if v["type"] == "sparse"]
    if dense:
        body["vectors"] = {n: {"size": "<the model's dimension>", "distance": "Cosine"} for n in dense}
    if sparse:
        body["sparse_vectors"] = {n: {} for n in sparse}
    return body


# -- code for qdrant-client users --------------------------------------------------------------

BM25_HELPERS = '''
# BM25 as sparse vectors: the vocabulary file holds {"vocabulary": {term: index}, "idf": [...], "k1", "b",
# "avgdl"}. Tokens must be made as this tool makes them (see the JSON's "points" and "query_vectors").
def bm25_query_vector(tokens: list[str], vocab: dict) -> tuple[list[int], list[float]]:
    counts: dict[int, float] = {}
    for token in tokens:
        index = vocab["vocabulary"].get(token)
        if index is not None:
            counts[index] = counts.get(index, 0.0) + 1.0
    ids = sorted(counts)
    return ids, [counts[i] for i in ids]


def bm25_document_vector(tokens: list[str], vocab: dict) -> tuple[list[int], list[float]]:
    k1, b, avgdl, idf = vocab["k1"], vocab["b"], vocab["avgdl"], vocab["idf"]
    tf: dict[int, int] = {}
    for token in tokens:
        index = vocab["vocabulary"].get(token)
        if index is not None:
            tf[index] = tf.get(index, 0) + 1
    norm = k1 * (1 - b + b * len(tokens) / avgdl)
    ids = sorted(tf)
    return ids, [idf[i] * tf[i] * (k1 + 1) / (tf[i] + norm) for i in ids]
'''


def python_code(p: QdrantPlan, collection: str) -> str:
    """A qdrant-client function running ``p``, and for BM25 the functions that make its sparse vectors."""
    lines = [
        '"""The first pass of this cascade as one Qdrant Query API request (written by `cascade export --qdrant`)."""',
        "from qdrant_client import QdrantClient, models",
        "",
        f"COLLECTION = {collection!r}",
        "",
        "",
        "def first_pass(client: QdrantClient, vectors: dict) -> list[str]:",
        f'    """Document ids of the top {p.spec.pool_size}. ``vectors``: the query\'s vectors by name '
        f'({", ".join(p.vectors)}): a list of floats for a dense one, (indices, values) for a sparse one."""',
    ]

    def q(name: str) -> str:
        if p.vectors[name]["type"] == "sparse":
            return f"models.SparseVector(indices=vectors[{name!r}][0], values=vectors[{name!r}][1])"
        return f"vectors[{name!r}]"

    r = p.request
    if "prefetch" in r:
        pre = ",\n".join(f"            models.Prefetch(query={q(f['using'])}, using={f['using']!r}, limit={f['limit']})"
                         for f in r["prefetch"])
        fusion = p.fusion.client_code
        lines += ["    result = client.query_points(", "        COLLECTION,", "        prefetch=[", pre, "        ],",
                  f"        query={fusion},", f"        limit={r['limit']},", '        with_payload=["doc_id"],', "    )"]
    else:
        lines += [f"    result = client.query_points(COLLECTION, query={q(r['using'])}, using={r['using']!r}, "
                  f"limit={r['limit']},", '                                 with_payload=["doc_id"])']
    lines += ['    return [point.payload["doc_id"] for point in result.points]', ""]
    if BM25 in p.vectors:
        lines += BM25_HELPERS.splitlines() + [""]
    if p.app_steps:
        lines += ["# Then, in the application:"] + [f"#   {s}" for s in p.app_steps] + [""]
    for note in p.notes:
        lines.append(f"# Note: {note}")
    return "\n".join(lines) + "\n"


# -- the collection and the query vectors --------------------------------------------------------

class QueryVectors:
    """The named vectors of a plan: for the corpus (to fill a collection) and for a query.

    Built from what the tool already has: dense vectors from its vector index, SPLADE rows from its
    sparse index, BM25 weights from its BM25 index (nothing is encoded twice).
    """

    def __init__(self, p: QdrantPlan, corpus, workspace):
        self.plan, self.corpus, self.workspace = p, corpus, workspace
        self._bm25 = None
        self._vocab: dict[str, int] | None = None

    # the parts, each opened once
    def _dense_retriever(self):
        return self.workspace.retriever(ScorerConfig("dense", self.plan.vectors[DENSE]["model"]), self.corpus)

    def _splade_retriever(self):
        v = self.plan.vectors[SPLADE]
        return self.workspace.retriever(ScorerConfig("sparse", v["model"], v["params"]), self.corpus)

    def bm25(self):
        if self._bm25 is None:
            self._bm25 = BM25Index.shared(ScorerContext(self.corpus, self.workspace), self.plan.vectors[BM25]["params"])
            self._vocab = {term: i for i, term in enumerate(sorted(self._bm25.model.idf))}
        return self._bm25

    @property
    def vocabulary(self) -> dict:
        """What a user needs to make BM25's sparse vectors without this tool: the term indexes, each
        term's idf (rank-bm25's, negative ones floored), k1, b and the corpus's average length."""
        m = self.bm25().model
        terms = sorted(self._vocab, key=self._vocab.get)
        return {"vocabulary": dict(self._vocab), "idf": [float(m.idf[t]) for t in terms], "k1": float(m.k1),
                "b": float(m.b), "avgdl": float(m.avgdl), "documents": len(m.doc_len)}

    def prepare(self, progress=None) -> None:
        """Build what the vectors come from (the indexes), as a cascade's first pass would."""
        if DENSE in self.plan.vectors:
            self._dense_retriever().prepare(progress)
        if SPLADE in self.plan.vectors:
            self._splade_retriever().prepare(progress)

    def documents(self, doc_ids: Sequence[str]) -> dict[str, list]:
        """Per named vector, one vector per document: a float list, or ``(indices, values)``."""
        out: dict[str, list] = {}
        if DENSE in self.plan.vectors:
            out[DENSE] = [v.tolist() for v in self._dense_retriever().index.vectors(doc_ids)]
        if SPLADE in self.plan.vectors:
            rows = self._splade_retriever().index.rows(doc_ids).tocsr()
            out[SPLADE] = [(rows.indices[rows.indptr[i]:rows.indptr[i + 1]].tolist(),
                            rows.data[rows.indptr[i]:rows.indptr[i + 1]].astype(float).tolist())
                           for i in range(rows.shape[0])]
        if BM25 in self.plan.vectors:
            out[BM25] = [self._bm25_doc(d) for d in doc_ids]
        return out

    def _bm25_doc(self, doc_id: str) -> tuple[list[int], list[float]]:
        index = self.bm25()
        m, vocab = index.model, self._vocab
        i = index.position[doc_id]
        norm = m.k1 * (1 - m.b + m.b * m.doc_len[i] / m.avgdl)
        terms = sorted(m.doc_freqs[i].items(), key=lambda kv: vocab[kv[0]])
        return ([vocab[t] for t, _ in terms],
                [float(m.idf[t] * tf * (m.k1 + 1) / (tf + norm)) for t, tf in terms])

    def query(self, text: str) -> dict:
        """Per named vector, the query's vector."""
        out: dict = {}
        if DENSE in self.plan.vectors:
            out[DENSE] = self._dense_retriever().index.encode_queries([text])[0].tolist()
        if SPLADE in self.plan.vectors:
            dense = np.asarray(self._splade_retriever().query_vector(text)).ravel()
            nz = np.flatnonzero(dense)
            out[SPLADE] = (nz.tolist(), dense[nz].astype(float).tolist())
        if BM25 in self.plan.vectors:
            counts: dict[int, int] = {}
            for token in self.bm25().tokenizer.tokenize(text):
                if token in self._vocab:   # a term no document has scores 0 in rank-bm25 too
                    counts[self._vocab[token]] = counts.get(self._vocab[token], 0) + 1
            ids = sorted(counts)
            out[BM25] = (ids, [float(counts[i]) for i in ids])
        return out


def point_id(doc_id: str) -> str:
    """The collection's point id of a document (a UUID derived from its id, as the vector index's)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cascade-doc:{doc_id}"))


def build_edge_collection(folder: str | Path, p: QdrantPlan, vectors: QueryVectors, batch: int = 256):
    """A Qdrant Edge shard at ``folder`` with the plan's named vectors for every document, and
    ``doc_id`` in each payload; returns the open shard (close it when done)."""
    from qdrant_edge import (Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, Point,
                             SparseVector, UpdateOperation)

    vectors.prepare()
    ids = vectors.corpus.ids
    first = vectors.documents(ids[:1])
    dense = {n: EdgeVectorParams(size=len(first[n][0]), distance=Distance.Cosine)
             for n, v in p.vectors.items() if v["type"] == "dense"}
    sparse = {n: EdgeSparseVectorParams() for n, v in p.vectors.items() if v["type"] == "sparse"}
    shard = EdgeShard.create(str(folder), EdgeConfig(vectors=dense, sparse_vectors=sparse or None))
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        docs = vectors.documents(chunk)
        points = []
        for j, doc_id in enumerate(chunk):
            named = {}
            for name, values in docs.items():
                v = values[j]
                named[name] = SparseVector(indices=v[0], values=v[1]) if p.vectors[name]["type"] == "sparse" else v
            points.append(Point(point_id(doc_id), named, {"doc_id": doc_id}))
        shard.update(UpdateOperation.upsert_points(points))
    shard.flush()
    return shard


def run_on_edge(shard, p: QdrantPlan, query_vectors: dict) -> tuple[list[str], list[float]]:
    """Run the plan's request (its REST body, read as Qdrant reads it) on an Edge shard:
    the document ids and scores Qdrant returns. Exact search, as the tool's small indexes."""
    import qdrant_edge
    from qdrant_edge import Prefetch, Query, QueryRequest, SearchParams, SparseVector

    def nearest(spec: dict):
        name = spec["using"]
        v = query_vectors[name]
        vector = SparseVector(indices=v[0], values=v[1]) if p.vectors[name]["type"] == "sparse" else v
        return Query.Nearest(vector, using=name)

    r = p.request
    exact = SearchParams(exact=True)
    if "prefetch" in r:
        prefetches = [Prefetch(limit=f["limit"], query=nearest(f), params=exact) for f in r["prefetch"]]
        fusion = p.fusion.edge(qdrant_edge)
        request = QueryRequest(limit=r["limit"], prefetches=prefetches, query=fusion, with_payload=["doc_id"])
    else:
        request = QueryRequest(limit=r["limit"], query=nearest(r), params=exact, with_payload=["doc_id"])
    points = shard.query(request)
    return [pt.payload["doc_id"] for pt in points], [float(pt.score) for pt in points]


def same_ranking(ours: Sequence[str], theirs: Sequence[str], their_scores: Sequence[float],
                 tol: float = 1e-5) -> bool:
    """Whether Qdrant's list is the simulated one, up to ties: documents whose (float32) scores
    tie within ``tol`` may trade places, and a tie at the cut-off may bring in another document.

    >>> same_ranking(["a", "b", "c"], ["a", "c", "b"], [3.0, 2.0, 2.0])
    True
    >>> same_ranking(["a", "b", "c"], ["a", "c", "b"], [3.0, 2.5, 2.0])
    False
    """
    if list(ours) == list(theirs):
        return True
    if len(ours) != len(theirs):
        return False
    last = len(theirs) - 1
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a == b:
            continue
        tied = [j for j in range(len(theirs)) if abs(their_scores[j] - their_scores[i]) <= tol * max(1.0, abs(their_scores[i]))]
        if a not in [theirs[j] for j in tied] and last not in tied:
            return False
    return True


def compare_lists(ours: Sequence[str], theirs: Sequence[str], their_scores: Sequence[float],
                  max_shift: int = 3) -> str:
    """``"identical"`` (up to tied scores, :func:`same_ranking`), ``"ties"`` (the same documents,
    none more than ``max_shift`` places away: what a tie inside one fused list does, since RRF
    turns a tie's order into a rank), or ``"differ"``.

    >>> compare_lists(["a", "b", "c", "d"], ["a", "c", "b", "d"], [4.0, 3.0, 2.0, 1.0])
    'ties'
    >>> compare_lists(list("abcdefgh"), list("hgfedcba"), [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    'differ'
    """
    if same_ranking(ours, theirs, their_scores):
        return "identical"
    where = {d: i for i, d in enumerate(theirs)}
    inner = list(ours[:-max_shift]) if len(ours) > max_shift else []   # a tie at the cut-off may swap the last
    if len(ours) == len(theirs) and all(d in where and abs(where[d] - i) <= max_shift for i, d in enumerate(inner)):
        return "ties"
    return "differ"


def write_export(path: str | Path, p: QdrantPlan, collection: str, vocabulary: dict | None = None) -> list[Path]:
    """Write ``path`` (the REST JSON), ``path`` with ``.py`` (qdrant-client) and, for BM25, the
    vocabulary (``.vocab.json``: term -> sparse index, idf, k1, b, avgdl). Returns the files written."""
    out = Path(path)
    body = p.to_json(collection)
    written = [out, out.with_suffix(".py")]
    if vocabulary is not None and BM25 in p.vectors:
        vocab_path = out.with_suffix(".vocab.json")
        vocab_path.write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        body["bm25_vocabulary"] = vocab_path.name
        written.append(vocab_path)
    out.write_text(json.dumps(body, indent=2), encoding="utf-8")
    out.with_suffix(".py").write_text(python_code(p, collection), encoding="utf-8")
    return written
