"""A dataset, a cascade and a link whose every name is a hostile tester's (issue 24, point 4): each
would be a link, an image fetched from elsewhere, coloured text, LaTeX or bold if the dashboard
rendered it as Markdown. The app tests and the browser test check that the pages show them as typed.
"""

from __future__ import annotations

import json
from pathlib import Path

EVIL = "evil.example"
HOSTILE = [
    "[Session expired](https://evil.example/login)",
    "![x](http://evil.example/p.png)",
    ":red[alert]",
    "`tick`",
    "<img src=http://evil.example/x>",
    "$x$",
    "**bold**",
]
# The dataset label a crafted ?view= link carries: one line, well under view_link.MAX_LABEL_CHARS.
LABEL = "[Session expired: sign in again](https://evil.example/login) :red[alert] $x$ ![x](http://evil.example/p.png)"
SPEC = {
    "name": "**bold** :red[alert] $x$",
    "first_pass": {"kind": "bm25"},
    "pool_size": 20,
    "stages": [
        {"name": "[Session expired](https://evil.example/login)", "scorer": {"kind": "bm25", "params": {"k1": 0.6}},
         "keep": 10},
        {"name": "![x](http://evil.example/p.png) `tick`", "scorer": {"kind": "bm25", "params": {"k1": 2.0, "b": 0.3}},
         "keep": 5},
    ],
    "final_k": 3,
}
# Typed on the Live page: with the names above, every hostile string is on some page for sure.
QUERY = "[Session expired](https://evil.example/login) <img src=http://evil.example/x> **bold** $x$ stem cells"


def doc_id(i: int) -> str:
    """The i-th document's id: a hostile string and a number (ids are unique). No spaces: TREC files,
    which the Judge page exports, cannot hold an id with one."""
    return f"{HOSTILE[i % len(HOSTILE)].replace(' ', '_')}-{i}"


def query_id(i: int) -> str:
    return f"{HOSTILE[(i + 3) % len(HOSTILE)].replace(' ', '_')}-q{i}"


def write_hostile_beir(out: Path, tiny_beir: Path) -> Path:
    """The tiny BEIR sample (tests/conftest.py) with hostile document and query ids, titles and query
    texts (the words of the original kept, so BM25 still ranks the relevant documents high)."""
    out.mkdir(parents=True, exist_ok=True)
    corpus = [json.loads(line) for line in (tiny_beir / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (tiny_beir / "queries.jsonl").open(encoding="utf-8")]
    docs = {d["_id"]: doc_id(i) for i, d in enumerate(corpus)}
    qids = {q["_id"]: query_id(i) for i, q in enumerate(queries)}
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, d in enumerate(corpus):
            title = f"{HOSTILE[(i + 1) % len(HOSTILE)]} {d.get('title', '')}"
            f.write(json.dumps({"_id": docs[d["_id"]], "title": title, "text": f"{HOSTILE[i % 7]} {d['text']}"}) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for i, q in enumerate(queries):
            f.write(json.dumps({"_id": qids[q["_id"]], "text": f"{HOSTILE[i % 7]} {q['text']}"}) + "\n")
    (out / "qrels").mkdir(exist_ok=True)
    rows = [line.rstrip("\n").split("\t") for line in (tiny_beir / "qrels" / "test.tsv").open(encoding="utf-8")][1:]
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, d, grade in rows:
            f.write(f"{qids[q]}\t{docs[d]}\t{grade}\n")
    return out
