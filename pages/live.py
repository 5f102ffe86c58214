"""Live: one query through the real models, end to end, each stage's results and measured latency."""

import json

import pandas as pd
import streamlit as st

from cascade_core.judgments import GRADES, LLM, grade_word, merge_qrels, on_scale, query_id_for, with_added_queries
from cascade_core.latency.model import agreement_line, tail_comparison
from cascade_core.latency.timing import cores, load_average, load_note
from cascade_draw import charts
from cascade_ui import access, judging, latency_panel, state
from cascade_ui.text import code, literal
from cascade_ui.widgets import shown_errors, sidebar_status, stand_in_warning

LIVE_RESULT = "live-result"
LIVE_TAIL = "live-tail"   # (context, queries, LiveMeasurement, latency report, the machine before the run)


def _live_context() -> str:
    """What a live result belongs to: the dataset and the whole spec. A result from another
    dataset or cascade is not shown (its document ids may not even exist in this corpus)."""
    current = state.spec()
    return json.dumps([st.session_state.get(state.DATASET), current.to_dict() if current is not None else None],
                      sort_keys=True, default=str)


def _run(query: str) -> None:
    exp, sp = state.experiment(), state.spec()
    with st.spinner("Running the cascade..."):
        live = exp.live(query, sp)
    st.session_state[LIVE_RESULT] = (_live_context(), query, live, {})
    # The prediction needs stored costs; without them the measured run still stands.
    if exp.matrix.retrieved_depth:
        # Through the session's run (it scores first what is not stored): a query judged here since
        # joins the evaluated queries before any page scored it.
        result = state.run_current()
        predicted = {s.name: s.predicted_ms for s in result.latency.stages} if result else {}
        st.session_state[LIVE_RESULT] = (_live_context(), query, live, predicted)


def _judge(query: str, doc: str, grade: int) -> None:
    """A judge button's callback: the query joins the judgments (as a typed one on the Judge page) if it
    is new, and the grade is saved at once in the same log."""
    if access.read_only():
        return
    ds, store = state.dataset(), state.judgments()
    qid = query_id_for(store, ds.queries, query, judging.who())
    judging.judge(store, qid, doc, grade, query_text=query)
    st.session_state["live-judged"] = f"Saved: {doc} is {GRADES[grade]} for query {qid}."


def judge_rows(container, query: str, doc_ids: list[str]) -> None:
    """Beside each result, buttons 2/1/0 that judge it (the Judge page's log, people's grades)."""
    ds, store = state.dataset(), state.judgments()
    queries = with_added_queries(ds.queries, store)
    wanted = " ".join(query.split())
    qid = next((q for q in queries.ids if " ".join(queries.text_of(q).split()) == wanted), None)
    merged = merge_qrels(ds.qrels, store)
    graded = merged.qrels.judgments.get(qid, {}) if qid else {}
    llm, mine = store.latest(LLM), store.latest()
    locked = access.read_only()
    container.markdown("**Judge these results**" + (" (read-only dashboard: shown, not saved)" if locked else ""))
    container.caption("2 relevant, 1 partly relevant, 0 not: saved with the Judge page's judgments at once (a new "
                      "query is added to them) and counted on every page.")
    if st.session_state.get("live-judged"):
        container.success(literal(st.session_state.pop("live-judged")))
    head = container.columns([0.35, 4.6, 1.6, 0.75, 0.75, 0.75])
    for col, words in zip(head[2:], ("grade so far", "relevant", "partly", "not")):
        col.caption(words)
    for rank, d in enumerate(doc_ids, start=1):
        doc = ds.corpus[d]
        cols = container.columns([0.35, 4.6, 1.6, 0.75, 0.75, 0.75], vertical_alignment="center")
        cols[0].markdown(f"{rank}.")
        cols[1].markdown(f"{literal((doc.title or doc.text)[:110])} {code(d)}")
        g, machine = graded.get(d), llm.get((qid, d)) if qid else None
        # Words on the scale the numbers use (0/1 qrels: a judged 2 counts 1, and 1 is "relevant"); the
        # button lit is the grade given here, else the dataset's where it is on the 0-2 scale.
        given = mine.get((qid, d)).grade if qid and (qid, d) in mine else None
        lit = given if given is not None else (g if not merged.binary else None)
        llm_word = "" if machine is None else grade_word(on_scale(machine.grade, merged.binary), merged.binary)
        cols[2].caption(("unjudged" if g is None else grade_word(g, merged.binary))
                        + ("" if machine is None else f"; LLM: {llm_word} ({literal(machine.source)})"))
        for col, grade in zip(cols[3:], (2, 1, 0)):
            col.button(str(grade), key=f"live-judge-{grade}-{d}", disabled=locked, on_click=_judge,
                       args=(query, d, grade), help=GRADES[grade].capitalize(),
                       type="primary" if lit == grade else "secondary")


def tail_section() -> None:
    """Predicted p50/p95/p99 of the whole cascade against N queries run live (as `cascade eval --live N`)."""
    st.subheader("Predicted against measured, end to end")
    c1, c2 = st.columns([1, 3])
    n = c1.number_input("Queries to run live", 2, 500, 20, key="live-n")
    if c2.button("Measure", key="live-measure", help="Runs the first N queries through the real models (one "
                 "warm-up run first, not counted) and compares their p50/p95/p99 with the prediction, both as the "
                 "time the work ran (quiet-equivalent: waits for a core left out), with the wall clock beside."):
        exp, sp = state.experiment(), state.spec()
        before = load_average()
        with access.job_slot(f"running {int(n)} queries live"), st.spinner(f"Running {int(n)} queries live..."):
            measured = exp.measure_live(int(n), sp)
        # The prediction through the session's run, which scores first what is not stored (a query
        # judged on this page joins the evaluated ones unscored: exp.run alone failed on it).
        st.session_state[LIVE_TAIL] = (_live_context(), int(n), measured, state.run_current().latency, before)
    stored = st.session_state.get(LIVE_TAIL)
    if not stored or stored[0] != _live_context():
        return
    _, n_run, measured, lat, before = stored
    tail = lat.tail()
    rows = tail_comparison(tail, measured.total, measured.wall["total"])
    st.dataframe(pd.DataFrame(rows).set_index("percentile"), width="stretch", column_config={
        "predicted ms": st.column_config.NumberColumn(format="%.1f"),
        "measured ms": st.column_config.NumberColumn(format="%.1f"),
        "measured / predicted": st.column_config.NumberColumn(format="%.2f"),
        "wall clock ms": st.column_config.NumberColumn(format="%.1f")})
    agrees, agreement = agreement_line(tail.to_dict(), measured.total)
    (st.caption if agrees else st.warning)(agreement)
    (st.warning if measured.busy else st.caption)(measured.load_line() + (
        " Wall-clock times include the waits; the comparison uses the time the work ran (quiet-equivalent) on both "
        "sides." if measured.busy else ""))
    st.caption(f"{measured.describe(load=False)} Predicted from every query's candidate counts and each step's "
               f"recorded spread (the steps' medians add up to {tail.sum_of_medians:.1f} ms). Costs: "
               f"{latency_panel.sources_caption(lat)}. A step priced for other hardware is not what runs here."
               + (f" Load average when Measure was pressed: {before:.1f} on {cores()} cores." if before == before else ""))
    latency_panel.latency_note(lat)


st.title("Live run")
sidebar_status()
if state.require_dataset_and_spec():
    stand_in_warning(state.spec())
    st.caption("Runs the real first pass and models on your query (nothing read from the score store) and "
               "times every stage, next to the cost model's prediction.")
    query = st.text_input("Query", placeholder="e.g. statins reduce the risk of heart attacks", key="live-query")
    if st.button("Run", type="primary", key="live-run"):
        if not query.strip():
            st.error("Type a query first: an empty query has nothing to rank.")
        else:
            try:
                _run(query)
            except Exception as exc:  # noqa: BLE001 - shown to the user, not raised
                state.show_error(exc)
    stored = st.session_state.get(LIVE_RESULT)
    if stored and stored[0] != _live_context():
        st.caption("The dataset or cascade changed since the last live run: press **Run** again.")
    elif stored:
        _, ran_query, live, predicted = stored
        if query.strip() and query != ran_query:
            st.info(f"The results below are for the query **{literal(ran_query.strip())}**: press **Run** for the new one.")
        with shown_errors():
            st.metric("Total measured (the time the work ran)", f"{live.quiet_ms:.1f} ms",
                      help=f"Query: {literal(ran_query)}")
            warm = ("" if live.warmup_ms is None else f" A warm-up run came first ({live.warmup_ms:.1f} ms, not "
                    "counted): this server process had not run these models live yet.")
            now = load_note()
            st.caption(f"Query: *{literal(ran_query.strip())}*. Wall clock {live.total_ms:.1f} ms; the time the work "
                       f"ran leaves out the time it waited for a core (the basis of every prediction here).{warm} "
                       f"{now[0].upper()}{now[1:]}.")
            st.plotly_chart(charts.live_latency(live.steps, predicted), key="live-latency")
            ds = state.dataset()
            final = live.final_doc_ids
            tabs = st.tabs([f"final ({len(final)})"] + [f"{literal(s.name)} ({len(s.doc_ids)})" for s in live.steps])

            def ranked(tab, doc_ids, scores):
                rows = [{"rank": r, "doc": d, "score": float(sc),
                         "title": ds.corpus[d].title or ds.corpus[d].text[:80]}
                        for r, (d, sc) in enumerate(zip(doc_ids, scores), start=1)]
                # the title takes the room: rank, id and score are short
                tab.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
                    "rank": st.column_config.NumberColumn(width="small"),
                    "doc": st.column_config.TextColumn(width="small"),
                    "score": st.column_config.NumberColumn(format="%.4f", width="small"),
                    "title": st.column_config.TextColumn(width="large")})

            tabs[0].caption(f"The final list: the top {live.final_k} of {literal(live.steps[-1].name)}'s ranking.")
            ranked(tabs[0], final, live.steps[-1].scores[: len(final)])
            judge_rows(tabs[0].container(border=True), ran_query, final)
            for i, (tab, step) in enumerate(zip(tabs[1:], live.steps)):
                if i == 0:   # a first pass ranks the whole corpus, whatever the pool it keeps
                    tab.caption(f"Searched the whole corpus ({len(ds.corpus):,} documents) in {step.ms:.1f} ms; "
                                f"kept the top {len(step.doc_ids)}.")
                else:
                    tab.caption(f"Scored {step.n_scored} candidates in {step.ms:.1f} ms; kept {len(step.doc_ids)}.")
                ranked(tab, step.doc_ids, step.scores)
    with shown_errors():
        tail_section()
