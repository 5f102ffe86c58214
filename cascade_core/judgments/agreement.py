"""Agreement between two label sets (e.g. human qrels and an LLM judge): Cohen's kappa, unweighted
and linear-weighted, a confusion table, and the per-query disagreements.

Only pairs (query, document) graded in *both* sets are compared; how many each set has alone is
reported beside. Kappa is ``1 - sum(w * observed) / sum(w * expected)`` over the confusion
matrix, with ``w = 0`` on the diagonal and 1 elsewhere (unweighted) or ``|i - j|`` (linear: a 0
against a 2 counts twice a 0 against a 1), as scikit-learn's ``cohen_kappa_score``. NaN when the
expected disagreement is 0 (both sets use one and the same grade throughout).

>>> human = {"q1": {"a": 2, "b": 0, "c": 1}, "q2": {"d": 0, "e": 2}}
>>> llm = {"q1": {"a": 2, "b": 1, "c": 1}, "q2": {"d": 0, "e": 0, "f": 1}}
>>> ag = agreement(human, llm, names=("human", "llm"))
>>> ag.n, ag.only_first, ag.only_second, round(ag.accuracy, 2)
(5, 0, 1, 0.6)
>>> round(ag.kappa, 4), round(ag.kappa_linear, 4)   # p_o = 3/5, p_e = (2x2 + 1x2 + 2x1) / 25; (0.6 - 0.32) / 0.68
(0.4118, 0.3478)
>>> ag.confusion
llm    0  1  2
human         
0      1  1  0
1      0  1  0
2      1  0  1
>>> ag.disagreements.to_dict("records")
[{'query_id': 'q1', 'doc_id': 'b', 'human': 0, 'llm': 1}, {'query_id': 'q2', 'doc_id': 'e', 'human': 2, 'llm': 0}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .store import HUMAN, merge_qrels

Labels = Mapping[str, Mapping[str, int]]


def confusion_matrix(first: Sequence[int], second: Sequence[int], grades: Sequence[int]) -> np.ndarray:
    """Counts ``[len(grades), len(grades)]``: row = the first set's grade, column = the second's.

    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], [0, 1, 2]).tolist()
    [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    """
    index = {g: i for i, g in enumerate(grades)}
    out = np.zeros((len(grades), len(grades)), dtype=np.int64)
    for a, b in zip(first, second):
        out[index[a], index[b]] += 1
    return out


def cohen_kappa(first: Sequence[int], second: Sequence[int], weights: str | None = None,
                grades: Sequence[int] | None = None) -> float:
    """Cohen's kappa of two label sequences (same pairs, same order); ``weights``: None
    (unweighted) or ``"linear"``. ``grades``: the ordered label values (default: those seen).

    Worked by hand: 10 pairs, 7 agree (p_o = 0.7); the first set says 1 five times, the second
    six times, so chance agreement p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5).

    >>> cohen_kappa([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 1, 1, 0, 0, 0])
    0.4
    """
    if len(first) != len(second):
        raise ValueError(f"{len(first)} labels against {len(second)}: kappa compares the same pairs")
    if weights not in (None, "linear"):
        raise ValueError(f"weights must be None or 'linear', got {weights!r}")
    if not len(first):
        return float("nan")
    grades = sorted(set(first) | set(second)) if grades is None else list(grades)
    observed = confusion_matrix(first, second, grades).astype(np.float64)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    i, j = np.indices(observed.shape)
    w = (i != j).astype(np.float64) if weights is None else np.abs(i - j).astype(np.float64)
    chance = (w * expected).sum()
    return float("nan") if chance == 0 else float(1.0 - (w * observed).sum() / chance)


@dataclass
class Agreement:
    """Two label sets compared on the pairs both graded."""

    names: tuple[str, str]
    n: int                         # pairs graded by both
    only_first: int                # pairs only the first set grades
    only_second: int
    accuracy: float                # share of compared pairs with the same grade
    kappa: float                   # Cohen's kappa, unweighted
    kappa_linear: float            # linear-weighted
    confusion: pd.DataFrame        # rows: the first set's grade, columns: the second's
    disagreements: pd.DataFrame    # query_id, doc_id, <first>, <second>: every pair graded differently
    per_query: pd.DataFrame        # query_id -> compared, agree, disagree, kappa (NaN when undefined)

    def summary(self) -> str:
        a, b = self.names
        return (f"{a} vs {b}: {self.n} pairs graded by both, {self.accuracy:.0%} the same grade, Cohen's kappa "
                f"{self.kappa:.2f} (linear-weighted {self.kappa_linear:.2f}); {self.only_first} pairs only {a} "
                f"graded, {self.only_second} only {b}")


def agreement(first: Labels, second: Labels, names: tuple[str, str] = ("first", "second"),
              grades: Sequence[int] | None = None, binary: bool = False) -> Agreement:
    """Compare two ``{query_id: {doc_id: grade}}`` sets on the pairs both grade (see the module).

    ``grades``: the ordered grade values of the confusion table (default: 0, 1, 2 and any other
    value either set uses). A grade that is None (an unparseable LLM answer) counts as not graded.
    ``binary``: compare relevant (grade > 0, as 1) against not (0), for two sets whose scales
    differ (SciFact's qrels grade a relevant document 1, the judge's scale says 2).

    >>> agreement({"q": {"a": 1, "b": 0}}, {"q": {"a": 2, "b": 0}}, binary=True).kappa
    1.0
    """
    a_name, b_name = names
    if a_name == b_name:
        raise ValueError("the two label sets need different names")
    rows, only_first, only_second = [], 0, 0
    scale = (lambda g: int(g > 0)) if binary else int
    for qid in sorted(set(first) | set(second)):
        fa = {d: scale(g) for d, g in (first.get(qid) or {}).items() if g is not None}
        fb = {d: scale(g) for d, g in (second.get(qid) or {}).items() if g is not None}
        only_first += len(fa.keys() - fb.keys())
        only_second += len(fb.keys() - fa.keys())
        rows += [(qid, d, int(fa[d]), int(fb[d])) for d in sorted(fa.keys() & fb.keys())]
    pairs = pd.DataFrame(rows, columns=["query_id", "doc_id", a_name, b_name])
    seen = set(pairs[a_name]) | set(pairs[b_name])
    grades = sorted(set(grades if grades is not None else ((0, 1) if binary else (0, 1, 2))) | seen)
    xs, ys = pairs[a_name].tolist(), pairs[b_name].tolist()
    table = pd.DataFrame(confusion_matrix(xs, ys, grades), index=pd.Index(grades, name=a_name),
                         columns=pd.Index(grades, name=b_name))
    same = pairs[a_name] == pairs[b_name]
    per_query = pd.DataFrame(
        [{"query_id": qid, "compared": len(g), "agree": int((g[a_name] == g[b_name]).sum()),
          "disagree": int((g[a_name] != g[b_name]).sum()),
          "kappa": cohen_kappa(g[a_name].tolist(), g[b_name].tolist(), grades=grades)}
         for qid, g in pairs.groupby("query_id", sort=True)],
        columns=["query_id", "compared", "agree", "disagree", "kappa"]).set_index("query_id")
    return Agreement(
        names=(a_name, b_name), n=len(pairs), only_first=only_first, only_second=only_second,
        accuracy=float(same.mean()) if len(pairs) else float("nan"),
        kappa=cohen_kappa(xs, ys, grades=grades), kappa_linear=cohen_kappa(xs, ys, "linear", grades=grades),
        confusion=table, disagreements=pairs[~same].reset_index(drop=True), per_query=per_query)


def is_binary(labels: Labels) -> bool:
    """Whether a label set grades on a 0/1 scale (no grade above 1), as SciFact's qrels do.

    >>> is_binary({"q": {"a": 1, "b": 0}}), is_binary({"q": {"a": 2}}), is_binary({})
    (True, False, False)
    """
    grades = [g for docs in labels.values() for g in docs.values() if g is not None]
    return bool(grades) and max(grades) <= 1


def positive_only(labels: Labels) -> bool:
    """Whether a label set lists only relevant documents (no 0 grade): the unlisted ones are the
    non-relevant (the TREC convention for a judged query).

    >>> positive_only({"q": {"a": 1}}), positive_only({"q": {"a": 1, "b": 0}})
    (True, False)
    """
    grades = [g for docs in labels.values() for g in docs.values() if g is not None]
    return bool(grades) and min(grades) > 0


def human_vs_llm(dataset_qrels, store, source: str = "llm", binary: bool | None = None,
                 unjudged_as_zero: bool | None = None) -> Agreement:
    """People's grades (the dataset's qrels merged with the judgments made by hand in ``store``)
    against the LLM labels of ``store`` (``source``: one ``llm:<model>``, or "llm" for any).

    ``binary`` (None: chosen) compares relevant against not when either set grades 0/1 only.
    ``unjudged_as_zero`` (None: chosen when the people's set lists only relevant documents, as
    SciFact's qrels do) counts a document the LLM labelled but no person graded, in a query people
    judged, as not relevant (0), the TREC convention: otherwise only relevant documents would be
    compared and kappa could say nothing.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from cascade_core.data import Qrels
    >>> from cascade_core.judgments.store import JudgmentStore
    >>> store = JudgmentStore(Path(tempfile.mkdtemp()) / "j.jsonl")
    >>> for doc, grade in [("a", 2), ("b", 0), ("c", 2)]:
    ...     _ = store.judge("q1", doc, grade, who="m", source="llm:m")
    >>> ag = human_vs_llm(Qrels({"q1": {"a": 1}}), store)     # binary qrels, relevant documents only
    >>> ag.n, ag.accuracy, list(ag.confusion.index)
    (3, 0.6666666666666666, [0, 1])
    """
    human = merge_qrels(dataset_qrels, store, source=HUMAN).qrels.judgments
    llm = store.qrels(source).judgments
    if binary is None:
        binary = is_binary(human) or is_binary(llm)
    if unjudged_as_zero is None:
        unjudged_as_zero = positive_only(human)
    if unjudged_as_zero:
        human = {q: {**{d: 0 for d in llm.get(q, {})}, **docs} for q, docs in human.items() if docs}
    return agreement(human, llm, names=("human", "llm"), binary=binary)


def kappa_words(kappa: float) -> str:
    """Landis and Koch's words for a kappa (a convention, not a test): below 0 "worse than chance",
    up to 0.20 "slight", 0.40 "fair", 0.60 "moderate", 0.80 "substantial", above "almost perfect".

    >>> kappa_words(0.05), kappa_words(0.55), kappa_words(float("nan"))
    ('slight', 'moderate', 'undefined (one grade throughout)')
    """
    if kappa != kappa:
        return "undefined (one grade throughout)"
    for limit, words in ((0.0, "worse than chance"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"),
                         (0.8, "substantial")):
        if kappa < limit or (limit > 0 and kappa <= limit):
            return words
    return "almost perfect"
