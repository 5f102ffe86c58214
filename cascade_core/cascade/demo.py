"""The bundled demo: the sample collection and the two cascades it shows, defined once.

* :data:`DEMO_SPEC` -- BM25 -> 100 -> MiniLM (fused with BM25 by a normalised sum, weight 0.5)
  -> 20 -> final 10: on the bundled SciFact sample it beats its own first pass (nDCG@10 0.737
  against 0.691, MRR@10 0.697 against 0.649; measured with ``cascade demo``). The combination was
  chosen on SciFact's 809 *train* queries, which the sample (drawn from the test split) never
  saw: BM25@100 -> MiniLM@20 there, replace 0.679, rrf 0.722, norm-sum 0.3/0.5/0.6/0.7/0.8
  0.718/0.734/0.735/0.734/0.728 against BM25's 0.696; 0.5, the even weight, is within 0.001 of
  the best.
* :data:`CAUTIONARY_SPEC` -- the same stage *replacing* BM25's order: a general-purpose
  bi-encoder on its own ranks these scientific claims worse than BM25 (nDCG@10 0.682 against
  0.691), and the doctor's harmful-stage check says so. The demo keeps it so there is a real
  failure to find.

Used by ``cascade demo`` and the dashboard's presets and demo button alike.
"""

from __future__ import annotations

from pathlib import Path

from ..fusion import NormSum
from ..scorers.dense import DEFAULT_BI_ENCODER

SAMPLE_DATASET = Path(__file__).resolve().parents[2] / "sample_data" / "scifact-mini"
BI_ENCODER = DEFAULT_BI_ENCODER

DEMO_SPEC = {
    "name": "demo: BM25 -> 100 -> MiniLM fused with BM25 -> 20",
    "first_pass": {"kind": "bm25"}, "pool_size": 100,
    "stages": [{"name": "bi-encoder", "scorer": {"kind": "bi-encoder", "model": BI_ENCODER}, "keep": 20,
                **NormSum(weight=0.5).to_spec()}],
    "final_k": 10,
}

CAUTIONARY_SPEC = {
    "name": "cautionary: MiniLM replaces BM25's order",
    "first_pass": {"kind": "bm25"}, "pool_size": 100,
    "stages": [{"name": "bi-encoder", "scorer": {"kind": "bi-encoder", "model": BI_ENCODER}, "keep": 20}],
    "final_k": 10,
}
