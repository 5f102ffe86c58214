"""``rrf``: reciprocal rank fusion, ``1 / (k + rank)`` summed over the rankings.

``k`` differs between systems (Qdrant's client uses 2; Elasticsearch, Vespa, ranx and most
papers 60): always shown. Ranks only, so score scales never matter. Qdrant runs it too, counting
positions from 0: this tool's ``k`` is Qdrant's ``k + 1``, exact when that is a whole number.

>>> RRF(1).combine(np.array([[0.1, 0.9, 0.5]]), np.array([[3.0, 2.0, 1.0]]), np.ones((1, 3), bool)).round(3).tolist()
[[0.75, 0.833, 0.583]]
"""

from __future__ import annotations

import numpy as np

from ..params import Param
from .base import Fusion, QdrantFusion
from .kernels import ranks
from .registry import register_fusion


@register_fusion
class RRF(Fusion):
    name = "rrf"
    title = "reciprocal rank fusion"
    help = "reciprocal rank fusion: 1 / (k + rank) of this stage's rank plus the incoming rank"
    scale_note = "reciprocal rank fusion: ranks only, score scales do not matter"
    scale_safe = True
    view_note = "1 / (k + rank) within the query's list, k = 60: what rrf (stage combine, hybrid fusion) sums"
    parameters = (Param("rrf_k", "number", 60.0, low=0, low_open=True,
                        help="RRF's constant k (Qdrant's client uses 2; Elasticsearch, Vespa and papers 60)"),)
    tuning = ({"rrf_k": 60.0},)
    fuses_lists = True
    position = 10
    label_format = "rrf k={rrf_k:g}"

    def rank_scores(self, scores, valid):
        """``1 / (k + rank)`` of each candidate within its row (rank 1 = highest score)."""
        return 1.0 / (self.rrf_k + ranks(scores, valid))

    def view(self, scores, valid):
        return self.rank_scores(scores, valid)

    def combine(self, new, incoming, valid):
        old_rank = np.arange(1, new.shape[1] + 1)[None, :]
        return self.rank_scores(new, valid) + 1.0 / (self.rrf_k + old_rank)

    def fuse(self, lists, weights=None):
        # Unweighted, as the hybrid first pass has always fused (its stored lists depend on it).
        out: dict[str, float] = {}
        for ids, _ in lists:
            for rank, d in enumerate(ids, start=1):
                out[d] = out.get(d, 0.0) + 1.0 / (self.rrf_k + rank)
        return out

    def qdrant(self) -> QdrantFusion:
        theirs = self.rrf_k + 1
        k = int(round(theirs))
        exact = theirs == int(theirs)
        return QdrantFusion(
            label=f"RRF k={k}", query={"rrf": {"k": k}}, client_code=f"models.RrfQuery(rrf=models.Rrf(k={k}))",
            edge=lambda qe: qe.Fusion.Rrf(k=k), exact=exact,
            note=f"RRF: this tool's k={self.rrf_k:g} (ranks from 1) is Qdrant's k={k} (positions from 0)"
                 + ("" if exact else "; not an integer there: approximate"))
