"""cascade-explorer: the dashboard. Run with `streamlit run app.py` (or `./run.sh demo`)."""

from pathlib import Path

import streamlit as st

from cascade_ui import access, restore, view_link

# Shared: no upload from a session that has not signed in (Streamlit's upload route is not the
# script's to gate; access.guard_uploads says how). First thing, once the imports are done.
access.guard_uploads()
# The icon is a file of ours: a :material/...: page icon makes every browser fetch the favicon from
# Google's font server, and the dashboard makes no outside connection.
st.set_page_config(page_title="cascade-explorer", page_icon=str(Path(__file__).parent / "cascade_ui" / "favicon.png"),
                   layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data & index", icon=":material/database:", default=True),
    st.Page("pages/present.py", title="Present", icon=":material/slideshow:"),
    st.Page("pages/build.py", title="Build", icon=":material/build:"),
    st.Page("pages/judge.py", title="Judge", icon=":material/thumbs_up_down:"),
    st.Page("pages/flow.py", title="Flow", icon=":material/account_tree:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/monitoring:"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/troubleshoot:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/doctor.py", title="Compare & doctor", icon=":material/stethoscope:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/compare_arrows:"),
    st.Page("pages/live.py", title="Live", icon=":material/bolt:"),
]
# Shared (./run.sh demo --share): a visitor without the token sees the sign-in box and nothing else.
if refusal := access.token_refusal():   # shared with a CASCADE_TOKEN too short: refused, one line
    st.error(refusal)
elif access.signed_in():
    access.sidebar_note()
    restore.restore()   # a refresh (a new session) opens the view in its link, or the last session (not when shared)
    current = st.navigation(PAGES)
    view_link.sidebar()   # "Link to this view"; the address bar carries it again after a page switch
    view_link.publish()
    current.run()
else:
    access.sign_in_navigation(tuple(p.url_path for p in PAGES)).run()
