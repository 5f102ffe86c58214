"""Where should the cut-offs be? Sweeps and plateaus, a budget tuner, held-out validation.

* :mod:`.sweeps` -- recall@k curves per step, the plateau where recall stops rising, and the
  recall at each step's own cut-off (:func:`cutoffs_and_plateaus`: both, one row per step);
* :mod:`.search` -- a grid of cut-offs and ways of combining (plus the first pass alone) scored
  against a latency budget, the best
  one, the cheapest one within a recall tolerance (:data:`OBJECTIVES` names both), the
  quality/latency Pareto frontier;
* :mod:`.holdout` -- k-fold validation of tuned cut-offs on held-out queries;
* :mod:`.depth` -- final quality against each rerank stage's input depth, and the "phantom"
  depths where quality falls while the stage receives more of the relevant documents.

Imports ``analysis``, ``cascade``, ``fusion``, ``latency`` and ``metrics``; simulates only, never scores.
"""

from .depth import DepthVerdict, depth_curve, input_depth, phantom_depths, with_input_depth
from .holdout import HoldoutResult, holdout_validation
from .search import (FIRST_PASS_ONLY, OBJECTIVES, GridResult, Rule, adaptive_variants, best_within_budget,
                     cheapest_within_recall, choice_columns, closest_over_budget, cutoff_grid, first_pass_only,
                     grid_search, pareto_front, tuning_grid)
from .sweeps import (PLATEAU_TOLERANCE, cutoffs_and_plateaus, default_grid, plateau, recall_at_cutoffs,
                     recall_curve, recall_curves)

__all__ = ["FIRST_PASS_ONLY", "adaptive_variants", "choice_columns", "closest_over_budget", "first_pass_only",
           "tuning_grid", "OBJECTIVES", "PLATEAU_TOLERANCE", "DepthVerdict", "GridResult", "HoldoutResult", "Rule",
           "best_within_budget", "cheapest_within_recall", "cutoff_grid", "cutoffs_and_plateaus", "default_grid",
           "depth_curve", "grid_search", "holdout_validation", "input_depth", "phantom_depths", "with_input_depth",
           "pareto_front", "plateau", "recall_at_cutoffs", "recall_curve", "recall_curves"]
