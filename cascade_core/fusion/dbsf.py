"""``dbsf``: distribution-based score fusion, as Qdrant computes it, so its export is exact.

Each list is normalised by its own distribution: the mean minus three sample standard deviations
maps to 0 and the mean plus three to 1 (nothing clipped; one score alone, or equal scores, 0.5),
then the normalised scores are summed, unweighted (Qdrant's ``Fusion.DBSF``). Against min-max
(``norm-sum``), one outlier stretches the scale less. A stage's own scores and the incoming ones
are normalised over the candidates present, so the simulation is exact for any cut-off.

>>> import numpy as np
>>> new, incoming, valid = np.array([[0.1, 0.9, 0.5]]), np.array([[3.0, 2.0, 1.0]]), np.ones((1, 3), bool)
>>> DBSF().combine(new, incoming, valid).round(3)
array([[1.   , 1.167, 0.833]])
>>> {d: round(s, 3) for d, s in sorted(DBSF().fuse([(["a", "b"], [2.0, 1.0]), (["b", "c"], [0.9, 0.1])]).items())}
{'a': 0.618, 'b': 1.0, 'c': 0.382}
"""

from __future__ import annotations

import numpy as np

from .base import Fusion, QdrantFusion
from .kernels import three_sigma
from .registry import register_fusion


@register_fusion
class DBSF(Fusion):
    name = "dbsf"
    title = "distribution-based score fusion"
    help = "each list normalised by its mean +/- 3 standard deviations, then summed (Qdrant's DBSF)"
    scale_note = "normalised per list by its mean and standard deviation (3 sigma), then summed"
    scale_safe = True
    view_note = "per query's list, (s - mean + 3 sd) / 6 sd: what dbsf (stage combine, hybrid fusion) sums"
    fuses_lists = True
    position = 30

    def view(self, scores, valid):
        return three_sigma(np.where(valid, scores, 0.0), valid)

    def combine(self, new, incoming, valid):
        return three_sigma(new, valid) + three_sigma(incoming, valid)

    def fuse(self, lists, weights=None):
        # Unweighted, as Qdrant fuses prefetches: a document one list lacks gets nothing there.
        out: dict[str, float] = {}
        for ids, scores in lists:
            s = np.asarray(scores, dtype=float)[None, :]
            if not s.size:
                continue
            for d, v in zip(ids, three_sigma(s, np.ones_like(s, dtype=bool))[0]):
                out[d] = out.get(d, 0.0) + float(v)
        return out

    def qdrant(self) -> QdrantFusion:
        return QdrantFusion(label="DBSF", query={"fusion": "dbsf"}, client_code="models.FusionQuery(fusion=models.Fusion.DBSF)",
                            edge=lambda qe: qe.Fusion.Dbsf(), exact=True)
