"""``norm-sum``: min-max normalise each list over the candidates present, then a weighted sum.

``weight * new + (1 - weight) * earlier`` for a stage; for a hybrid first pass, the dense side
gets ``weight`` and BM25 the rest (a document one side did not find contributes 0 there). Exact
in simulation, because it is recomputed over exactly the candidates present. Qdrant has no
min-max fusion: its export stands in DBSF (distribution-based) and says the results differ.

>>> import numpy as np
>>> new, incoming, valid = np.array([[0.1, 0.9, 0.5]]), np.array([[3.0, 2.0, 1.0]]), np.ones((1, 3), bool)
>>> NormSum(0.5).combine(new, incoming, valid).round(2)
array([[0.5 , 0.75, 0.25]])
"""

from __future__ import annotations

import numpy as np

from ..params import Param
from .base import Fusion, QdrantFusion
from .kernels import minmax
from .registry import register_fusion


@register_fusion
class NormSum(Fusion):
    name = "norm-sum"
    title = "normalised sum"
    help = "min-max normalised scores, weighted: weight x this stage's + (1 - weight) x the earlier"
    scale_note = "min-max normalised per list, then a weighted sum"
    scale_safe = True
    view_note = "per query's list, (s - min) / (max - min): what norm-sum (stage combine, hybrid fusion) sums"
    parameters = (Param("weight", "number", 0.5, low=0, high=1,
                        help="the weight of the new score (a stage's own; the dense side of a hybrid)"),)
    tuning = ({"weight": 0.3}, {"weight": 0.5}, {"weight": 0.7})
    fuses_lists = True
    position = 20
    label_format = "norm-sum {weight:g}"

    def view(self, scores, valid):
        return minmax(np.where(valid, scores, 0.0), valid)

    def combine(self, new, incoming, valid):
        return self.weight * minmax(new, valid) + (1 - self.weight) * minmax(incoming, valid)

    def fuse(self, lists, weights=None):
        # Two lists, earlier first: the last (the new one, a hybrid's dense side) gets ``weight``.
        weights = weights or ([1 - self.weight, self.weight] if len(lists) == 2 else [1.0] * len(lists))
        out: dict[str, float] = {}
        for (ids, scores), w in zip(lists, weights):
            s = np.asarray(scores, dtype=float)[None, :]
            norm = minmax(s, np.ones_like(s, dtype=bool))[0] if s.size else s[0]
            for d, v in zip(ids, norm):
                out[d] = out.get(d, 0.0) + w * float(v)
        return out

    def qdrant(self) -> QdrantFusion:
        return QdrantFusion(
            label="DBSF", query={"fusion": "dbsf"}, client_code="models.FusionQuery(fusion=models.Fusion.DBSF)",
            edge=lambda qe: qe.Fusion.Dbsf(), exact=False,
            note="norm-sum (min-max normalised, weighted) has no Qdrant equivalent: DBSF (distribution-based "
                 "score fusion) stands in; the results differ (combine: dbsf is exact there)")
