"""Write the bundled sample's MiniLM vectors into sample_data (float16, with the manifest the index checks).

    python benchmarks/ship_sample_vectors.py [--home DIR]

Encodes the sample corpus through the tool's own indexing path (a fresh index in a temporary
data folder unless --home names one that has it), so the shipped vectors are exactly what
`cascade index` would store; then writes sample_data/scifact-mini/vectors/all-MiniLM-L6-v2.npy,
.ids.txt and .json (the corpus fingerprint and the model's content fingerprint). Run it again
whenever the sample corpus or the packaged model changes: a mismatch is detected and the vectors
are then ignored (encoded instead), never used wrongly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cascade_core.data import load_dataset  # noqa: E402
from cascade_core.data.vectors import write_shipped  # noqa: E402
from cascade_core.models import resolve_model  # noqa: E402
from cascade_core.models.fingerprint import model_fingerprint  # noqa: E402
from cascade_core.scoring.workspace import Workspace  # noqa: E402

SAMPLE = REPO / "sample_data" / "scifact-mini"
MODEL = "all-MiniLM-L6-v2"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="a data folder whose index of the sample to read (default: a fresh one)")
    args = ap.parse_args()
    dataset = load_dataset(SAMPLE, split="test")
    model = resolve_model(MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(args.home or tmp)
        index = ws.vector_index(dataset.corpus, model)
        t0 = time.perf_counter()
        report = index.build(shipped=False)   # encode: never import what is being written
        print(f"encoded {report.encoded} documents in {time.perf_counter() - t0:.1f} s "
              f"({report.already_stored} already stored)")
        ids = dataset.corpus.ids
        matrix = index.vectors(ids)
        ws.close()
    path = write_shipped(dataset.corpus, MODEL, model_fingerprint(model), ids, matrix)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(ids)} x {matrix.shape[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
