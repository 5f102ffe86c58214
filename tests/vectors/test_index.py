"""Vector indexes in the Qdrant engine (embedded, in process): build, resume after a kill, exact search."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cascade_core.errors import IndexingError
from cascade_core.models import load_bi_encoder, resolve_model
from cascade_core.vectors.index import list_indexes

MINILM = resolve_model("all-MiniLM-L6-v2")


@pytest.mark.slow
def test_build_is_a_no_op_the_second_time(tiny_dataset, workspace):
    index = workspace.vector_index(tiny_dataset.corpus, MINILM)
    first = index.build()
    assert first.complete and first.encoded == len(tiny_dataset.corpus)
    assert first.truncated > 0  # SciFact abstracts run past MiniLM's 256 tokens
    again = index.build()
    assert again.encoded == 0 and again.already_stored == len(tiny_dataset.corpus)
    info = index.info()
    assert info.complete and info.n_points == len(tiny_dataset.corpus) and info.dim == 384
    assert [i.name for i in list_indexes(workspace.qdrant)] == [index.name]
    assert (workspace.embedded_folder / index.name / "edge_config.json").exists()   # the engine's shard


@pytest.mark.slow
def test_partial_build_is_never_searched(tiny_dataset, workspace):
    index = workspace.vector_index(tiny_dataset.corpus, MINILM)
    index.build(tiny_dataset.corpus.ids[:10])
    assert not index.info().complete
    with pytest.raises(IndexingError, match="incomplete"):
        index.search(index.encode_queries(["cells"])[0], 5)
    rest = index.build()
    assert rest.encoded == len(tiny_dataset.corpus) - 10 and rest.complete


@pytest.mark.slow
def test_dense_search_equals_exact_cosine_ranking(tiny_dataset, workspace):
    index = workspace.vector_index(tiny_dataset.corpus, MINILM)
    index.build()
    ids = tiny_dataset.corpus.ids
    vectors = index.vectors(ids)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for qid in tiny_dataset.queries.ids[:5]:
        q = index.encode_queries([tiny_dataset.queries.text_of(qid)])[0]
        found, scores = index.search(q, 10)
        exact = vectors @ (q / np.linalg.norm(q))
        order = np.argsort(-exact, kind="stable")[:10]
        assert found == [ids[i] for i in order]
        np.testing.assert_allclose(scores, exact[order], atol=1e-5)


def test_changed_corpus_gets_a_new_index(tiny_dataset, workspace):
    from cascade_core.data import Corpus

    smaller = Corpus(list(tiny_dataset.corpus)[:-1])
    a = workspace.vector_index(tiny_dataset.corpus, MINILM)
    b = workspace.vector_index(smaller, MINILM)
    assert a.name != b.name


def test_dimension_mismatch_is_refused(tiny_dataset, workspace):
    index = workspace.vector_index(tiny_dataset.corpus, MINILM)
    workspace.qdrant.create(index.name, dim=8, metadata={"complete": False})
    with pytest.raises(IndexingError, match="8-d vectors"):
        index.build()
    assert workspace.qdrant.exists(index.name)  # nothing harmed


CHILD = textwrap.dedent("""
    import sys
    from cascade_core.data import load_dataset
    from cascade_core.models import resolve_model
    from cascade_core.scoring.workspace import Workspace
    ds = load_dataset(sys.argv[1], split="test")
    ws = Workspace(sys.argv[2])
    index = ws.vector_index(ds.corpus, resolve_model("all-MiniLM-L6-v2"))
    def progress(ev):
        print("done", ev.done, flush=True)
    report = index.build(progress=progress, chunk_size=8)
    print("encoded", report.encoded, "complete", report.complete, flush=True)
""")


@pytest.mark.slow
def test_killed_indexing_resumes_without_re_encoding(tiny_beir, tiny_dataset, tmp_path):
    home = tmp_path / "home"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(tiny_beir), str(home)],
                            stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("done") and int(line.split()[1]) >= 24:
            os.kill(proc.pid, signal.SIGKILL)  # a real kill, half way
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    from cascade_core.scoring.workspace import Workspace

    ws = Workspace(home)
    index = ws.vector_index(tiny_dataset.corpus, MINILM)
    before = index.info()
    assert not before.complete and 24 <= before.n_points < len(tiny_dataset.corpus)
    report = index.build()
    assert report.complete
    assert report.encoded == len(tiny_dataset.corpus) - before.n_points   # only what was missing
    # Same vectors as encoding everything directly.
    ids = tiny_dataset.corpus.ids
    direct = load_bi_encoder(MINILM).encode([tiny_dataset.corpus.text_of(d) for d in ids],
                                            normalize_embeddings=True)
    np.testing.assert_allclose(index.vectors(ids), direct, atol=1e-4)
    ws.close()


def test_corpus_without_text_is_refused(workspace):
    from cascade_core.data import Corpus, Document

    empty = Corpus([Document("a", "", ""), Document("b", "  ", "")])
    index = workspace.vector_index(empty, MINILM)
    with pytest.raises(IndexingError, match="no text to index"):
        index.build()
    assert not workspace.qdrant.exists(index.name)  # refused before anything is made
