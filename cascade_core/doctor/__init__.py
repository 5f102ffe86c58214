"""The cascade doctor: detect the known failure modes of a cascade, with evidence and a fix.

Every check runs on one simulated run (no model call) and says ``flagged``, ``ok``, ``not
checked`` (the stored scores cannot tell; it says what would) or ``not applicable``. Only flagged
checks become :class:`Finding` s. The criteria, stated once:

One module per check, each stating its criterion and registering itself (:mod:`.registry`):

* :mod:`.pool` -- ``pool-too-small``: relevant documents lost before the rerank stages see them;
* :mod:`.gap` -- ``quality-gap``: a cheap step too poor for the heavier stage after it to recover;
* :mod:`.harm` -- ``harmful-stage``: a stage whose output ranks worse than the list it received;
* :mod:`.depth` -- ``depth-quality``: a stage handed so many candidates that quality falls;
* :mod:`.regression` -- ``latency-regression``: no faster than its single-pass baseline;
* :mod:`.scales` -- ``score-scales``: raw scores of different scales summed (and the score
  distributions per step that show the scales);
* :mod:`.provenance` -- ``provenance``, ``latency-machine``: stored scores from other model files
  or library versions, timings from another machine (they read the store: run beside the others).

A new check is one new module here (the package imports every module of itself), or a plugin's
module named in the ``cascade_explorer.checks`` entry-point group.

>>> import numpy as np
>>> from cascade_core.cascade import CascadeSpec, ScoreMatrix, simulate
>>> from cascade_core.analysis.evaluation import Relevance
>>> from cascade_core.latency.model import CostModel
>>> # 2 queries, 6 documents; the first pass puts each query's relevant document at rank 5.
>>> m = ScoreMatrix(["q1", "q2"], [f"d{i}" for i in range(6)], np.tile(np.arange(6), (2, 1)),
...                 np.tile([6.0, 5, 4, 3, 2, 1], (2, 1)), [np.tile([1.0, 2, 3, 4, 9, 5], (2, 1))])
>>> grades = np.zeros((2, 6)); grades[:, 4] = 1
>>> rel = Relevance(grades, np.ones((2, 1)), np.array([1, 1]))
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 3,
...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 2}], "final_k": 1})
>>> costs = [CostModel("fp", 1.0, 0.0, 9), CostModel("bi", 0.0, 1.0, 9)]
>>> [f.kind for f in diagnose(simulate(spec, m), rel, costs)]
['pool-too-small']
>>> diagnose(simulate(spec, m), rel, costs)[0].evidence["plateau k"]
5

Imports ``analysis``, ``cascade``, ``tuning``, ``fusion``, ``latency``, ``models``, ``scorers`` and
``store`` (provenance).
"""

from ..plugins import CHECK_GROUP, discover
from .findings import Check, Finding, Thresholds, format_evidence
from .registry import by_severity, diagnose, register_check, registered_checks, run_checks

discover(__name__, __path__, CHECK_GROUP, skip=("findings", "registry"))

from . import harm  # noqa: E402 - the checks by module, for code that names one
from .depth import check_depth_quality  # noqa: E402
from .gap import check_quality_gaps  # noqa: E402
from .pool import check_pool  # noqa: E402
from .regression import check_latency  # noqa: E402
from .scales import NORMALISATIONS, ScoreDistribution, check_score_scales, distribution_table, score_distributions  # noqa: E402

__all__ = ["Check", "Finding", "NORMALISATIONS", "ScoreDistribution", "Thresholds", "by_severity", "check_depth_quality",
           "check_latency", "check_pool", "check_quality_gaps", "check_score_scales", "diagnose", "distribution_table",
           "format_evidence", "harm", "register_check", "registered_checks", "run_checks", "score_distributions"]
