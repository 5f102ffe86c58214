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
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..analysis.experiment import Experiment
from ..cascade.spec import CascadeSpec
from ..errors import SpecError, require
from ..fusion import QdrantFusion
from ..scorers import registered, retriever_class
from ..scorers.in_qdrant import QdrantSearch


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
    search: QdrantSearch | None = None    # the first pass kind's declaration the plan was made from

    def describe(self) -> str:
        """What Qdrant runs, in a line: ``dense top 100 + bm25 top 100, fused by RRF k=61, limit 20``."""
        r = self.request
        if "prefetch" in r:
            parts = " + ".join(f"{f['using']} top {f['limit']}" for f in r["prefetch"])
            return f"{parts}, fused by {self.fusion.label}, limit {r['limit']}"
        return f"{r['using']} top {r['limit']}"

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
    """The Query API request for ``spec``'s first pass, from what its kind declares
    (:meth:`~cascade_core.scorers.base.Retriever.qdrant_search`); a SpecError for a first pass Qdrant
    cannot run, naming those it can."""
    fp = spec.first_pass
    search = retriever_class(fp.kind).qdrant_search(fp, spec.pool_size)
    if search is None:
        raise SpecError(f"a {fp.kind} first pass does not run inside Qdrant; these do: {', '.join(qdrant_kinds())}")
    vectors = {v.name: v.describe() for v in search.vectors}
    notes = list(dict.fromkeys(n for v in search.vectors for n in v.notes))
    fusion, exact = None, True
    if len(search.vectors) == 1:
        (v,) = search.vectors
        request = {"query": f"<{v.name}>", "using": v.name, "limit": spec.pool_size}
    else:
        fusion = search.fusion.qdrant()
        if fusion is None:
            raise SpecError(f"the first pass's fusion {search.fusion.label} has no Qdrant equivalent")
        exact = fusion.exact
        notes = ([fusion.note] if fusion.note else []) + notes
        request = {"prefetch": [{"query": f"<{v.name}>", "using": v.name, "limit": search.depth}
                                for v in search.vectors], "query": fusion.query, "limit": spec.pool_size}
    return QdrantPlan(spec, request, vectors, exact, notes, _app_steps(spec), fusion=fusion, search=search)


def qdrant_kinds() -> list[str]:
    """The first-pass kinds that declare how Qdrant runs them."""
    return [kind for kind, cls in registered(retriever=True).items() if cls.runs_in_qdrant()]


def _app_steps(spec: CascadeSpec) -> list[str]:
    steps = []
    for name, stage in zip(spec.stage_names[1:], spec.stages):
        steps.append(f"{name} (keep {stage.keep}): score the candidates Qdrant returns in the application, "
                     f"{'replacing earlier scores' if not stage.fusion.mixes else 'combined with earlier scores by ' + stage.fusion.label}, "
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
    for v in p.search.vectors:   # what a kind's vectors need beside the request (BM25's weights)
        if v.client_helpers:
            lines += v.client_helpers.splitlines() + [""]
    if p.app_steps:
        lines += ["# Then, in the application:"] + [f"#   {s}" for s in p.app_steps] + [""]
    for note in p.notes:
        lines.append(f"# Note: {note}")
    return "\n".join(lines) + "\n"


# -- the collection and the query vectors --------------------------------------------------------

class QueryVectors:
    """The named vectors of a plan: for the corpus (to fill a collection) and for a query.

    Each comes from the first pass that makes it (:meth:`~cascade_core.scorers.base.Retriever.vector_source`):
    dense vectors from the vector index, SPLADE rows from the sparse index, BM25 weights from the
    BM25 index (nothing is encoded twice).
    """

    def __init__(self, p: QdrantPlan, corpus, workspace):
        self.plan, self.corpus, self.workspace = p, corpus, workspace
        self._sources: dict = {}

    def source(self, name: str):
        if name not in self._sources:
            v = next(v for v in self.plan.search.vectors if v.name == name)
            self._sources[name] = self.workspace.retriever(v.config, self.corpus).vector_source(name)
        return self._sources[name]

    def attachments(self) -> list[tuple[str, str, dict]]:
        """Files written beside the export: ``(JSON key, file suffix, data)`` (BM25's vocabulary)."""
        return [a for a in (self.source(n).attachment() for n in self.plan.vectors) if a is not None]

    def prepare(self, progress=None) -> None:
        """Build what the vectors come from (the indexes), as a cascade's first pass would."""
        for name in self.plan.vectors:
            self.source(name).prepare(progress)

    def documents(self, doc_ids: Sequence[str]) -> dict[str, list]:
        """Per named vector, one vector per document: a float list, or ``(indices, values)``."""
        return {name: self.source(name).documents(doc_ids) for name in self.plan.vectors}

    def query(self, text: str) -> dict:
        """Per named vector, the query's vector."""
        return {name: self.source(name).query(text) for name in self.plan.vectors}


def point_id(doc_id: str) -> str:
    """The collection's point id of a document (a UUID derived from its id, as the vector index's)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cascade-doc:{doc_id}"))


def build_edge_collection(folder: str | Path, p: QdrantPlan, vectors: QueryVectors, batch: int = 256):
    """A Qdrant Edge shard at ``folder`` with the plan's named vectors for every document, and
    ``doc_id`` in each payload; returns the open shard (close it when done)."""
    require("qdrant_edge", "checking the export on an embedded Qdrant engine")
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


def write_export(path: str | Path, p: QdrantPlan, collection: str, attachments=()) -> list[Path]:
    """Write ``path`` (the REST JSON), ``path`` with ``.py`` (qdrant-client) and each attachment of
    the plan's vectors beside it (:meth:`QueryVectors.attachments`: BM25's ``.vocab.json``, term ->
    sparse index, idf, k1, b, avgdl). Returns the files written."""
    out = Path(path)
    body = p.to_json(collection)
    written = [out, out.with_suffix(".py")]
    for key, suffix, data in attachments:
        extra = out.with_suffix(suffix)
        extra.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        body[key] = extra.name
        written.append(extra)
    out.write_text(json.dumps(body, indent=2), encoding="utf-8")
    out.with_suffix(".py").write_text(python_code(p, collection), encoding="utf-8")
    return written


def check_plan(p: QdrantPlan, vectors: QueryVectors, dataset, spec: CascadeSpec, workspace,
               n: int) -> dict[str, int]:
    """Over the first ``n`` queries, how many lists the request (run on an embedded engine) returns
    identical to the simulated first pass, equal up to ties, or different (:func:`compare_lists`;
    score-0 fill left out)."""
    exp = Experiment(dataset, spec, workspace)
    queries = exp.queries.subset(exp.queries.ids[:n])
    exp = Experiment(dataset, spec, workspace, queries=queries)
    exp.ensure_scores(spec)
    run = exp.run(spec).run
    first = run.steps[0]
    pos, valid = run.corpus_positions(first)
    scores = first.scores[:, :first.keep]
    with tempfile.TemporaryDirectory(prefix="cascade-export-check-") as tmp:
        shard = build_edge_collection(Path(tmp) / "collection", p, vectors)
        try:
            counts = {"identical": 0, "ties": 0, "differ": 0}
            for q, qid in enumerate(run.matrix.query_ids):
                ours = [run.matrix.doc_ids[d] for d, v, s in zip(pos[q], valid[q], scores[q]) if v and s != 0]
                theirs, their_scores = run_on_edge(shard, p, vectors.query(queries.text_of(qid)))
                counts[compare_lists(ours, theirs, their_scores)] += 1
        finally:
            shard.close()
    return counts
