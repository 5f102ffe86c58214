"""Inspect: why was it dropped? Losses by stage, one query's relevant documents, one dropped document."""

import streamlit as st

from cascade_core.analysis import explain
from cascade_draw import charts
from cascade_draw.tables import with_missing_said
from cascade_ui.text import literal
from cascade_ui.widgets import analysis_page, highlighted, shown_errors

NUM = st.column_config.NumberColumn
FOCUS = "inspect-focus"   # a query id another page asks Inspect to open at

result, exp = analysis_page("Inspect")
with shown_errors():
    if exp.relevance is None:
        st.info("This dataset has no relevance judgments: there is no relevant document to follow. "
                "Judge some documents on the **Judge** page.")
        st.stop()
    run, qrels, corpus = result.run, exp.qrels, exp.dataset.corpus   # with the judgments made here
    lost = explain.lost_by_stage(run, exp.relevance, qrels)

    # 1. Across the query set: which step loses the relevant documents.
    st.subheader("Relevant documents lost, by stage")
    c1, c2 = st.columns(2)   # the table's five headers need half the page to show whole
    c1.dataframe(lost.by_stage, width="stretch", column_config={
        "keep": NUM("cut-off"), "lost": NUM("relevant lost"),
        "share": NUM("share of all relevant", format="percent"), "queries": NUM("queries affected")})
    c1.caption(f"{lost.n_final} of {lost.n_relevant} judged-relevant documents reach the final lists. "
               "'first pass' includes those never retrieved; 'final': kept by the last stage but "
               "below final k.")
    c2.plotly_chart(charts.lost_by_stage_bars(lost.by_stage), key="lost-bars")
    with st.expander(f"Every lost relevant document ({len(lost.documents)})"):
        # "-" where a document has no rank or margin (never retrieved), never a grey "None"
        st.dataframe(with_missing_said(lost.documents, {"rank": "{:d}", "rank_margin": "{:d}", "score_margin": "{:.4f}"}),
                     hide_index=True, width="stretch", column_config={
            "doc_id": st.column_config.TextColumn("document"),
            "rank": st.column_config.TextColumn("rank (-: never retrieved)"),
            "rank_margin": st.column_config.TextColumn("rank margin", help="ranks short of the cut-off"),
            "score_margin": st.column_config.TextColumn("score margin", help="score short of the last kept candidate")})

    # 2. One query: the path of each of its relevant documents.
    st.subheader("One query: its relevant documents, step by step")
    qids = run.matrix.query_ids
    focus = st.session_state.pop(FOCUS, None)   # another page's example (Present): shown first
    if focus in qids:
        st.session_state["inspect-query"] = focus
    elif st.session_state.get("inspect-query") not in qids:
        st.session_state["inspect-query"] = lost.first_query if lost.first_query else qids[0]
    qid = st.selectbox("Query (first shown: the first that loses a relevant document it retrieved)", qids,
                       key="inspect-query",
                       format_func=lambda q: f"{q}: {exp.queries.text_of(q)[:80]}"
                       + (f"  (loses {lost.lost_in(q)})" if lost.lost_in(q) else ""))
    qi = qids.index(qid)
    query_text = exp.queries.text_of(qid)
    paths = explain.relevant_paths(run, qrels, qi)
    # "-" where a document has no rank or margin (not reached, or dropped before the final list).
    summary = explain.paths_summary(paths)
    llm_sources = exp.merged_qrels.llm_sources
    if llm_sources:   # the metrics use LLM labels (the Judge page's switch): say which grades are an LLM's
        summary.insert(1, "grade by", [llm_sources.get((qid, d), "people") for d in summary.index])
    whole = {c: "{:d}" for c in ("rank there", "cut-off", "rank margin", "final rank", "rank", "candidates in")}
    st.dataframe(with_missing_said(summary, {**whole, "score margin": "{:.4f}"}), width="stretch")
    with st.expander("Rank, score and cut-off at every step"):
        st.dataframe(with_missing_said(explain.paths_table(paths), {**whole, **{c: "{:.4f}" for c in (
            "score", "raw score", "score margin")}}), hide_index=True, width="stretch")
    st.caption("rank: within the candidates that step received (the first pass ranks its whole stored "
               "list); rank margin: rank - cut-off (> 0: ranks it missed by); score margin: the last kept "
               "candidate's score minus its own (the score the step ranked by).")

    # 3. One dropped document: who beat it, both texts, what would have kept it.
    dropped = {p.doc_id: p for p in paths if not p.survived}
    if not dropped:
        st.success("Every judged-relevant document of this query reaches the final list.")
    else:
        st.subheader("One dropped document")
        doc = st.selectbox("Dropped relevant document", list(dropped), key=f"inspect-doc-{qid}",
                           format_func=lambda d: f"{d}: {dropped[d].describe()}")
        path = dropped[doc]
        by = f", an LLM label: {llm_sources[(qid, doc)]}" if (qid, doc) in llm_sources else ""
        st.markdown(f"**{literal(doc)}** (grade {path.grade}{literal(by)}): {literal(path.describe())}")
        if path.in_corpus:
            step = path.dropped_at
            st.markdown(f"**Ranked above it at {literal(step)}**")
            beaten = explain.beaten_by(run, qi, step, doc, relevance=exp.relevance)
            # a candidate the qrels never judged is "unjudged", not grade 0
            st.dataframe(with_missing_said(beaten, {"score": "{:.4f}", "raw": "{:.4f}", "grade": "{:d}"},
                                           {"grade": "unjudged"}), hide_index=True, width="stretch")
            chain = explain.keeps_to_final(run, path, costs=exp)   # its first item: this step's cut-off
            st.markdown(f"**To keep it past {literal(step)}:** " + literal(chain[0].describe()))
            if len(chain) > 1:
                st.markdown("**To reach the final list:** " + literal(explain.describe_keeps(chain)))
            st.caption("Predicted latency: each step's fitted cost for the candidates it would receive. A "
                       "larger cut-off feeds every later stage more candidates.")

            t1, t2, t3 = st.columns(3)
            t1.markdown("**Query**")
            t1.markdown(highlighted(explain.highlight_spans(query_text, query_text)))
            t2.markdown(f"**Dropped: {literal(doc)}**")
            t2.container(height=420).markdown(highlighted(explain.highlight_document(corpus, doc, query_text)))
            if len(beaten):
                # Default: the last candidate the step kept, the one the dropped document had to beat.
                kept = beaten[beaten["kept"].astype(bool)]
                options = list(beaten["doc_id"])
                default = options.index(kept["doc_id"].iloc[-1]) if len(kept) else 0
                other = t3.selectbox(f"Ranked above it at {literal(step)}", options, index=default,
                                     key=f"inspect-other-{qid}-{doc}", format_func=lambda d: (
                                         f"{d} (rank {int(beaten.loc[beaten['doc_id'] == d, 'rank'].iloc[0])})"))
                t3.container(height=420).markdown(
                    highlighted(explain.highlight_document(corpus, other, query_text)))
            st.caption("Query terms are highlighted where a word's stem matches one of the query's "
                       "(BM25's tokenizer: stopwords ignored, so 'cells' matches 'cell').")
