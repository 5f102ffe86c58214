"""Present: the cascade for a stakeholder, top to bottom: what it is, what it buys, what it costs,
the trade-off, what it still loses, and the caveats, each with the page that explains it.

Every number comes from :func:`cascade_core.present.story`; the same story prints offline with
``cascade report --present FILE.html``. Printing the page (the browser's print to PDF) keeps one
panel per sheet.
"""

import streamlit as st

from cascade_core import formats
from cascade_core.analysis.lift import metric_label
from cascade_core.present import EXPLAIN, story
from cascade_draw import charts
from cascade_draw.present import tradeoff_figure
from cascade_ui import state
from cascade_ui.text import literal
from cascade_ui.widgets import analysis_page, open_page_button, page_link, shown_errors

PAGE_FILES = {"Judge": "pages/judge.py", "Evaluate": "pages/evaluate.py", "Flow": "pages/flow.py", "Build": "pages/build.py",
              "Compare & doctor": "pages/doctor.py", "Tune": "pages/tune.py", "Inspect": "pages/inspect.py"}
# Print: no sidebar or toolbar, one panel per sheet, charts kept whole.
PRINT_CSS = """<style>@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"] {display: none !important;}
  div[class*="st-key-present-panel"] {break-after: page; break-inside: avoid;}
  /* charts and grids keep the width they were drawn at on screen: scale the page to the sheet */
  [data-testid="stMain"] {zoom: 0.6;}
}</style>"""

result, exp = analysis_page("Present")
with shown_errors():
    tuned = st.session_state.get("tune-result", {})
    s = story(result, exp, tuned.get("result") if isinstance(tuned, dict) else None, state.dataset_label())
    st.html(PRINT_CSS)
    st.caption(f"**{literal(s.title)}** on {literal(s.dataset)}, {formats.count(s.queries)} labeled queries. Every "
               "number below is computed "
               "from this dataset's stored scores and this machine's timings; the caveats at the end say how far "
               "each one goes.")

    with st.container(key="present-panel-what"):
        st.subheader("1. The cascade")
        st.plotly_chart(charts.cascade_diagram(s.stages, s.final_k), key="present-diagram",
                        config={"displayModeBar": False})
        st.caption(EXPLAIN["diagram"])

    with st.container(key="present-panel-buys"):
        st.subheader("2. What it buys")
        if s.change is None and not s.judged:
            st.markdown(literal(s.buys))
        elif s.change is None:
            st.markdown("There is no rerank stage yet: the first pass is the whole cascade. Add stages on **Build**.")
        else:
            c1, c2 = st.columns([1, 2])
            c1.metric(f"{metric_label(s.change.metric)} (quality of the top 10)", formats.metric(s.change.after),
                      delta=f"{formats.change(s.change.points)} vs the first pass alone",
                      delta_color="normal" if abs(s.change.points) > 1e-9 else "off")
            c2.markdown(f"**{literal(s.buys)}** over the first pass alone, on {formats.count(s.queries)} queries:")
            c2.markdown(literal(s.buys_in_words[0].upper() + s.buys_in_words[1:]) + ".")
            c2.caption(EXPLAIN["metric"] + " Also: " + "; ".join(f"{metric_label(c.metric)} {formats.metric(c.before)} \u2192 "
                                             f"{formats.metric(c.after)} ({formats.change(c.points)})" for c in s.others))

    with st.container(key="present-panel-costs"):
        st.subheader("3. What it costs")
        cols = st.columns(4)
        added = s.p50_ms - s.first_pass_ms   # what the stages cost, said where the reader looks first
        cols[0].metric("Typical query (p50)", formats.ms(s.p50_ms), help="Predicted: half the queries take less.",
                       delta=f"{formats.ms(added)} more than the first step alone" if s.stages[1:] else None,
                       delta_color="off", delta_arrow="off")
        cols[1].metric("Slow query (p95)", formats.ms(s.p95_ms), help="Predicted: one query in twenty takes longer.")
        if s.budget_ms is not None:
            said, bad = s.budget_verdict
            cols[2].metric("Budget", formats.ms(s.budget_ms), delta=said, delta_color="inverse" if bad else "normal",
                           delta_arrow="off")
        cols[3].metric("Per 1,000 queries", formats.usd(s.usd_per_1k) if s.usd_per_1k else "not priced",
                       help="From the prices set in the cost profiles (Flow); none set: not priced.")
        st.caption(EXPLAIN["costs"].format(basis=literal(s.cost_basis), first=formats.ms(s.first_pass_ms)))

    if s.frontier is not None:
        with st.container(key="present-panel-tradeoff"):
            st.subheader("4. The trade-off")
            st.plotly_chart(tradeoff_figure(s), key="present-pareto", config={"displayModeBar": False})
            if s.tradeoff:
                st.markdown(literal(s.tradeoff))
            st.dataframe(s.alternatives, hide_index=True, width="stretch")
            st.caption(EXPLAIN["tradeoff"])

    if s.lost is not None:
        with st.container(key="present-panel-losses"):
            st.subheader("5. What it still loses")
            st.markdown(literal(s.losses))
            st.plotly_chart(charts.lost_by_stage_bars(s.lost, s.step_words), key="present-lost",
                            config={"displayModeBar": False})
            if s.lost_example is not None:
                st.markdown("**An example.** " + literal(s.lost_example.sentence()))
                open_page_button(PAGE_FILES["Inspect"], "See why, on Inspect", key="present-inspect",
                                 state={"inspect-focus": s.lost_example.query_id})

    with st.container(key="present-panel-caveats"):
        st.subheader("Caveats")
        for caveat in s.caveats:
            c1, c2 = st.columns([4, 1])
            c1.caption(literal(caveat.text))
            page_link(PAGE_FILES.get(caveat.page, "pages/evaluate.py"), f"More on {caveat.page}", where=c2)
