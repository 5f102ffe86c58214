"""Relevance judgments made in the tool: stored as they are made, merged with a dataset's qrels.

* :mod:`.store` -- the append-only judgment log of a corpus (who, when, grade 2/1/0, source),
  undo, queries added by hand, the merge with the dataset's own qrels (conflicts listed) and
  TREC qrels export.
* :mod:`.pool` -- what to judge for a query: the union of every cascade step's top k, shuffled
  per query, or only the unjudged documents of the final top 10 ("holes").

>>> from cascade_core.judgments import GRADES
>>> GRADES[2]
'relevant'
"""

from .pool import HOLES, MODES, POOL, JudgingPool, holes, judging_pool, pool_for_query, pool_from_rankings, shuffled
from .store import (GRADES, HUMAN, PREFER_DATASET, PREFER_JUDGMENTS, Conflict, Judgment, JudgmentStore, MergedQrels,
                    merge_qrels, parse_queries, to_trec, with_added_queries)

__all__ = [
    "GRADES", "HOLES", "HUMAN", "MODES", "POOL", "PREFER_DATASET", "PREFER_JUDGMENTS",
    "Conflict", "Judgment", "JudgingPool", "JudgmentStore", "MergedQrels",
    "holes", "judging_pool", "merge_qrels", "parse_queries", "pool_for_query", "pool_from_rankings",
    "shuffled", "to_trec", "with_added_queries",
]
