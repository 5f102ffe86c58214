"""Issue 24, part 1: processes started together on a fresh data folder all build one index.

Each round gives every process a fresh folder and releases them at once (a barrier of files), so
they reach the index's creation within milliseconds of each other: one creates it, the others
wait for the engine's lock and find it built. Before the creation lock, nearly every round lost
a process ("in use by another process" straight from the engine's create, "exists already", or
the engine's own files clashing) and could leave a shard without its metadata. The processes
build the index the way ``cascade eval`` does (:class:`VectorIndex` over the embedded store)
but nothing else, so 20 rounds stay affordable: the model loads once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # real processes, 20 rounds

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 20
PROCESSES = 2
DOCS = 8   # the smallest corpus that still needs encoding

CHILD = textwrap.dedent("""
    import json, sys, time, traceback
    from pathlib import Path
    from cascade_core.data import load_dataset
    from cascade_core.errors import CascadeError
    from cascade_core.models import resolve_model
    from cascade_core.vectors.backends import EdgeStore
    from cascade_core.vectors.index import VectorIndex

    root, dataset, rounds, n, me = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    corpus = load_dataset(dataset, split="test").corpus
    model = resolve_model("all-MiniLM-L6-v2")
    VectorIndex(EdgeStore(root / "warm-up"), corpus, model).encoder   # the model loads before the race
    for r in range(rounds):
        folder = root / f"round-{r}"
        folder.mkdir(exist_ok=True)
        (folder / f"ready-{me}").touch()
        deadline = time.monotonic() + 600   # a partner that died: stop instead of hanging
        while len(list(folder.glob("ready-*"))) < n:
            if time.monotonic() > deadline:
                sys.exit(f"round {r}: the other processes never came")
            time.sleep(0.001)
        store = EdgeStore(folder / "home" / "qdrant-edge", wait_s=600)
        out = {"round": r}
        try:
            index = VectorIndex(store, corpus, model)
            report = index.build()
            ids, scores = index.search(index.encode_queries(["cells and proteins"])[0], 5)
            out.update(ok=report.complete, ids=ids, scores=[round(float(s), 5) for s in scores])
        except CascadeError as exc:
            out.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        except Exception:
            out.update(ok=False, error=traceback.format_exc())
        finally:
            store.close()   # the engine's lock: the others open it now
        print(json.dumps(out), flush=True)
""")


@pytest.fixture
def smallest_dataset(tiny_beir, tmp_path):
    """The tiny dataset cut to its first DOCS documents and two queries judged on them."""
    out = tmp_path / "smallest"
    (out / "qrels").mkdir(parents=True)
    docs = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:DOCS]
    queries = (tiny_beir / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    (out / "corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    (out / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    ids = [json.loads(d)["_id"] for d in docs]
    (out / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{json.loads(q)['_id']}\t{ids[i]}\t1\n" for i, q in enumerate(queries)))
    return out


def test_processes_started_together_on_fresh_folders_all_build_one_index(smallest_dataset, tmp_path):
    root = tmp_path / "rounds"
    root.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(smallest_dataset), str(ROUNDS),
                               str(PROCESSES), str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=REPO)
             for i in range(PROCESSES)]
    try:
        outs = [p.communicate(timeout=1200) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    results = [json.loads(line) for out, _ in outs for line in out.splitlines() if line.startswith("{")]
    assert len(results) == ROUNDS * PROCESSES
    failed = [r for r in results if not r["ok"]]
    assert not failed, f"{len(failed)} of {len(results)} builds failed; first: {failed[0]}"
    assert len({json.dumps([r["ids"], r["scores"]]) for r in results}) == 1   # one index, the same results

    for r in range(ROUNDS):
        edge = root / f"round-{r}" / "home" / "qdrant-edge"
        shards = sorted(p for p in edge.iterdir() if p.is_dir())
        assert [p.name for p in shards] == [shards[0].name] and shards[0].name.startswith("cx-"), (r, shards)
        meta = json.loads((shards[0] / "cascade.json").read_text())
        assert (meta["model"], meta["complete"], meta["n_points"], meta["n_docs"]) == \
            ("all-MiniLM-L6-v2", True, DOCS, DOCS), (r, meta)
        assert meta["corpus"] and not list(edge.glob(".*.creating-*")), r   # no creation left behind
