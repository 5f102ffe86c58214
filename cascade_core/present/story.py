"""The stakeholder story of one evaluated cascade, as plain data, in the order a reader needs it.

1. **What it is**: the stages, each with its model and how many candidates it keeps;
2. **what it buys**: the final list against the first pass alone, with the per-query wins and
   losses and the significance in words;
3. **what it costs**: the predicted end-to-end latency (p50, p95) on the hardware its cost
   profiles describe, the money per 1,000 queries where prices are set, against the budget;
4. **the trade-off**: the quality/latency frontier of the alternatives the tuner finds from the
   same stored scores, with this cascade on it;
5. **what it still loses**: the relevant documents each stage drops, and one example;
6. **caveats**: one line each, with the page that explains it.

The Present page and ``cascade report --present`` lay out a :class:`Story`; neither computes a
number. Everything comes from one simulated result and stored scores (no model call).

>>> plain_words(1.2e-8, 66, 11)
'better on 66 queries, worse on 11; a change this large would be very unlikely by chance (p = 1.2e-08)'
>>> plain_words(0.62, 12, 9)
'better on 12 queries, worse on 9; this could be chance (p = 0.62): not a proven gain'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import formats
from ..analysis.explain import lost_by_stage
from ..analysis.lift import SIGNIFICANCE, MetricChange, first_pass_lift, metric_label
from ..cascade.presets import is_stand_in
from ..cascade.simulate import kept_counts
from ..formats import points
from ..latency.model import MEASURED_HERE
from ..models.students import read_student
from ..tuning import best_within_budget, grid_search, pareto_front, tuning_grid

HEADLINE = "ndcg@10"
NOT_MEASURED = ("This dataset has no relevance judgments, so what the cascade buys cannot be measured yet: judge "
                "some documents on the Judge page (each judgment counts at once).")
# The words under each panel, one home for the page and the HTML file.
EXPLAIN = {
    "diagram": "The first step finds candidates in the whole collection; each later step re-orders the candidates it "
               "receives with a slower, more accurate model and hands on the number on the arrow. \u201c+ earlier "
               "score\u201d: its score is blended with the one before.",
    "metric": "nDCG@10 scores the order of the top 10 results against people's relevance judgments (1 is a "
              "perfect order); a point is 0.01 of it.",
    "costs": "Time per query, predicted from {basis}: half the queries take less than p50, 19 in 20 less than p95. "
             "The first step alone takes {first}.",
    "tradeoff": "Each dot is the same models with other cut-offs, simulated from the stored scores; the line joins "
                "those nothing beats on both quality and speed (listed in the table, with this cascade); \u2605 the "
                "best within the budget. Latency here is the mean per query.",
}
FRONTIER_VALUES = 4      # values per cut-off in the compact grid drawn when the tuner has not run


# Each kind in words a stakeholder knows (the kind's own name stays beside it, small).
PLAIN_KINDS = {"bm25": "keyword search", "dense": "vector search", "hybrid": "keyword + vector search",
               "sparse": "learned keyword search", "collection": "your vector collection",
               "search-api": "your search engine", "run": "your system's results", "bi-encoder": "embedding match",
               "cross-encoder": "reranker model", "late": "token-level match", "llm": "LLM reranker",
               "rerank-api": "hosted reranker"}


@dataclass(frozen=True)
class StageBox:
    """One box of the diagram: what the step is, with which model, and what it keeps."""

    role: str          # "first pass", "stage 1", ...
    kind: str          # "bm25", "cross-encoder", ...
    model: str         # short model name ("" without one)
    keeps: str         # "1,000", "20", "10.4 (per query)"
    fused: str         # "fused with the earlier score (norm-sum 0.5)" or ""

    @property
    def plain(self) -> str:
        """The kind in everyday words: ``keyword search`` for ``bm25``."""
        return PLAIN_KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Caveat:
    """One line a stakeholder may need, and the page that explains it."""

    text: str
    page: str          # a page title of the dashboard ("Evaluate", "Flow", ...)


@dataclass(frozen=True)
class LostExample:
    """A relevant document the cascade drops, for one query: the case the reader can picture."""

    query_id: str
    query: str
    doc_id: str
    title: str
    step: str
    rank: int
    keep: int

    def sentence(self) -> str:
        short = self.rank - self.keep
        where = ("in the final list, which shows" if self.step.startswith("below the top")
                 else f"by the {self.step}, which keeps")
        return (f"For the query \u201c{self.query}\u201d, the relevant document \u201c{self.title}\u201d was ranked "
                f"{self.rank} {where} {self.keep}: {short} place{'s' if short != 1 else ''} short.")


@dataclass
class Story:
    """Everything the Present view shows, computed once."""

    title: str
    dataset: str
    queries: int
    stages: list[StageBox]
    final_k: int
    change: MetricChange | None          # the headline metric, final list vs the first pass alone
    others: list[MetricChange]           # the other lift metrics, smaller
    p50_ms: float
    p95_ms: float
    first_pass_ms: float
    budget_ms: float | None
    within_budget: bool | None
    usd_per_1k: float
    cost_basis: str                      # where the latency figures come from, in words
    frontier: pd.DataFrame | None        # the grid: latency_ms, ndcg@10, covered, first_pass_only, ...
    front: list[int] = field(default_factory=list)
    current: int | None = None
    recommended: int | None = None
    alternatives: pd.DataFrame | None = None   # the frontier's points, for a table
    tradeoff: str = ""                   # the trade-off in a sentence or two
    lost: pd.DataFrame | None = None     # per step: lost, share of all relevant
    step_words: dict[str, str] = field(default_factory=dict)   # step name -> the diagram's words
    lost_example: LostExample | None = None
    relevant_total: int = 0
    relevant_final: int = 0
    caveats: list[Caveat] = field(default_factory=list)
    judged: bool = True                  # the dataset has relevance judgments (else quality is unmeasured)

    @property
    def buys(self) -> str:
        """``nDCG@10 0.691 -> 0.737: +4.6 points``."""
        c = self.change
        if c is None:
            return NOT_MEASURED if not self.judged else "No rerank stage: this is the first pass alone."
        return (f"{metric_label(c.metric)} {formats.metric(c.before)} \u2192 {formats.metric(c.after)}: "
                f"{formats.change(c.points)}")

    @property
    def buys_in_words(self) -> str:
        c = self.change
        if c is None:
            return ""
        return plain_words(c.test.wilcoxon_p, c.test.wins, c.test.losses)

    @property
    def budget_verdict(self) -> tuple[str, bool]:
        """The budget in words and whether it is a problem, one verdict for every panel: the tuner
        and the table judge the mean per query, the tail is said beside it, never contradicted.

        ``("within the budget on average; 1 query in 20 takes longer", True)``
        """
        if self.budget_ms is None:
            return "no budget set", False
        if self.within_budget is False:
            return "over the budget on average", True
        if np.isfinite(self.p95_ms) and self.p95_ms > self.budget_ms:
            return "within the budget on average; 1 query in 20 takes longer", True
        return "within budget, p95 too", False

    @property
    def losses(self) -> str:
        """``Of 339 relevant documents, 301 reach the final lists; 12 are lost at the first pass ...``."""
        if self.lost is None or not self.relevant_total:
            return ""
        words = [self.step_words.get(step, step) for step in self.lost.index]
        parts = [f"{formats.count(row['lost'])} " + (f"just {w}" if w.startswith("below the top") else f"by the {w}")
                 for w, (_, row) in zip(words, self.lost.iterrows()) if row["lost"]]
        return (f"Of {formats.count(self.relevant_total)} relevant documents, {formats.count(self.relevant_final)} "
                f"reach the final top {self.final_k}" + (f"; lost: {', '.join(parts)}." if parts else "."))


def plain_words(p: float, wins: int, losses: int) -> str:
    """The per-query wins and losses, and how sure the change is, for someone who never met a p-value."""
    better = f"better on {wins} {'query' if wins == 1 else 'queries'}, worse on {losses}"
    if not np.isfinite(p):
        return better
    if p < SIGNIFICANCE:
        return f"{better}; a change this large would be very unlikely by chance ({formats.p_value(p)})"
    return f"{better}; this could be chance ({formats.p_value(p)}): not a proven gain"


def story(result, exp, tuned=None, dataset_label: str | None = None) -> Story:
    """The story of ``result`` (``exp.run(spec, budget_ms=...)``). ``tuned``: the Tune page's
    :class:`~cascade_core.tuning.GridResult` for this cascade when there is one; otherwise a
    compact grid of cut-offs is simulated here from stored scores (milliseconds per combination)."""
    run, ev, lat = result.run, result.evaluation, result.latency
    spec = run.spec
    staged = bool(spec.stages) and ev is not None
    lift = first_pass_lift(run, ev, lat) if staged else None
    change = lift.changes.get(HEADLINE) if lift else None
    others = [c for m, c in lift.changes.items() if m != HEADLINE] if lift else []
    tail = lat.tail()
    s = Story(title=spec.name or spec.describe(), dataset=dataset_label or exp.dataset.name,
              queries=len(exp.queries), stages=stage_boxes(spec, run), final_k=spec.final_k, change=change,
              others=others, p50_ms=tail.p50 if tail.draws else lat.total_ms,
              p95_ms=tail.p95 if tail.draws else lat.total_ms,
              first_pass_ms=lat.stages[0].predicted_ms if lat.stages else float("nan"),
              budget_ms=lat.budget_ms, within_budget=lat.within_budget, usd_per_1k=lat.usd_per_1k_queries,
              cost_basis=cost_basis(lat), frontier=None, judged=ev is not None and exp.relevance is not None)
    if ev is not None and exp.relevance is not None:
        _frontier(s, exp, spec, tuned, lat.budget_ms)
        _losses(s, run, exp)
    s.caveats = caveats(result, exp, s)
    return s


def stage_boxes(spec, run=None) -> list[StageBox]:
    """The diagram's boxes: the first pass, each stage, with the count each keeps."""
    counts = kept_counts(run) if run is not None else {}
    boxes = [StageBox("first pass", spec.first_pass.kind, short_model(spec.first_pass.model),
                      formats.count(spec.pool_size), "")]
    for i, st in enumerate(spec.stages, start=1):
        keeps = formats.count(st.keep)
        if st.adaptive and st.name in counts:
            keeps = f"{formats.count(round(float(np.mean(counts[st.name])), 1))} per query (mean)"
        fused = f"fused with the earlier score ({st.fusion.label})" if st.fusion.mixes else ""
        boxes.append(StageBox(f"stage {i}", st.scorer.kind, short_model(st.scorer.model), keeps, fused))
    return boxes


def short_model(model: str | None) -> str:
    """A model as a reader knows it: a folder's last part, a hub id's name (``all-MiniLM-L6-v2``).

    >>> short_model("sample_data/models/scifact-student"), short_model("sentence-transformers/all-MiniLM-L6-v2")
    ('scifact-student', 'all-MiniLM-L6-v2')
    """
    if not model:
        return ""
    return Path(str(model).rstrip("/")).name or str(model)


def cost_basis(lat) -> str:
    """Where the latency figures come from, in one phrase: ``measured on this machine`` or each
    step's profile."""
    sources = {s.source for s in lat.stages}
    if sources == {MEASURED_HERE}:
        return "timings measured on this machine"
    return "; ".join(f"{s.name}: {s.source}" for s in lat.stages)


def _frontier(s: Story, exp, spec, tuned, budget_ms) -> None:
    grid = tuned
    if grid is None or spec not in grid.specs:
        depth = exp.matrix.retrieved_depth or spec.pool_size
        specs = tuning_grid(spec, values=FRONTIER_VALUES, max_pool=max(spec.pool_size, depth), fusions=None)
        if spec not in specs:
            specs.append(spec)
        grid = grid_search(exp, specs, budget_ms)
    grid = grid.with_budget(budget_ms)
    table = grid.table
    s.frontier = table
    s.front = pareto_front(table["latency_ms"], table["ndcg@10"])
    s.current = grid.specs.index(spec)
    s.recommended = best_within_budget(grid)
    rows = sorted(set(s.front) | {s.current} | ({s.recommended} if s.recommended is not None else set()),
                  key=lambda i: (table.loc[i, "latency_ms"], -table.loc[i, "ndcg@10"]))
    def role(i: int) -> str:
        said = ["this cascade"] if i == s.current else []
        said += ["best within the budget"] if i == s.recommended else []
        said += ["first pass alone"] if not grid.specs[i].stages else []
        return ", ".join(said) or "other cut-offs"

    alt = pd.DataFrame({
        "": [role(i) for i in rows],
        "candidates kept at each step": [cutoffs(grid.specs[i]) for i in rows],
        "nDCG@10": [formats.metric(table.loc[i, "ndcg@10"]) for i in rows],
        "mean latency (predicted)": [formats.ms(table.loc[i, "latency_ms"]) for i in rows],
        "within budget (mean)": ["yes" if table.loc[i, "within_budget"] else "no" for i in rows]})
    ways = {tuple(st.fusion.label for st in grid.specs[i].stages) for i in rows if grid.specs[i].stages}
    if len(ways) > 1:   # the tuner tried other ways of combining: say which each alternative uses
        alt.insert(2, "how stages combine", [", ".join(st.fusion.label for st in grid.specs[i].stages) or "-"
                                             for i in rows])
    s.alternatives = alt
    s.tradeoff = tradeoff_words(grid, s.current, s.recommended)


def tradeoff_words(grid, current: int, recommended: int | None) -> str:
    """What the chart says, in words: whether a better choice fits the budget, and whether the
    cut-offs move the cost at all (a stage whose cost hardly depends on its input costs the same
    at every cut-off, which a reader would otherwise take for a mistake)."""
    t = grid.table
    out = []
    if recommended is not None and recommended != current:
        gain = points(t.loc[recommended, "ndcg@10"], t.loc[current, "ndcg@10"])
        out.append(f"Among other cut-offs of the same models, the best within the budget (on the mean per query) "
                   f"keeps {cutoffs(grid.specs[recommended])}: nDCG@10 {formats.metric(t.loc[recommended, 'ndcg@10'])} "
                   f"({formats.change(gain)} against this cascade) at {formats.ms(t.loc[recommended, 'latency_ms'])}. "
                   "The Tune page searches further (how each step blends with the earlier score, too) and applies "
                   "its choice in one click.")
    elif recommended == current:
        out.append("Among other cut-offs of the same models, this cascade is the best within the budget (on the mean "
                   "per query).")
    staged = t[t["covered"] & ~t["first_pass_only"]]["latency_ms"]
    if len(staged) > 1 and staged.max() <= 1.1 * staged.min():
        out.append(f"Every alternative with the stages costs about the same ({formats.ms(staged.min())} to "
                   f"{formats.ms(staged.max())}): here the stages' cost hardly depends on how many candidates they "
                   "receive, so the cut-offs trade quality only.")
    return " ".join(out)


def cutoffs(spec) -> str:
    """The candidates each step hands on, as a reader follows them: ``100 → 20 → top 10``.

    >>> from cascade_core.cascade import CascadeSpec
    >>> cutoffs(CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100, "final_k": 10,
    ...     "stages": [{"scorer": {"kind": "bi-encoder", "model": "m"}, "keep": 20}]}))
    '100 → 20 → top 10'
    """
    if not spec.stages:
        return f"top {spec.final_k} of the first pass"
    return " → ".join([formats.count(spec.pool_size)] + [st.cutoff_label for st in spec.stages]
                           + [f"top {spec.final_k}"])


def _losses(s: Story, run, exp) -> None:
    lost = lost_by_stage(run, exp.relevance, exp.qrels)
    # each step in the diagram's words: "by the keyword search", "just below the top 10"
    said = {name: box.plain for name, box in zip(run.spec.stage_names, s.stages)}
    said["final"] = f"below the top {run.spec.final_k}"
    s.lost, s.step_words = lost.by_stage, said
    s.relevant_total, s.relevant_final = lost.n_relevant, lost.n_final
    docs = lost.documents
    ranked = docs[docs["rank"].notna()]
    if not len(ranked):
        return
    # The telling case: the relevant document that missed its cut-off by the fewest places
    row = ranked.sort_values(["rank_margin", "query"], kind="stable").iloc[0]
    corpus = exp.dataset.corpus
    doc = corpus[row["doc_id"]] if row["doc_id"] in corpus else None
    title = (doc.title or doc.text[:80]) if doc is not None else row["doc_id"]
    s.lost_example = LostExample(row["query"], exp.queries.text_of(row["query"]), row["doc_id"], title,
                                 said.get(row["step"], row["step"]), int(row["rank"]), int(row["keep"]))


def caveats(result, exp, s: Story) -> list[Caveat]:
    """One line per thing a stakeholder may need to know, each with the page that explains it."""
    ev, lat, spec = result.evaluation, result.latency, result.run.spec
    out = []
    if any(is_stand_in(st.scorer.model) for st in spec.stages):
        out.append(Caveat("A stage uses an untrained stand-in model: its latency is real, its ranking random.",
                          "Build"))
    corpus = exp.dataset.corpus.fingerprint
    for st in spec.stages:   # a distilled student made for another collection: its numbers here mean little
        student = read_student(st.scorer.model) if st.scorer.model else None
        if student is not None and student.corpus is not None and not student.made_for(corpus):
            about = student.domain or "another collection"
            out.append(Caveat(f"The {st.name} step's model was trained on {about}, not on this collection.",
                              "Build"))
    if not s.judged:
        out.append(Caveat("No relevance judgments: quality is not measured, only cost.", "Judge"))
    if ev is not None and ev.judgment_note():
        out.append(Caveat("Judgments list relevant documents only: unlisted documents count as not relevant, as in "
                          "published figures.", "Evaluate"))
    elif ev is not None and ev.unjudged_warning():
        out.append(Caveat("Many top-ranked documents were never judged: quality figures are a floor.", "Evaluate"))
    if lat.busy_steps:
        out.append(Caveat("Latency is predicted from timings taken while the machine was busy, with the time spent "
                          "waiting for a core left out: an estimate of a quiet machine.", "Flow"))
    elif lat.notes:
        out.append(Caveat("Latency is predicted from recorded timings, some of them from few calls or from before "
                          "waits for a core were recorded.", "Flow"))
    else:
        out.append(Caveat(f"Latency is predicted from {s.cost_basis}, not measured in production.", "Flow"))
    if not result.run.exact:
        out.append(Caveat("A listwise stage's scores are approximate at these cut-offs.", "Flow"))
    if s.change is not None and s.change.worse:
        out.append(Caveat("This cascade scores lower than its own first pass.", "Compare & doctor"))
    if s.queries < 50:
        out.append(Caveat(f"Measured on {s.queries} queries only: differences of a few points may be chance.",
                          "Evaluate"))
    return out
