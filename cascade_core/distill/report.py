"""Teacher against student on held-out queries: nDCG@10, MRR@10 and what each costs.

Four rows, all over the teacher's first pass at the same depth and on the same queries: the
first pass alone, the teacher cascade, the student reranking the first pass (``replace``: the
student alone orders the list, as ``cross:PATH@10``), and the student fused with the first pass
(``norm-sum 0.5``). Every score goes through the score store (the student is an ordinary
``cross:PATH`` stage), so ``cascade eval`` with the same stage reuses them. Cost is measured
while scoring: each row's rerank stages' predicted milliseconds per query and, divided by the
pairs they rerank, per pair.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..analysis.experiment import Experiment
from ..analysis.lift import first_pass_lift
from ..cascade.spec import CascadeSpec
from ..data import QuerySet
from ..fusion import NormSum
from ..latency.model import pairs_per_step
from ..progress import ProgressCallback

METRICS = ("ndcg@10", "mrr@10", "recall@10")


@dataclass
class Row:
    name: str
    cascade: str            # the spec, described
    metrics: dict           # ndcg@10, mrr@10, recall@10 (means over the held-out queries)
    stages_ms: float        # rerank stages' predicted ms per query (0 for the first pass)
    ms_per_pair: float      # stages_ms / pairs reranked per query (NaN for the first pass)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Comparison:
    queries: int
    depth: int
    rows: list[Row]

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def to_dict(self) -> dict:
        return {"queries": self.queries, "depth": self.depth, "ndcg_gain": "linear (trec_eval)",
                "rows": [r.to_dict() for r in self.rows]}

    def table(self) -> str:
        """The comparison as aligned text, one row per ranking."""
        lines = [f"{'':<24} {'nDCG@10':>8} {'MRR@10':>8} {'recall@10':>9} {'ms/query':>9} {'ms/pair':>8}"]
        for r in self.rows:
            pair = "-" if math.isnan(r.ms_per_pair) else f"{r.ms_per_pair:.2f}"
            ms = "-" if r.name == "first pass" else ("?" if math.isnan(r.stages_ms) else f"{r.stages_ms:.1f}")
            lines.append(f"{r.name:<24} {r.metrics['ndcg@10']:>8.3f} {r.metrics['mrr@10']:>8.3f} "
                         f"{r.metrics['recall@10']:>9.3f} {ms:>9} {pair:>8}")
        return "\n".join(lines)


def student_spec(teacher: CascadeSpec, student: str, depth: int | None = None, fused: bool = False,
                 max_length: int | None = None) -> CascadeSpec:
    """The teacher's first pass at ``depth`` (default its pool) -> the student -> final k.

    >>> t = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 100})
    >>> student_spec(t, "/m", fused=True).describe()
    'bm25 -> 100 -> cross-encoder(/m) fused norm-sum 0.5 -> 10 -> final 10'
    """
    scorer = {"kind": "cross-encoder", "model": str(student),
              **({"params": {"max_length": max_length}} if max_length else {})}
    stage = {"name": "student", "scorer": scorer, "keep": teacher.final_k,
             **(NormSum(weight=0.5).to_spec() if fused else {})}
    return CascadeSpec.from_dict({"first_pass": teacher.first_pass.to_dict(), "pool_size": depth or teacher.pool_size,
                                  "stages": [stage], "final_k": teacher.final_k})


def _row(name: str, result, spec: CascadeSpec) -> Row:
    metrics = {m: float(result.evaluation.final.means[m]) for m in METRICS}
    stages = result.latency.stages[1:]
    ms = sum(s.predicted_ms for s in stages) if stages else 0.0
    pairs = sum(pairs_per_step(spec, result.run.matrix.lengths)[1:])
    return Row(name, spec.describe(), metrics, ms, ms / pairs if pairs else float("nan"))


def compare(dataset, held_out: QuerySet, teacher: CascadeSpec, student: str, workspace,
            depth: int | None = None, max_length: int | None = None,
            progress: ProgressCallback | None = None) -> Comparison:
    """Score (what is not stored yet) and compare first pass, teacher and student on ``held_out``."""
    t_exp = Experiment(dataset, teacher, workspace, queries=held_out)
    t_exp.ensure_scores(progress=progress)
    t_res = t_exp.run()
    spec = student_spec(teacher, student, depth, max_length=max_length)
    s_exp = Experiment(dataset, spec, workspace, queries=held_out)
    s_exp.ensure_scores(progress=progress)
    s_res = s_exp.run()
    fused = student_spec(teacher, student, depth, fused=True, max_length=max_length)
    f_res = s_exp.run(fused)
    first = first_pass_lift(s_res.run, s_res.evaluation).first_pass_metrics()
    first = {m: float(first.get(m, s_res.evaluation.steps[0].means[m])) for m in METRICS}
    first_row = Row("first pass", f"{teacher.first_pass.label} -> top {teacher.final_k}", first, 0.0, float("nan"))
    return Comparison(len(held_out), spec.pool_size, [
        first_row, _row("teacher", t_res, teacher), _row("student", s_res, spec),
        _row("student + first pass", f_res, fused)])
