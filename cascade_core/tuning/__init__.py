"""Where should the cut-offs be? Sweeps and plateaus, a budget tuner, held-out validation.

* :mod:`.sweeps` -- recall@k curves per step, the plateau where recall stops rising, and the
  recall at each step's own cut-off;
* :mod:`.search` -- a grid of cut-off combinations scored against a latency budget, the best
  one, the cheapest one within a recall tolerance (:data:`OBJECTIVES` names both), the
  quality/latency Pareto frontier;
* :mod:`.holdout` -- k-fold validation of tuned cut-offs on held-out queries.
"""

from .holdout import HoldoutResult, holdout_validation
from .search import (OBJECTIVES, GridResult, Rule, best_within_budget, cheapest_within_recall, cutoff_grid,
                     grid_search, pareto_front)
from .sweeps import PLATEAU_TOLERANCE, default_grid, plateau, recall_at_cutoffs, recall_curve, recall_curves

__all__ = ["OBJECTIVES", "PLATEAU_TOLERANCE", "GridResult", "HoldoutResult", "Rule", "best_within_budget",
           "cheapest_within_recall", "cutoff_grid", "default_grid", "grid_search", "holdout_validation",
           "pareto_front", "plateau", "recall_at_cutoffs", "recall_curve", "recall_curves"]
