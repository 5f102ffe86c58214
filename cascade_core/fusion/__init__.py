"""Fusion: how two rankings of the same question become one. One small class per file, one registry.

Used everywhere scores meet: a rerank stage's ``combine`` with the order it received (the
simulation), the hybrid first pass fusing BM25 with dense retrieval, the doctor's score-scale
check and its fixes, the tuner's search over combinations, and the Qdrant export.

* :mod:`.replace` -- the new score alone (the usual cascade);
* :mod:`.rrf` -- reciprocal rank fusion, ``1 / (k + rank)`` summed, ``k`` always shown;
* :mod:`.norm_sum` -- min-max normalised, then ``weight * new + (1 - weight) * earlier``;
* :mod:`.dbsf` -- distribution-based (mean +/- 3 sigma) normalised, then summed: Qdrant's DBSF.

A new fusion is one file here (or a plugin's module named in the ``cascade_explorer.fusions``
entry-point group): a :class:`Fusion` subclass registered with :func:`register_fusion`. Imports
only the ground floor (``errors``, ``params``) and NumPy.

>>> sorted(registered_fusions())
['dbsf', 'norm-sum', 'replace', 'rrf']
>>> make_fusion("rrf", rrf_k=60).label, parse_fusion("norm-sum:0.3").label
('rrf k=60', 'norm-sum 0.3')
"""

from ..plugins import FUSION_GROUP, discover
from .base import Fusion, QdrantFusion
from .kernels import minmax, ranks, three_sigma
from .registry import (fusion_class, fusion_from_spec, fusion_names, fusion_param_names, list_fusions, make_fusion,
                       parse_fusion, register_fusion, registered_fusions, tuning_candidates, unregister_fusion)

discover(__name__, __path__, FUSION_GROUP, skip=("base", "kernels", "registry"))

from .dbsf import DBSF  # noqa: E402 - the built-in fusions by class, for code that names one
from .norm_sum import NormSum  # noqa: E402
from .replace import Replace  # noqa: E402
from .rrf import RRF  # noqa: E402

__all__ = ["DBSF", "Fusion", "NormSum", "QdrantFusion", "RRF", "Replace", "fusion_class", "fusion_from_spec",
           "fusion_names", "fusion_param_names", "list_fusions", "make_fusion", "minmax", "parse_fusion", "ranks",
           "register_fusion", "registered_fusions", "three_sigma", "tuning_candidates", "unregister_fusion"]
