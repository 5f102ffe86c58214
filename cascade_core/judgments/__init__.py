"""Relevance judgments made in the tool: stored as they are made, merged with a dataset's qrels.

* :mod:`.store` -- the append-only judgment log of a corpus (who, when, grade 2/1/0, source;
  an LLM's raw answer and prompt), undo, queries added by hand, the merge with the dataset's own
  qrels (conflicts listed), whose judgments the metrics use (human, LLM, both) and TREC export.
* :mod:`.pool` -- what to judge for a query: the union of every cascade step's top k, shuffled
  per query, or only the unjudged documents of the final top 10 ("holes").
* :mod:`.llm_judge` -- LLM-as-judge: graded labels from the ``llm`` kind's back ends (a server or
  the packaged local model), the prompt editable, raw answers kept, cost estimated before a run.
* :mod:`.agreement` -- two label sets compared: Cohen's kappa (unweighted, linear), a confusion
  table, per-query disagreements.

>>> from cascade_core.judgments import GRADES
>>> GRADES[2]
'relevant'

Imports ``data`` and the ``llm`` kind (for LLM labels); the analysis reads merged qrels from here.
"""

from .agreement import Agreement, agreement, cohen_kappa
from .llm_judge import DEFAULT_PROMPT, JudgeEstimate, JudgeRun, LLMJudge, LLMLabel, parse_grade
from .pool import (HOLES, MODES, POOL, JudgingPool, holes, holes_of_all, judging_pool, pool_for_query,
                   pool_from_rankings, pools_of, shuffled)
from .store import (GRADES, HUMAN, LIMITS, LLM, PREFER_DATASET, PREFER_JUDGMENTS, USE_BOTH, USE_HUMAN, USE_LLM,
                    USES, Conflict, Judgment, JudgmentStore, Limits, MergedQrels, Unparsed, check_grade, grade_word,
                    is_binary_scale, is_llm, judged_qrels, merge_qrels, on_scale, parse_queries, query_id_for,
                    to_trec, with_added_queries)

__all__ = [
    "Agreement", "agreement", "cohen_kappa",
    "DEFAULT_PROMPT", "JudgeEstimate", "JudgeRun", "LLMJudge", "LLMLabel", "parse_grade",
    "LLM", "USES", "USE_BOTH", "USE_HUMAN", "USE_LLM", "Unparsed", "is_llm", "judged_qrels", "query_id_for",
    "GRADES", "HOLES", "HUMAN", "LIMITS", "Limits", "check_grade", "grade_word", "MODES", "POOL", "PREFER_DATASET", "PREFER_JUDGMENTS",
    "Conflict", "Judgment", "JudgingPool", "JudgmentStore", "MergedQrels",
    "holes", "holes_of_all", "judging_pool", "pools_of",
    "is_binary_scale", "merge_qrels", "on_scale", "parse_queries", "pool_for_query", "pool_from_rankings",
    "shuffled", "to_trec", "with_added_queries",
]
