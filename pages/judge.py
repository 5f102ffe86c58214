"""Judge: label the current cascade's candidates relevant / partly / not, saved as they are made.

Every judgment goes to the data folder's judgment log at once (cascade_core.judgments.store) and
joins the dataset's qrels in every page's numbers. The logic lives in cascade_core.judgments; this
page lays it out.
"""

import getpass

import pandas as pd
import streamlit as st

from cascade_core.analysis import explain
from cascade_core.analysis.saved import slug
from cascade_core.errors import CascadeError, MissingScoresError
from cascade_core.judgments import (GRADES, HOLES, LIMITS, LLM, MODES, POOL, PREFER_DATASET, PREFER_JUDGMENTS,
                                    USE_HUMAN, grade_word, is_binary_scale, judged_qrels, merge_qrels, on_scale,
                                    parse_queries, pool_for_query, to_trec, with_added_queries)
from cascade_ui import access, judging, llm_judge_panel, state
from cascade_ui.memo import remembered
from cascade_ui.text import code, literal
from cascade_ui.widgets import highlighted, shown_errors, sidebar_status

WHO = judging.WHO            # the judge's name, saved with each judgment
QUERY = "judge-query"        # the query being judged
SKIPPED = "judge-skipped"    # {query id: [documents skipped in this session]}
AGAIN = "judge-again"        # a document picked to judge again (else: the next unjudged one)
NOTE = "judge-note"          # what the last button did, shown once
WHOLE_PAGE = "judge-whole-page"   # set by a button that changes the query box: the page runs again whole
PREFER_LABELS = {PREFER_DATASET: "the dataset's qrels", PREFER_JUDGMENTS: "the judgment made here"}


def queries_judged(n: int) -> str:
    return f"{n} quer{'y' if n == 1 else 'ies'} judged"


def _who() -> str:
    return judging.who()


def _judge(store, qid: str, text: str, doc: str, grade: int) -> None:
    # The document is bound when its buttons are drawn: a judgment goes to the document the judge
    # saw, even if another judge's work moved "the next unjudged one" in between.
    if access.read_only():
        return
    judging.judge(store, qid, doc, grade, query_text=text)
    st.session_state.pop(AGAIN, None)
    st.session_state[NOTE] = f"Saved: {doc} is {GRADES[grade]}."


def _skip(qid: str, doc: str) -> None:
    st.session_state.setdefault(SKIPPED, {}).setdefault(qid, []).append(doc)
    st.session_state.pop(AGAIN, None)


def _next_query(ids: list, qid: str) -> None:
    # In a callback: it runs before the query box is drawn, so the box may be set (the box lies
    # outside the judging fragment: the whole page runs again).
    st.session_state[QUERY] = ids[(ids.index(qid) + 1) % len(ids)]
    st.session_state.pop(AGAIN, None)
    st.session_state[WHOLE_PAGE] = True


def _open(qid: str, doc: str) -> None:
    # In a callback: the query box and the card are drawn after it (an agreement row opened).
    st.session_state[QUERY] = qid
    st.session_state[AGAIN] = doc
    st.session_state[WHOLE_PAGE] = True


def _undo(store) -> None:
    if access.read_only():
        return
    j = judging.undo(store)
    st.session_state.pop(AGAIN, None)
    st.session_state[NOTE] = (f"Undone: {j.doc} as {GRADES[j.grade]} (query {j.query})." if j
                              else f"Nothing to undo: {judging.undo_scope()} is not in force.")


def add_queries_box(store, queries, locked: bool) -> None:
    st.caption("One query a line (ids are made for them), `id<TAB>query` lines, or JSON lines with "
               "`_id` and `text`. They are stored with the judgments, for this corpus.")
    typed = st.text_area("Queries", key="judge-typed", height=100, disabled=locked,
                         placeholder="statins reduce the risk of heart attacks\nvitamin D and bone density")
    upload = st.file_uploader("or a file of queries", type=["txt", "tsv", "jsonl"], key="judge-file",
                              disabled=locked)
    if st.button("Add the queries", key="judge-add", disabled=locked):
        if upload is not None and upload.size > LIMITS.queries_file_chars:   # refused before it is decoded
            raise CascadeError(f"{upload.size / 1e6:,.1f} MB of queries: at most "
                               f"{LIMITS.queries_file_chars / 1e6:,.0f} MB are read at once (split the file)")
        text = typed + "\n" + (upload.getvalue().decode("utf-8", errors="replace") if upload is not None else "")
        new = parse_queries(text, taken=set(queries.ids))
        added = store.add_queries(new, who=_who(), known=set(state.dataset().queries.ids))
        if added:
            st.session_state[QUERY] = added[0]
            st.session_state[NOTE] = (f"Added {len(added)} quer{'y' if len(added) == 1 else 'ies'}: "
                                      f"{', '.join(added[:5])}.")
            st.rerun()
        st.warning("No new query: type some, or pick a file (queries already added are not added twice).")


def pool_for(exp, qid: str, text: str, depth: int, mode: str, locked: bool):
    """The pool, read from the score store; a query never scored is scored first (stored).

    Kept for the session once read (reading a query's scores takes a while): the pool is a
    function of the experiment (its dataset and scorers), the cut-offs, the query and the mode,
    and a judgment changes none of them (the holes leave out what the *dataset's* qrels grade)."""
    sp = state.spec()
    return remembered("judge-pool", (sp, qid, text, depth, mode), exp,
                      lambda: _read_pool(exp, sp, qid, text, depth, mode, locked), keep=64)


def _read_pool(exp, sp, qid: str, text: str, depth: int, mode: str, locked: bool):
    try:
        return pool_for_query(exp, qid, text, sp, depth, mode, score=False)
    except MissingScoresError:
        if locked:
            access.refuse_if_read_only("score a query that was never scored")
        with access.job_slot("scoring a query to judge"), st.status(
                "Scoring this query through the cascade (once: stored)...", expanded=True) as status:
            pool = pool_for_query(exp, qid, text, sp, depth, mode, progress=state.progress_callback(status),
                                  score=True)
            status.update(label="Scored and stored", state="complete", expanded=False)
        return pool


def judging_card(store, ds, pool, qid: str, text: str, qrels, locked: bool, ids: list) -> None:
    """The query, one document, and the buttons (with their keyboard shortcuts)."""
    skipped = st.session_state.get(SKIPPED, {}).get(qid, [])
    again = st.session_state.get(AGAIN)
    current = again if again in pool.doc_ids else pool.next_unjudged(qrels, skipped)
    graded = qrels.judgments.get(qid, {})
    with st.container(border=True):
        st.markdown(f"**Query** {code(qid)}: {literal(text)}")
        if current is None:
            left = [d for d in skipped if d in pool.doc_ids and d not in graded]
            st.success("Every document of this pool is judged." if not left else
                       f"Every document is judged or skipped ({len(left)} skipped).")
            if left and st.button("Show the skipped ones again", key="judge-unskip"):
                st.session_state[SKIPPED][qid] = []
                st.rerun()
            if len(ids) > 1:
                st.button("Next query", key="judge-next", shortcut="N", type="primary",
                          on_click=_next_query, args=(ids, qid))
        else:
            doc = ds.corpus[current]
            st.markdown(f"##### {literal(doc.title or current)}")
            was = graded.get(current)
            binary = is_binary_scale(ds.qrels)   # 0/1 qrels: 1 is relevant
            st.caption(f"Document {code(current)}" + ("" if was is None else
                                                      f"; graded {grade_word(was, binary, short=True)} so far"))
            st.container(height=260, border=False).markdown(highlighted(explain.highlight_spans(doc.text, text)))
    cols = st.columns([1.2, 1.2, 1.2, 1, 1])
    off = locked or current is None
    for col, grade, key in zip(cols, (2, 1, 0), ("2", "1", "0")):
        col.button(f"{GRADES[grade].capitalize()}", key=f"judge-{grade}", shortcut=key, width="stretch",
                   type="primary" if grade == 2 else "secondary", disabled=off,
                   on_click=_judge, args=(store, qid, text, current, grade))
    cols[3].button("Skip", key="judge-skip", shortcut="S", width="stretch", disabled=current is None,
                   on_click=_skip, args=(qid, current))
    cols[4].button("Undo", key="judge-undo", shortcut="U", width="stretch", disabled=locked,
                   on_click=_undo, args=(store,), help=f"Takes back {literal(judging.undo_scope())} (on any query).")
    st.caption("Keys: **2** relevant, **1** partly relevant, **0** not relevant, **S** skip, **U** undo, "
               "**N** next query once this one is done "
               "(click the page first if a text box has the keyboard). Query terms are highlighted "
               "(BM25's tokenizer)."
               + (" This dataset's qrels grade 0/1: in the metrics, relevant and partly relevant both count 1, "
                  "as its own relevant documents do." if is_binary_scale(ds.qrels) else ""))


def pool_table(ds, pool, qid: str, qrels, store) -> None:
    mine, llm = store.latest(), store.latest(LLM)
    binary = is_binary_scale(ds.qrels)   # grades are shown on the scale the numbers use
    rows = []
    for d in pool.doc_ids:
        g = qrels.judgments.get(qid, {}).get(d)
        by, machine = mine.get((qid, d)), llm.get((qid, d))
        # The judgment made here is the one in force when, on the dataset's scale, it is the grade shown.
        here = by is not None and on_scale(by.grade, binary) == g
        rows.append({"document": d, "title": (ds.corpus[d].title or ds.corpus[d].text)[:90],
                     "grade": "unjudged" if g is None else grade_word(g, binary, short=True),
                     "by": "-" if g is None else (f"{by.who}, {by.at[:16].replace('T', ' ')} UTC" if here
                                                  else "the dataset's qrels"),
                     "LLM label": "-" if machine is None else grade_word(on_scale(machine.grade, binary), binary,
                                                                         short=True),
                     "source": "-" if machine is None else machine.source})
    with st.expander(f"The pool: {len(pool)} documents, in judging order"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
            "document": st.column_config.TextColumn(width="small", pinned=True),   # stays when the table scrolls
            "title": st.column_config.TextColumn(width="large"),
            "grade": st.column_config.TextColumn(width="small"),
            "by": st.column_config.TextColumn(width="medium"),
            "LLM label": st.column_config.TextColumn(width="small"),
            "source": st.column_config.TextColumn(width="medium")})
        st.caption("grade: people's (the dataset's qrels, or a judgment made here); LLM label: an LLM judge's, "
                   "marked with its source, shown apart.")
        pick = st.selectbox("Judge one of them again", [""] + pool.doc_ids, key=f"judge-pick-{qid}",
                            format_func=lambda d: d or "(the next unjudged one)")
        if pick and st.session_state.get(AGAIN) != pick and st.button("Show it", key="judge-show"):
            st.session_state[AGAIN] = pick
            st.rerun()


def judgments_section(store, ds, merged, locked: bool) -> None:
    st.subheader("Judgments, conflicts, export")
    judged_queries = len(store.qrels().query_ids)
    st.caption(f"{len(store)} judgment(s) made here on {queries_judged(judged_queries).replace(' judged', '')}, "
               f"saved as they are made in {code(store.path)}; the dataset's own qrels grade {ds.qrels.n_pairs} pairs. "
               "Every page (Evaluate, Flow, Inspect, Tune, Compare) uses both, merged: the queries with a relevant "
               "document are the ones evaluated.")
    if store.bad_lines:   # said on every page's sidebar too; here with the lines themselves
        with st.expander(f"{store.bad_lines} line(s) of the judgment log skipped: every other judgment counts"):
            st.dataframe(pd.DataFrame([{"line": s.number, "why": s.reason} for s in store.skipped]),
                         hide_index=True, width="stretch")
            st.caption("A line cut short by a crash, or edited by hand into something that is not a judgment, "
                       "is left in the file (nothing is rewritten) and not counted.")
    options = [PREFER_DATASET, PREFER_JUDGMENTS]
    choice = st.radio("When the dataset's qrels and a judgment made here disagree on a pair, use",
                      options, index=options.index(store.prefer), format_func=PREFER_LABELS.get,
                      horizontal=True, disabled=locked, key=f"judge-prefer-{store.prefer}")
    if choice != store.prefer and not locked:
        store.set_prefer(choice, who=_who())
        st.rerun()
    llm_judge_panel.use_switch(store, ds, merged, locked, _who())
    if merged.conflicts:
        wins = {PREFER_DATASET: "the dataset's qrels win", PREFER_JUDGMENTS: "the judgment made here wins"}
        st.markdown(f"**{len(merged.conflicts)} conflict(s)**: {wins[merged.prefer]}.")
        st.dataframe(pd.DataFrame([{"query": c.query, "document": c.doc,
                                    "dataset's grade": c.dataset_grade, "judged here": c.judged_grade,
                                    "by": c.who, "when": c.at[:16].replace("T", " ") + " UTC"}
                                   for c in merged.conflicts]),
                     hide_index=True, width="stretch")
    else:
        st.caption("No conflict: no pair is graded differently by the dataset's qrels and a judgment made here.")
    try:
        every, here = to_trec(merged.qrels), to_trec(store.qrels())
    except CascadeError as exc:   # an id with a space (said when the dataset loaded): no TREC file, the page stands
        st.caption(f"No TREC download: {literal(exc)}.")
        return
    c1, c2 = st.columns(2)
    name = slug(ds.name) or "dataset"
    c1.download_button("Download the qrels every page uses (TREC)", every,
                       file_name=f"{name}-qrels.txt", mime="text/plain", key="judge-export-all",
                       help="The dataset's qrels merged with the judgments made here: query 0 document grade. "
                            + ("" if merged.use == USE_HUMAN else "With the switch above off 'human judgments', "
                               "this file holds LLM labels too (TREC qrels have no source column)."))
    c2.download_button("Download only the judgments made here (TREC)", here,
                       file_name=f"{name}-judged-here.txt", mime="text/plain", key="judge-export-mine",
                       help="People's judgments only: the LLM labels are downloaded apart (LLM labels, above).")


@st.fragment
def judging_part(exp, store, ds, queries, qid: str, text: str, mode: str, depth: int, locked: bool, ids: list) -> None:
    """Everything a judgment changes, from the pool's progress to the agreement with the LLM: a
    key press runs this part alone again (the query box, the mode and the page above stay as
    they are), so the next document shows without the whole page running."""
    if st.session_state.pop(WHOLE_PAGE, False):   # "Next query", an agreement row opened: the box above
        st.rerun()
    with shown_errors():
        judging_body(exp, store, ds, queries, qid, text, mode, depth, locked, ids)


def judging_body(exp, store, ds, queries, qid: str, text: str, mode: str, depth: int, locked: bool,
                 ids: list) -> None:
    note = st.session_state.pop(NOTE, None)
    if note:
        st.toast(literal(note))   # it quotes document and query ids
    # A person judges against people's grades: the LLM's labels never mark a document as done here.
    qrels = exp.qrels if exp.merged_qrels.use == USE_HUMAN else merge_qrels(ds.qrels, store).qrels
    mine = store.qrels()
    pool = pool_for(exp, qid, text, depth, mode, locked)
    done = len(pool.judged(qrels))
    st.progress(done / len(pool) if len(pool) else 1.0,
                text=f"{pool.progress(qrels)}; {queries_judged(len(mine.query_ids))}")
    if mode == HOLES:
        st.caption(f"The cascade's final top 10 has {len(pool)} document(s) the dataset's qrels do not grade: "
                   "counted as not relevant until judged, so a reranker that finds new relevant documents "
                   "can score worse than one that does not.")
    elif pool.steps:
        st.caption(f"The union of the top {depth} of {literal(' and '.join(pool.steps))}: {len(pool)} documents. "
                   "Documents the dataset's qrels grade count as judged.")
    if not len(pool):
        st.info("Nothing to judge here: every document of the final top 10 is graded.")
        st.button("Next query", key="judge-next", shortcut="N", type="primary", on_click=_next_query, args=(ids, qid))
    else:
        judging_card(store, ds, pool, qid, text, qrels, locked, ids)
        pool_table(ds, pool, qid, qrels, store)
    llm_judge_panel.label_section(exp, store, ds, queries, qid, pool, depth, locked, _who())
    llm_judge_panel.labels_table(store, ds, queries)
    judgments_section(store, ds, exp.merged_qrels, locked)
    llm_judge_panel.agreement_section(store, ds, queries, _open)


st.title("Judge")
sidebar_status()
locked = access.read_only()
if not access.settings().share:   # a local dashboard: the account's name is a fair default
    try:
        st.session_state.setdefault(WHO, getpass.getuser())
    except (KeyError, OSError):
        pass
st.sidebar.text_input("Judge's name (saved with each judgment)", key=WHO, disabled=locked)

with shown_errors():
    ds = state.dataset()
    if ds is None:
        state.require_dataset_and_spec()
        st.stop()
    store = state.judgments()
    queries = with_added_queries(ds.queries, store)
    if locked:
        st.info("Read-only dashboard: judgments are shown and exported, not made.")
    st.caption("Mark each candidate relevant, partly relevant or not; each judgment is saved at once (a refresh "
               "or a crash loses nothing) and counts on every page right away. The documents come from every "
               "step of the current cascade, shuffled, so you cannot tell which stage ranked what.")
    with st.expander("Add queries to judge", expanded=not len(queries)):
        add_queries_box(store, queries, locked)
    if not len(queries) or not state.require_dataset_and_spec():
        if note := st.session_state.pop(NOTE, None):   # else the judging part below says it
            st.toast(literal(note))
        if not len(queries):
            st.info("This dataset has no queries: add some above (typed, or from a file).")
        judgments_section(store, ds, judged_qrels(ds.qrels, store), locked)
        st.stop()

    exp = state.experiment()
    mine = store.qrels()
    ids = queries.ids
    if st.session_state.get(QUERY) not in ids:
        st.session_state[QUERY] = next((q for q in ids if q not in mine), ids[0])
    # The labels must not change as judgments come in: the browser sends back the label it showed,
    # and a label no longer among the options would lose the query being judged.
    qid = st.selectbox("Query", ids, key=QUERY, format_func=lambda q: f"{q}: {queries.text_of(q)[:100]}")
    text = queries.text_of(qid)
    c1, c2 = st.columns([3, 1])
    mode = c1.radio("Judge", list(MODES), format_func=lambda m: {POOL: "the pool: every step's top k",
                                                                 HOLES: MODES[HOLES]}[m],
                    horizontal=True, key="judge-mode")
    depth = c2.number_input("k", 1, 200, 10, key="judge-depth", disabled=mode == HOLES,
                            help="How deep into each step's list (the first pass, each stage) the pool goes.")
    judging_part(exp, store, ds, queries, qid, text, mode, int(depth), locked, ids)
