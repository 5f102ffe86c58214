"""The report of one evaluated cascade as plain data: what ``cascade eval --json`` writes.

One builder, :func:`eval_report`, so the CLI's printed report, its JSON and any notebook read
the same numbers from the same place; the dashboard's pages and the HTML report draw the same
library results (:mod:`cascade_core.analysis.lift`, :mod:`.flow`, :mod:`.compare`).
"""

from __future__ import annotations

from ..cascade.presets import is_stand_in
from ..errors import CascadeError
from ..latency.timing import load_note
from ..metrics import MOSTLY_UNJUDGED_BELOW
from ..models.students import student_note
from .compare import experiment_factory, stage_lifts
from .flow import kept_count_summary
from .lift import first_pass_lift, stage_changes


def eval_report(exp, result, scoring, live=None, sample_qid=None) -> dict:
    """Everything ``cascade eval --json`` writes about one evaluated cascade, as plain data.

    ``result`` is ``exp.run(...)``, ``scoring`` the :class:`~cascade_core.scoring.ensure.ScoringReport`
    of the run that filled the store, ``live`` the measured figures of ``exp.measure_live`` (or
    None); ``sample_qid`` the query whose final list is shown (default: the first). The keys:
    ``dataset``, ``spec``, ``students`` (a line per stage whose model is a distilled student), ``metrics`` (the final list), ``first_pass`` and ``lift`` (the cascade
    against its own first pass), ``stages`` (per step: keep, recall, metrics, predicted and
    measured latency, its change against its input and its contribution), ``holes``,
    ``kept_counts``, ``latency``, ``scoring``, ``notices``, ``approximate``, ``provenance`` and
    ``sample_query``. Numbers are left as computed: the CLI prints them, a notebook reads them.
    """
    ev, lat = result.evaluation, result.latency
    lift = first_pass_lift(result.run, ev, lat) if ev else None
    changes = {c.stage: c for c in stage_changes(result.run, ev)} if ev else {}
    contributions = stage_contributions(exp, result) if ev else {}
    stages = []
    for i, name in enumerate(exp.spec.stage_names):
        st_eval = ev.steps[i] if ev else None
        st_lat = lat.stages[i]
        stages.append({
            "name": name,
            "kind": (exp.spec.first_pass if i == 0 else exp.spec.stages[i - 1].scorer).kind,
            "scorer": exp.plan.scorer_ids[i],
            "keep": exp.spec.keeps[i],
            "candidates_in": None if i == 0 else (st_eval.n_in if st_eval else None),
            "recall": st_eval.recall if st_eval else None,
            "metrics": st_eval.means if st_eval else None,
            "latency_ms": st_lat.predicted_ms,
            "cumulative_ms": st_lat.cumulative_ms,
            "measured_ms": live.quiet.get(name) if live else None,   # quiet-equivalent, as predicted
            # a rerank stage's output against the list it received (None for the first pass)
            "change_vs_input": ({m: c.to_dict() for m, c in changes[name].changes.items()}
                                if name in changes else None),
            # the cascade with this stage against the same cascade without it (None: first pass)
            "contribution": contributions.get(name),
        })
    queries = exp.queries
    qid = sample_qid if sample_qid is not None else queries.ids[0]
    if qid not in queries:
        raise CascadeError(f"--sample-query {qid!r} is not among the evaluated queries")
    qi = exp.matrix.query_ids.index(qid)
    relevant = exp.qrels.relevant(qid)
    corpus = exp.dataset.corpus
    final_ids = result.run.final_doc_ids(qi)
    final_scores = result.run.final.scores[qi, : len(final_ids)]
    return {
        "dataset": {"name": exp.dataset.name, "split": exp.dataset.split, "documents": len(corpus),
                    "queries": len(queries)},
        "spec": exp.spec.to_dict(),
        # each stage whose model is a distilled student: which, how it was trained, for what corpus
        "students": {st.name: note for st in exp.spec.stages
                     if (note := student_note(st.scorer.model, corpus.fingerprint)) is not None},
        # stages whose model is the untrained stand-in: latency real, ranking random
        "stand_in": [st.name for st in exp.spec.stages if is_stand_in(st.scorer.model)],
        "metrics": ev.final.means if ev else {},
        # the first pass alone (its own top final_k): what the cascade must beat
        "first_pass": lift.first_pass_metrics() if lift else {},
        "lift": lift.to_dict() if lift else None,
        "ndcg_gain": "linear (trec_eval)",
        "stages": stages,
        # the holes: steps whose top 10 is mostly unjudged (judged@10 and ndcg_condensed@10 are in
        # every step's metrics), and the sentence the tables print about them
        "holes": {"mostly_unjudged_below": MOSTLY_UNJUDGED_BELOW,
                  "mostly_unjudged": ev.mostly_unjudged() if ev else [],
                  "warning": ev.unjudged_warning() if ev else None,
                  # positive-only qrels: the same holes are expected there, said as a note
                  "note": ev.judgment_note() if ev else None},
        # query-adaptive cut-offs: the distribution of each query's kept count ({} when all are fixed)
        "kept_counts": kept_count_summary(result.run).to_dict("index"),
        # each step's figure with its source and spread, what the tool distrusts, the predicted tail
        "latency": latency_section(lat, live),
        "scoring": {"retrieved_queries": scoring.retrieved_queries, "scored_pairs": scoring.scored_pairs,
                    "seconds": scoring.seconds,
                    # where each step that scored in this run was scored ("this process", or Ray's units and hosts)
                    "where": scoring.where,
                    # per step that cut documents to its model's limit in this run: how many, and where
                    "truncated": scoring.truncated,
                    # what a step found while preparing (an existing collection: its coverage of the corpus)
                    "notes": scoring.notes},
        # damaged files found, moved aside and rebuilt (the score store, vector indexes)
        "notices": list(exp.workspace.notices),
        # listwise stages handed a list they never ranked (scores of a longer one stand in); [] = exact
        "approximate": [a.to_dict() for a in result.run.approximate],
        # what made every stored score and timing used here: model fingerprints, libraries, machines
        "provenance": exp.provenance_report(),
        "sample_query": {"id": qid, "text": queries.text_of(qid), "results": [
            {"rank": r, "doc_id": d, "score": float(s), "grade": relevant.get(d, 0),
             "title": corpus[d].title or corpus[d].text[:80]}
            for r, (d, s) in enumerate(zip(final_ids, final_scores), start=1)]},
    }


def stage_contributions(exp, result) -> dict:
    """Each stage's contribution: the final metrics with it minus without it, in points, from
    stored scores only (a spec whose scores were never computed says so instead)."""
    make = experiment_factory(exp.dataset, exp.workspace, exp.queries)
    lifts = stage_lifts(result, make, metrics=("ndcg@10", "mrr@10", "recall@10"), cost_models=exp.cost_models())
    return {r.stage: {"without": r.without.spec.describe(), "lift_points": r.lift,
                      "wilcoxon_p": {m: t.wilcoxon_p for m, t in r.tests.items()},
                      "missing_scores": r.without.missing} for r in lifts.rows}


def latency_section(lat, live=None) -> dict:
    """The latency part of ``cascade eval``'s JSON report: each step's figure (quiet-equivalent,
    and wall clock as timed), source and spread, what the tool distrusts, how busy the CPU was
    when each step was timed, and the end-to-end tail predicted (and measured, with ``--live``:
    ``live`` is a :class:`~cascade_core.cascade.live.LiveMeasurement`, compared on the same
    quiet-equivalent basis, the wall clock and the load beside it)."""
    tail = lat.tail()
    out = {"total_ms": lat.total_ms, "wall_clock_total_ms": lat.wall_total_ms, "budget_ms": lat.budget_ms,
           "within_budget": lat.within_budget, "first_over_budget": lat.first_over_budget, "verdict": lat.verdict(),
           "notes": lat.notes, "busy_steps": lat.busy_steps,
           "steps": [{"name": s.name, "predicted_ms": s.predicted_ms, "wall_clock_ms": s.wall_ms,
                      "basis": s.basis or None, "p10_ms": s.low_ms, "p90_ms": s.high_ms, "calls": s.n_calls,
                      "source": s.source, "busy": s.busy} for s in lat.stages],
           "predicted_tail": tail.to_dict(),
           "measured_total": live.total if live else None,
           "measured_wall_clock_total": live.wall["total"] if live else None,
           "live": live.to_dict() if live else None,
           "machine_now": load_note()}
    if lat.usd_per_1k_queries:
        out["usd_per_1k_queries"] = lat.usd_per_1k_queries
    return out


def report_summary(result, exp, dataset_label: str, tuning=None) -> dict[str, str]:
    """The headline lines of a report, ``{label: text}``: dataset, quality, latency, the lift
    against the first pass alone and, when tuned (``tuning``: the Tune page's ``(grid result,
    front, current, chosen, held-out, objective)``), the objective, budget and recommendation.
    The HTML report (:mod:`cascade_draw.report`) lays them out; it computes none of them."""
    spec = result.run.spec
    summary = {"dataset": dataset_label, "queries": str(len(exp.queries)),
               "nDCG@10": f"{result.evaluation.final.means['ndcg@10']:.3f}",
               "predicted latency": f"{result.latency.total_ms:.1f} ms per query"}
    if spec.stages:
        lift = first_pass_lift(result.run, result.evaluation, result.latency)
        summary["against the first pass alone"] = lift.sentence() + f"; the stages add {lift.added_ms:.1f} ms per query"
    if tuning is not None:
        tuned, _, _, chosen, h, objective = tuning
        summary.update({"tuning objective": objective, "tuning budget": f"{tuned.budget_ms:.0f} ms per query"})
        if chosen is not None:
            row = tuned.table.loc[chosen]
            summary["recommended"] = (f"{tuned.spec_at(chosen).describe()}: nDCG@10 {row['ndcg@10']:.3f} (in-sample"
                                      + (f"; held out {h.held_out_mean:.3f} +- {h.held_out_std:.3f}" if h else "")
                                      + f"), predicted {row['latency_ms']:.1f} ms per query")
    return summary
