"""The ONNX Runtime forward pass (cascade_core.models.fast_encoder): same rankings as the stock PyTorch
path on real MiniLM weights, the export cached and reused, and the stock path when onnxruntime is
missing or the export fails."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from cascade_core.models import fast_encoder, resolve_model

from tests.conftest import SAMPLE

pytest.importorskip("onnxruntime")


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(fast_encoder.ENV_CACHE, str(tmp_path / "onnx"))
    monkeypatch.setattr(fast_encoder, "_notes", {})
    return tmp_path / "onnx"


def _sample(n_docs=40, n_queries=6):
    docs = [json.loads(line) for line in (SAMPLE / "corpus.jsonl").open(encoding="utf-8")][:n_docs]
    queries = [json.loads(line)["text"] for line in (SAMPLE / "queries.jsonl").open(encoding="utf-8")][:n_queries]
    return [(d["title"] + " " + d["text"]).strip() for d in docs], queries


@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    model = resolve_model("all-MiniLM-L6-v2")
    return model, SentenceTransformer(model.location, device="cpu")


@pytest.mark.slow
@pytest.mark.slow
def test_minilm_fast_path_ranks_as_stock(minilm, onnx_cache):
    model, stock = minilm
    fast = fast_encoder.accelerate(stock, "bi-encoder", model)
    assert isinstance(fast, fast_encoder.FastBiEncoder), fast_encoder._notes
    assert fast_encoder.backend_of(fast).startswith("onnxruntime")
    docs, queries = _sample()
    kw = dict(batch_size=8, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    d_stock, d_fast = stock.encode(docs, **kw), fast.encode(docs, **kw)
    q_stock, q_fast = stock.encode(queries, **kw), fast.encode(queries, **kw)
    assert d_fast.shape == d_stock.shape == (len(docs), 384)
    assert np.abs(d_fast - d_stock).max() < 1e-5
    s_stock, s_fast = q_stock @ d_stock.T, q_fast @ d_fast.T
    assert np.abs(s_fast - s_stock).max() < 1e-5
    for a, b in zip(s_stock, s_fast):
        assert list(np.argsort(-a, kind="stable")[:10]) == list(np.argsort(-b, kind="stable")[:10])
    # one text in, one vector out, as the stock encode does; attributes are the stock model's
    assert fast.encode(queries[0]).shape == (384,)
    assert fast.max_seq_length == stock.max_seq_length and fast.tokenizer is stock.tokenizer


@pytest.mark.slow
@pytest.mark.slow
def test_cross_encoder_from_minilm_weights_scores_as_stock(tmp_path, onnx_cache):
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertForSequenceClassification

    # MiniLM's encoder with a fresh one-output head: real shape and weights, meaningless scores
    loc = resolve_model("all-MiniLM-L6-v2").location
    torch.manual_seed(0)
    BertForSequenceClassification.from_pretrained(loc, num_labels=1).save_pretrained(tmp_path / "ce")
    AutoTokenizer.from_pretrained(loc).save_pretrained(tmp_path / "ce")
    ce = CrossEncoder(str(tmp_path / "ce"), device="cpu", activation_fn=torch.nn.Identity())
    fast = fast_encoder.accelerate(ce, "cross-encoder", resolve_model(str(tmp_path / "ce")))
    assert isinstance(fast, fast_encoder.FastCrossEncoder), fast_encoder._notes
    docs, queries = _sample(20, 2)
    pairs = [(q, d) for q in queries for d in docs]
    a, b = ce.predict(pairs, batch_size=8), fast.predict(pairs, batch_size=8)
    assert a.shape == b.shape == (len(pairs),)
    assert np.abs(a - b).max() < 1e-4
    assert np.float32(fast.predict(pairs[0])) == pytest.approx(float(a[0]), abs=1e-4)


def test_tiny_cross_encoder_and_cache_reused(tiny_cross_encoder, onnx_cache, monkeypatch):
    import torch
    from sentence_transformers import CrossEncoder

    model = resolve_model(tiny_cross_encoder)
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    first = fast_encoder.accelerate(ce, "cross-encoder", model)
    assert isinstance(first, fast_encoder.FastCrossEncoder)
    folder = first.export_dir
    assert folder.parent.parent == onnx_cache and (folder / "model.onnx").exists()
    stamp = (folder / "model.onnx").stat().st_mtime_ns

    def no_export(*a, **k):
        raise AssertionError("exported again")

    monkeypatch.setattr(fast_encoder, "_export", no_export)
    again = fast_encoder.accelerate(ce, "cross-encoder", model)
    assert isinstance(again, fast_encoder.FastCrossEncoder) and again.export_dir == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    pairs = [("insulin", "insulin resistance in mice"), ("a", "b c d"), ("query", "")]
    assert np.allclose(again.predict(pairs), ce.predict(pairs), atol=1e-5)
    assert again.predict([]).shape == (0,)


def test_no_onnxruntime_falls_back_with_a_note(tiny_cross_encoder, onnx_cache, monkeypatch, capsys):
    import torch
    from sentence_transformers import CrossEncoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # import fails
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    got = fast_encoder.accelerate(ce, "cross-encoder", resolve_model(tiny_cross_encoder))
    assert got is ce and fast_encoder.backend_of(got) == "torch (stock)"
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(err) == 1 and "onnxruntime" in err[0] and "stock PyTorch" in err[0]
    assert not onnx_cache.exists()


def test_failed_export_falls_back(tiny_cross_encoder, onnx_cache, monkeypatch, capsys):
    import torch
    from sentence_transformers import CrossEncoder

    def broken(*a, **k):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(torch.onnx, "export", broken)
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    got = fast_encoder.accelerate(ce, "cross-encoder", resolve_model(tiny_cross_encoder))
    assert got is ce
    assert "exporter broke" in capsys.readouterr().err
    assert not list(onnx_cache.rglob("model.onnx"))


def test_switched_off(tiny_cross_encoder, onnx_cache, monkeypatch):
    import torch
    from sentence_transformers import CrossEncoder

    monkeypatch.setenv(fast_encoder.ENV_SWITCH, "0")
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    assert fast_encoder.accelerate(ce, "cross-encoder", resolve_model(tiny_cross_encoder)) is ce


def test_a_graph_that_differs_from_pytorch_is_not_used(tiny_cross_encoder, onnx_cache, monkeypatch, capsys):
    import torch
    from sentence_transformers import CrossEncoder

    monkeypatch.setattr(fast_encoder, "TOLERANCE", -1.0)   # nothing passes the check
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    assert fast_encoder.accelerate(ce, "cross-encoder", resolve_model(tiny_cross_encoder)) is ce
    err = capsys.readouterr().err
    assert "differs from PyTorch" in err and "stock PyTorch path" in err
    assert not list(onnx_cache.rglob("model.onnx"))


@pytest.mark.slow
def test_background_export_runs_in_a_child_process(tiny_cross_encoder, onnx_cache, monkeypatch):
    """Within exports_elsewhere, the export (seconds holding the interpreter lock) is a child
    process's: this process never exports, yet gets the fast path from the file the child wrote;
    outside it, this process exports as before."""
    import torch
    from sentence_transformers import CrossEncoder

    def no_export_here(*a, **k):
        raise AssertionError("exported in this process")

    monkeypatch.setattr(fast_encoder, "_export", no_export_here)
    model = resolve_model(tiny_cross_encoder)
    ce = CrossEncoder(tiny_cross_encoder, device="cpu", activation_fn=torch.nn.Identity())
    with fast_encoder.exports_elsewhere():
        fast = fast_encoder.accelerate(ce, "cross-encoder", model)
    assert isinstance(fast, fast_encoder.FastCrossEncoder)
    assert fast.export_dir.parent.parent == onnx_cache and (fast.export_dir / "model.onnx").exists()
    pairs = [("insulin", "insulin resistance in mice"), ("a", "b c d")]
    assert np.allclose(fast.predict(pairs), ce.predict(pairs), atol=1e-5)
    # A child that fails (here: no Python to run) leaves the export to this process, as before.
    for f in fast.export_dir.glob("*"):
        f.unlink()
    monkeypatch.undo()
    monkeypatch.setenv(fast_encoder.ENV_CACHE, str(onnx_cache))
    here = []
    real_export = fast_encoder._export
    monkeypatch.setattr(fast_encoder, "_export", lambda *a, **k: here.append(1) or real_export(*a, **k))
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with fast_encoder.exports_elsewhere():
        again = fast_encoder.accelerate(ce, "cross-encoder", model)
    assert here == [1] and isinstance(again, fast_encoder.FastCrossEncoder)


@pytest.mark.slow
def test_the_export_child_refuses_a_request_that_is_not_one():
    """The child reads JSON from its parent, never code: garbage, an unknown kind or missing fields
    end it with exit status 2, loading nothing."""
    import subprocess

    code = "import sys; from cascade_core.models.loading import export_in_this_child; export_in_this_child(sys.stdin)"
    for request in (b"\x80garbage", b'{"model": {"name": "x"}, "kind": "cross-encoder"}',
                    b'{"model": {"name": "a", "location": "a", "local": true, "key": "a"}, "kind": "os.system"}'):
        done = subprocess.run([sys.executable, "-c", code], input=request, capture_output=True, timeout=120)
        assert done.returncode == 2, done.stderr[-500:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_background_child_ends_when_its_parent_dies():
    """A dashboard stopped mid-export leaves no export running on: the child started with
    _background_child gets SIGTERM when its parent is killed (and runs at nice 19)."""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time; from cascade_core.models.fast_encoder import _background_child\n"
         "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], preexec_fn=_background_child())\n"
         "print(child.pid, flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert os.getpriority(os.PRIO_PROCESS, child) == 19
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:   # gone, or a zombie waiting for init to reap it
                state = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                break
            if state == "Z":
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            raise AssertionError("the child outlived its parent")
    finally:
        parent.kill()
