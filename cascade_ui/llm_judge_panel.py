"""The Judge page's LLM-as-judge panels: label pairs with an LLM, choose whose judgments the metrics
use, and the agreement between people and the LLM.

The logic is cascade_core.judgments' (LLMJudge, label_into_store, judged_qrels, human_vs_llm); this
module lays it out. LLM labels go to the same judgment log as people's, marked ``llm:<model>``,
and count only where the log's ``use`` setting says so.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cascade_core.errors import CascadeError, MissingScoresError
from cascade_core.judgments import (DEFAULT_PROMPT, LLM, USE_HUMAN, USE_LLM, USES, LLMJudge, holes_of_all, is_llm,
                                    merge_qrels, pools_of, to_trec)
from cascade_core.judgments.agreement import human_vs_llm, is_binary, kappa_words, positive_only
from cascade_core.judgments.llm_judge import label_into_store
from cascade_core.scorers.llm import DEFAULT_API_KEY_ENV

from . import access, state
from .text import code, literal

SHORT = {2: "relevant", 1: "partly", 0: "not relevant"}
HTTP, LOCAL = "http", "local"
BACKENDS = {HTTP: "an OpenAI-compatible server (Ollama, llama.cpp, vLLM, OpenAI)",
            LOCAL: "the packaged local model (Gemma 3 270M: offline, slow, a weak judge)"}
THIS_POOL, ALL_HOLES, N_POOLS = "pool", "holes", "queries"
MEASURED = "llm-measured"     # session: {judge source: seconds a pair measured here}
LAST = "llm-last"             # session: the last run's summary line


def _judge(locked: bool) -> LLMJudge | None:
    """The judge the widgets describe (None, with a line saying why, when it cannot be made)."""
    s = access.settings()
    backend = st.radio("Back end", list(BACKENDS), format_func=BACKENDS.get, key="llm-backend", horizontal=True,
                       disabled=locked)
    params: dict = {}
    if backend == HTTP:
        c1, c2, c3 = st.columns([3, 2, 2])
        if s.share:   # a shared dashboard calls only the servers its operator listed
            if not s.llm_urls:
                st.info("This shared dashboard lists no LLM server (its operator sets CASCADE_LLM_URLS).")
                return None
            url = c1.selectbox("Server (listed by the operator)", list(s.llm_urls), key="llm-url-listed")
        else:
            url = c1.text_input("Server URL", key="llm-url", placeholder="http://localhost:11434/v1",
                                help="The OpenAI-compatible API's base URL, ending in /v1.")
        model = c2.text_input("Model", key="llm-model", placeholder="llama3.2")
        key_env = c3.text_input("API key variable", DEFAULT_API_KEY_ENV, key="llm-key-env", disabled=s.share,
                                help="The environment variable of the server process holding the key (never "
                                     "typed here). A shared dashboard reads only the default one.")
        c4, c5 = st.columns(2)
        api = c4.radio("API", ["chat", "completions"], key="llm-api", horizontal=True)
        conc = c5.number_input("Requests at once", 1, 32, 4, key="llm-concurrency")
        if not url.strip() or not model.strip():
            st.caption("Give the server's URL and a model name to see the estimate.")
            return None
        params = {"api": api, "concurrency": int(conc), "api_key_env": key_env.strip() or DEFAULT_API_KEY_ENV}
        model, base_url = model.strip(), url.strip()
    else:
        model = st.text_input("Model (empty: the packaged gemma-3-270m)", key="llm-local-model").strip() or None
        base_url = ""
        st.caption("The local model runs on this machine's CPU, one pair at a time: seconds a pair, and a "
                   "270M-parameter model is close to a random judge. For trying the plumbing; use a server "
                   "for labels worth trusting.")
    prompt = st.session_state.get("llm-prompt") or DEFAULT_PROMPT
    try:
        access.check_model(model or "", "llm", {**params, "base_url": base_url})
        return LLMJudge(model, base_url=base_url, prompt=prompt, params=params)
    except CascadeError as exc:
        st.error(literal(exc))
        return None


def _prompt_box() -> None:
    if st.session_state.get("llm-prompt-reset"):
        st.session_state["llm-prompt"] = DEFAULT_PROMPT
    st.session_state.setdefault("llm-prompt", DEFAULT_PROMPT)
    st.text_area("Prompt ({query} and {document} are replaced by the texts)", key="llm-prompt", height=230,
                 help="Kept with every label it makes. The answer is read as the first digit 0-2 (else the words "
                      "relevant / partly / not); anything else is counted as unparseable, never guessed.")
    st.button("Back to the default prompt", key="llm-prompt-reset",
              disabled=st.session_state["llm-prompt"] == DEFAULT_PROMPT)


def _pairs(exp, store, ds, queries, qid: str, pool, depth: int, judge: LLMJudge, human) -> list[tuple[str, str]]:
    """The pairs the radio chooses, less those this judge labelled already (when asked)."""
    c1, c2 = st.columns([3, 1])
    choice = c1.radio("Which pairs", [THIS_POOL, ALL_HOLES, N_POOLS], key="llm-pairs", format_func={
        THIS_POOL: f"this query's {'holes' if pool.mode == 'holes' else 'pool'} ({len(pool)} documents, as above)",
        ALL_HOLES: "the holes of the cascade's top 10, every evaluated query",
        N_POOLS: "the pools of N queries (from this one on)"}.get)
    n = c2.number_input("N queries", 1, max(len(queries), 1), min(5, max(len(queries), 1)), key="llm-n",
                        disabled=choice != N_POOLS)
    skip = st.checkbox("Leave out pairs this model already labelled", True, key="llm-skip")
    sp = state.spec()
    if choice == THIS_POOL:
        pairs = [(qid, d) for d in pool.doc_ids]
    elif choice == ALL_HOLES:
        try:
            pairs = holes_of_all(exp, sp, judged=human)
        except MissingScoresError:
            st.warning("The evaluated queries are not all scored for this cascade yet: open **Evaluate** once "
                       "(it scores them), then come back.")
            return []
    else:
        ids = queries.ids
        start = ids.index(qid)
        chosen = (ids[start:] + ids[:start])[: int(n)]
        missing: list = []
        pairs = pools_of(exp, [(q, queries.text_of(q)) for q in chosen], sp, depth, missing)
        if missing:
            st.caption(f"{len(missing)} of these queries were never scored for this cascade and are left out "
                       f"({literal(', '.join(missing[:5]))}): open each once above, or Evaluate, to score it.")
    if skip:
        done = store.latest(judge.source)
        pairs = [p for p in pairs if p not in done]
    return pairs


def label_section(exp, store, ds, queries, qid: str, pool, depth: int, locked: bool, who: str) -> None:
    """Label pairs with an LLM: back end, prompt, pairs, the estimate, then the run (saved label by label)."""
    st.subheader("Label with an LLM")
    st.caption("An LLM grades pairs 2/1/0 like a person. Its labels are saved in the same log, each marked with "
               "its model (`llm:<model>`) and kept with its raw answer and the prompt; they count in the metrics "
               "only if the switch below says so, and are compared with people's grades further down.")
    if locked:
        st.info("Read-only dashboard: the LLM labels already made are shown, no new ones are made.")
        return
    judge = _judge(locked)
    with st.expander("Prompt", expanded=False):
        _prompt_box()
    if judge is None:
        return
    human = merge_qrels(ds.qrels, store).qrels
    pairs = _pairs(exp, store, ds, queries, qid, pool, depth, judge, human)
    if st.session_state.get(LAST):
        st.success(st.session_state.pop(LAST))
    if not pairs:
        st.info("No pair to label: every pair chosen is labelled by this model already (untick the box to "
                "label them again).")
        return
    measured = st.session_state.get(MEASURED, {}).get(judge.source)
    est = judge.estimate([queries.text_of(q) for q, _ in pairs], [ds.corpus.text_of(d) for _, d in pairs],
                         seconds_per_pair=measured)
    st.info(f"**Before the run:** {literal(est.describe())}.", icon=":material/schedule:")
    c1, c2 = st.columns(2)
    if c2.button("Measure the time on 3 pairs", key="llm-measure",
                 help="Asks the model about the first 3 pairs (their answers are not saved) and uses the time "
                      "in the estimate."):
        with access.job_slot("timing an LLM judge"), st.spinner("Timing 3 pairs..."):
            per_pair = judge.measure(pairs, queries.text_of, ds.corpus.text_of, n=3)
        st.session_state.setdefault(MEASURED, {})[judge.source] = per_pair
        st.rerun()
    if c1.button(f"Label {len(pairs)} pair{'s' if len(pairs) != 1 else ''} with {literal(judge.source)}",
                 type="primary", key="llm-run"):
        bar = st.progress(0.0, text=f"0 of {len(pairs)} labelled")

        def progress(done: int, total: int, label) -> None:
            # the document's id and the model's own words: shown as they are
            bar.progress(done / total, text=f"{done} of {total} labelled and saved (last: {literal(label.doc_id)} "
                                            f"answered {literal(repr(label.answer.strip()[:20]))})")

        with access.job_slot(f"labelling {len(pairs)} pairs with an LLM"):
            run = label_into_store(judge, store, pairs, queries.text_of, ds.corpus.text_of, who=who,
                                   progress=progress)
        st.session_state[LAST] = (f"{len(run.labels)} pairs labelled by {code(run.source)} in {run.seconds:.1f} s "
                                  f"({run.seconds_per_pair:.2f} s a pair): {len(run.labels) - run.unparseable} "
                                  f"labels saved, {run.unparseable} unparseable answer(s) kept apart"
                                  + (f"; {run.truncated} document(s) cut to the first "
                                     f"{judge._scorer.params['max_doc_chars']} "
                                     "characters in the prompt (max_doc_chars)" if run.truncated else "")
                                  + ".")
        st.rerun()


def labels_table(store, ds, queries) -> None:
    """Every LLM label in force (and the unparseable answers), with its source."""
    labels = store.history(LLM)
    unparsed = store.unparsed()
    if not labels and not unparsed:
        return
    with st.expander(f"LLM labels: {len(store.latest(LLM))} pairs ({len(unparsed)} unparseable answer(s) kept)"):
        st.dataframe(pd.DataFrame([{"query": j.query, "query text": queries.text_of(j.query) if j.query in queries
                                    else j.query_text, "document": j.doc, "grade": SHORT[j.grade],
                                    "source": j.source, "answer": j.answer, "when": j.at[:16].replace("T", " ")}
                                   for j in reversed(labels)]),
                     hide_index=True, width="stretch", column_config={
                         "query text": st.column_config.TextColumn(width="medium"),
                         "source": st.column_config.TextColumn(width="medium")})
        if unparsed:
            st.caption("Answers that gave no grade (not counted as judgments):")
            st.dataframe(pd.DataFrame([{"query": u.query, "document": u.doc, "answer": u.answer, "source": u.source}
                                       for u in unparsed]), hide_index=True, width="stretch")
        st.download_button("Download the LLM labels (TREC)", to_trec(store.qrels(LLM)), file_name="llm-labels.txt",
                           mime="text/plain", key="llm-export")


def use_switch(store, ds, merged, locked: bool, who: str) -> None:
    """Whose judgments every page's metrics use: people's (default), the LLM's, or both."""
    n_llm = len(store.latest(LLM))
    n_human = merge_qrels(ds.qrels, store).qrels.n_pairs
    options = list(USES)
    # Fixed labels: a label that changed with each judgment (pair counts) made Streamlit see a new
    # widget on every other rerun, shown with nothing selected. The counts go in the caption below.
    choice = st.radio("The metrics on every page use", options, index=options.index(store.use), horizontal=True,
                      format_func=USES.get, disabled=locked, key=f"judge-use-{store.use}",
                      help="Saved with the judgments: every page, and every visitor of this dataset, uses it at once.")
    st.caption(f"{USES[USE_HUMAN]}: {n_human:,} pairs; {USES[USE_LLM]}: {n_llm:,} pairs.")
    if choice != store.use and not locked:
        store.set_use(choice, who=who)
        st.rerun()
    if merged.use != USE_HUMAN:
        st.caption(f"In use now: {USES[merged.use]}: {merged.llm_pairs} pair(s) graded by an LLM"
                   + (f", {merged.llm_overruled} LLM label(s) overruled by a person" if merged.use == "both" else "")
                   + ". Inspect marks each grade that comes from an LLM.")


def agreement_section(store, ds, queries, on_open) -> None:
    """Cohen's kappa, the confusion table and the per-query disagreements of people against the LLM."""
    sources = [s for s in store.sources() if is_llm(s)]
    st.subheader("Agreement: people and the LLM")
    if not sources:
        st.caption("No LLM labels yet: label some above to compare them with people's grades.")
        return
    source = LLM
    if len(sources) > 1:
        source = st.selectbox("LLM labels of", [LLM, *sources], key="agree-source",
                              format_func=lambda s: "every LLM judge (the latest label of a pair)" if s == LLM else s)
    human = merge_qrels(ds.qrels, store).qrels.judgments
    llm = store.qrels(source).judgments
    c1, c2 = st.columns(2)
    binary = c1.checkbox("Relevant or not (binary)", is_binary(human) or is_binary(llm), key="agree-binary",
                         help="Compare grade > 0 against 0: for sets on different scales (SciFact's qrels grade a "
                              "relevant document 1, the judge's scale says 2). Chosen when one set grades 0/1 only.")
    zero = c2.checkbox("A document people did not grade counts as not relevant", positive_only(human),
                       key="agree-zero", help="In a query people judged (the TREC convention). Chosen when people's "
                       "set lists only relevant documents, as SciFact's qrels do: else only those would be compared.")
    ag = human_vs_llm(ds.qrels, store, source, binary=binary, unjudged_as_zero=zero)
    if not ag.n:
        st.info(f"No pair is graded by both people and the LLM yet ({ag.only_second} LLM label(s) on pairs no "
                "person graded): label a judged query's pool, or judge what the LLM labelled.")
        return
    m = st.columns(4)
    m[0].metric("Cohen's kappa", f"{ag.kappa:.3f}", help="Unweighted: 1 perfect agreement, 0 what chance gives.")
    m[1].metric("kappa, linear-weighted", f"{ag.kappa_linear:.3f}",
                help="A 0 against a 2 counts twice a 0 against a 1.")
    m[2].metric("Same grade", f"{ag.accuracy:.0%}")
    m[3].metric("Pairs compared", f"{ag.n}")
    st.caption(f"{kappa_words(ag.kappa).capitalize()} agreement (Landis and Koch's words, a convention). "
               f"{ag.only_first} pair(s) only people graded, {ag.only_second} only the LLM: not compared. "
               + ("Grades compared as relevant (1) or not (0)." if binary else "Grades 0/1/2 compared."))
    names = {0: "not relevant", 1: "relevant" if binary else "partly", 2: "relevant"}
    table = ag.confusion.rename(index={g: f"people: {n}" for g, n in names.items()},
                                columns={g: f"LLM: {n}" for g, n in names.items()})
    table.index.name = None
    st.dataframe(table, width="content")
    if ag.disagreements.empty:
        st.success("No disagreement on the pairs compared.")
        return
    answers = {(j.query, j.doc): j.answer for j in store.history(source)}
    rows = [{"query": r.query_id, "query text": queries.text_of(r.query_id) if r.query_id in queries else "",
             "document": r.doc_id, "title": (ds.corpus[r.doc_id].title or ds.corpus[r.doc_id].text)[:70],
             "people": names.get(r.human, r.human), "LLM": names.get(r.llm, r.llm),
             "LLM's answer": answers.get((r.query_id, r.doc_id), "")}
            for r in ag.disagreements.itertuples()]
    per_query = ag.per_query[ag.per_query["disagree"] > 0].sort_values("disagree", ascending=False)
    st.markdown(f"**{len(rows)} disagreement(s)** in {len(per_query)} quer{'y' if len(per_query) == 1 else 'ies'}, "
                "most first:")
    st.dataframe(per_query.reset_index().assign(**{"query text": lambda f: [
        queries.text_of(q) if q in queries else "" for q in f["query_id"]]})[
        ["query_id", "query text", "compared", "agree", "disagree", "kappa"]].rename(columns={"query_id": "query"}),
        hide_index=True, width="stretch", column_config={
            "query text": st.column_config.TextColumn(width="large"),
            "kappa": st.column_config.NumberColumn(format="%.2f")})
    st.caption("Every pair graded differently:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "query text": st.column_config.TextColumn(width="medium"),
        "title": st.column_config.TextColumn(width="medium")})
    picks = [f"{r['query']}\t{r['document']}" for r in rows]
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Look at one in the judging card above", picks, key="agree-pick",
                        format_func=lambda p: "{}: {} (document {})".format(
                            p.split("\t")[0], queries.text_of(p.split("\t")[0])[:60] if p.split("\t")[0] in queries
                            else "", p.split("\t")[1]))
    c2.button("Open it", key="agree-open", on_click=on_open, args=tuple(pick.split("\t")), width="stretch")
