"""The core imports and simulates with none of the optional parts installed: no torch, Streamlit,
Plotly, Qdrant, ONNX or model package. A fresh interpreter (``-S``: no site-packages at all) is
given only NumPy, pandas, SciPy and PyYAML (and what they need): not even BM25's two libraries,
which load when a BM25 index is built; the simulation, the metrics, fusion, the spec (a BM25 first
pass in it) and the tuner import and run there."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = ("numpy", "pandas", "scipy", "yaml", "_yaml", "dateutil", "pytz", "tzdata", "six")
HEAVY = ("torch", "transformers", "sentence_transformers", "streamlit", "plotly", "qdrant_client", "qdrant_edge",
         "onnxruntime", "onnx", "rank_bm25", "Stemmer")


def core_site(folder: Path) -> Path:
    """A folder holding links to the core's packages only (and their compiled libraries)."""
    folder.mkdir()
    site = Path(importlib.util.find_spec("numpy").origin).parents[1]
    for entry in site.iterdir():
        base = entry.name.split(".")[0].split("-")[0]
        if base in CORE and not entry.name.endswith(".dist-info"):
            (folder / entry.name).symlink_to(entry)
    return folder


def test_the_simulation_and_metrics_run_without_the_optional_parts(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(core_site(tmp_path / 'site'))!r}, {str(REPO)!r}]
        for name in {HEAVY!r}:
            try:
                __import__(name)
            except ImportError:
                continue
            raise SystemExit(f"{{name}} is importable here: not an environment without the optional parts")
        import numpy as np
        import cascade_core.cascade, cascade_core.metrics, cascade_core.fusion, cascade_core.tuning
        from cascade_core import CascadeSpec, simulate
        from cascade_core.cascade import ScoreMatrix
        from cascade_core.metrics import RankedLists, evaluate
        spec = CascadeSpec.from_dict({{"first_pass": {{"kind": "bm25"}}, "pool_size": 4, "final_k": 2,
            "stages": [{{"scorer": {{"kind": "cross-encoder", "model": "m"}}, "keep": 3, "combine": "dbsf"}}]}})
        m = ScoreMatrix(["q1"], ["a", "b", "c", "d"], np.array([[0, 1, 2, 3]]), np.array([[4.0, 3, 2, 1]]),
                        [np.array([[0.1, 0.2, 0.9, 0.3]])])
        run = simulate(spec, m)
        print(run.final_doc_ids(0))
        print(sorted(set({HEAVY!r}) & set(sys.modules)))
    """)
    res = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.splitlines() == ["['c', 'a']", "[]"]   # DBSF over the pool of 4: c 1.18, a 1.07, b 0.98


def test_a_missing_extra_is_one_line_naming_it(tmp_path):
    """Loading a bi-encoder where sentence-transformers is not installed: one error line with the
    command that adds it (simulated by hiding the module from a fresh interpreter)."""
    code = textwrap.dedent("""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sentence_transformers", "torch"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Hide())
        from cascade_core.errors import CascadeError
        from cascade_core.models import load_bi_encoder, resolve_model
        try:
            load_bi_encoder(resolve_model("all-MiniLM-L6-v2"))
        except CascadeError as exc:
            print(exc)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == ("loading a bi-encoder model needs sentence_transformers, which is not installed "
                                  "here: pip install 'cascade-explorer[models]'")


def test_a_missing_vector_engine_is_one_line_for_a_library_user(tmp_path):
    """A library user without the qdrant extra, opening a data folder's vector store, meets the
    same one line as the CLI's (not a ModuleNotFoundError from deep inside)."""
    code = textwrap.dedent(f"""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("qdrant_edge", "qdrant_client"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Hide())
        from cascade_core import Workspace
        from cascade_core.errors import CascadeError
        try:
            Workspace({str(tmp_path)!r}).qdrant
        except CascadeError as exc:
            print(exc)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == ("the embedded vector index needs qdrant_edge, which is not installed here: "
                                  "pip install 'cascade-explorer[qdrant]'")
