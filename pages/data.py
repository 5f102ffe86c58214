"""Data & index: load a dataset (sample, folder, upload), see its validation report, index it."""

from pathlib import Path

import pandas as pd
import streamlit as st

from cascade_core.data.loader import FORMATS
from cascade_core.errors import CascadeError
from cascade_core.models import resolve_model
from cascade_core.scorers.dense import DEFAULT_BI_ENCODER
from cascade_core.serving import PathRefused
from cascade_core.vectors.index import list_indexes
from cascade_ui import access, state
from cascade_ui.demo import run_demo, warm_up
from cascade_ui.text import code, literal
from cascade_ui.widgets import sidebar_status

st.title("Data & index")
# Filled at the end of the page: an action on this page (the demo, a preset, a load) must show
# in the sidebar in the same run, not the next one.
sidebar_slot = st.sidebar.container()

with st.container(border=True):
    st.subheader("Demo")
    st.write("One click: the bundled SciFact sample (1,813 abstracts, 300 labeled queries), the "
             "BM25 -> 100 -> MiniLM (fused with BM25) -> 20 cascade, and every score its sliders can need. The first "
             "time takes about 15 s on 2 cores (the sample ships its document vectors); after that it is instant.")
    if st.button("Run the demo", type="primary", key="demo"):
        try:
            run_demo(st)
            st.success("Demo ready. Open **Flow** or **Evaluate**, and move the cut-offs in the sidebar.")
        except Exception as exc:  # noqa: BLE001 - shown to the user, not raised
            state.show_error(exc)

st.subheader("Load a dataset")
locked = access.read_only()
sources = ["Bundled sample"] if locked else ["Bundled sample", "Folder or file path", "Upload files"]
source = st.radio("Source", sources, horizontal=True, key="source")
if locked:
    st.caption("Read-only dashboard: the bundled sample and what is already loaded; no other folder, no uploads.")
path, split, fmt, label, named = None, None, "auto", None, {}
if source == "Bundled sample":
    path, split, label = state.sample_path(), "test", "SciFact sample (bundled)"
    st.caption(f"{code(path)}: SciFact test queries with hard distractors (CC BY-NC 2.0).")
elif source == "Folder or file path":
    path = st.text_input("Path", placeholder="../shared/data/scifact  (BEIR, TREC, JSONL/CSV or SMART), or "
                         "irds:beir/scifact/test", key="path")
    st.caption("Opens folders under the data roots: " + ", ".join(code(r) for r in access.roots().roots)
               + ". More with `CASCADE_DATA_ROOTS` (see README, *Sharing the dashboard*). `irds:NAME` loads an "
               "ir_datasets collection by name (downloaded on first use; the split is in the name).")
    c1, c2 = st.columns(2)
    split = c1.text_input("qrels split (BEIR)", value="", placeholder="test", key="split") or None
    fmt = c2.selectbox("Format", ["auto", *FORMATS], key="fmt")
    with st.expander("Name the files yourself"):
        st.caption("Each file is recognised by its content and overrides what the folder above would give; "
                   "with a corpus file here, the folder may be left empty.")
        named = {role: st.text_input(title, key=f"named-{role}", placeholder=hint).strip()
                 for role, title, hint in (("corpus", "Corpus file", "docs.trec, corpus.jsonl ..."),
                                           ("queries", "Queries (topics) file", "queries.trec, queries.jsonl ..."),
                                           ("qrels", "Qrels file", "qrels.txt, test.tsv ..."))}
        named = {role: p for role, p in named.items() if p}
else:
    files = st.file_uploader("Corpus, queries and qrels files (BEIR: corpus.jsonl, queries.jsonl, "
                             "test.tsv; or corpus.csv/.jsonl, queries, qrels.tsv; or TREC files)",
                             accept_multiple_files=True, key=access.uploader_key())
    if files:
        try:
            path = str(access.store_upload(files))
            label = "uploaded: " + ", ".join(sorted(f.name for f in files))
        except CascadeError as exc:
            st.error(f"Not stored: {literal(exc)}.")

def as_uploaded(text: str) -> str:
    """``text`` with the uploads folder left out of file paths: a user knows their file's name,
    not the content hash we store it under."""
    src = st.session_state.get(state.DATASET) or {}
    for folder in {str(Path(p)) for p in (path, src.get("path")) if p and "uploads" in Path(p).parts}:
        text = text.replace(folder + "/", "").replace(folder, "the upload")
    return text


if st.button("Load and validate", key="load", disabled=not (path or named)):
    try:
        ds = state.load_dataset(path, split=split, fmt=fmt, label=label, files=named or None)
        st.success(f"Loaded **{literal(label or ds.name)}**: {len(ds.corpus):,} documents, {len(ds.judged_queries):,} "
                   "judged queries.")
    except PathRefused as exc:   # the roots, and nothing about the path (not even whether it exists)
        st.error("**Not opened.** This dashboard opens folders under its data roots only: "
                 + ", ".join(code(r) for r in exc.roots) + ". To open another folder, whoever runs the dashboard "
                 "adds it to `CASCADE_DATA_ROOTS` (folders separated by `:`); or upload the files."
                 + (" The dataset you had before is still loaded." if st.session_state.get(state.DATASET) else ""))
    except CascadeError as exc:
        st.error(f"Could not load it: {literal(as_uploaded(str(exc)))}. The dataset you had before is still loaded.")
    except Exception as exc:  # noqa: BLE001
        state.show_error(exc)

ds = state.dataset()
if ds is not None:
    st.subheader(f"Validation report: {literal(state.dataset_label())}")
    cols = st.columns(min(len(ds.report.counts), 5) or 1)
    for i, (name, value) in enumerate(list(ds.report.counts.items())[:5]):
        cols[i].metric(literal(name), f"{value:,}")
    if ds.report.findings:
        rows = [{"level": f.level, "where": as_uploaded(f"{f.file}:{f.line}" if f.line else (f.file or "")),
                 "problem": f.message, "occurrences": f.count} for f in ds.report.findings]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption("No problems found.")
    recognised = [line for role in ("corpus", "queries", "qrels") for line in ds.files.get(role, [])]
    if recognised:
        st.caption("Files read: " + "; ".join(literal(as_uploaded(line)) for line in recognised[:12])
                   + (f"; and {len(recognised) - 12} more" if len(recognised) > 12 else ""))

if not locked:
    access.uploads_panel()

st.subheader("Vector index")
ws = state.workspace()
if locked:
    st.caption("Read-only dashboard: indexes are listed, not built.")
elif ds is None:
    st.info("Load a dataset (or run the demo) to index it.")
else:
    model_name = st.text_input("Bi-encoder model", value=DEFAULT_BI_ENCODER, key="index-model",
                               help="A packaged model, a local folder, or a Hugging Face id (needs network).")
    if st.button("Build index", key="build-index"):
        try:
            access.check_model(model_name)
            index = ws.vector_index(ds.corpus, resolve_model(model_name))
            with access.job_slot(f"indexing with {model_name}"), \
                    st.status(f"Indexing {len(ds.corpus):,} documents with {literal(model_name)}...",
                              expanded=True) as status:
                report = index.build(progress=state.progress_callback(status))
                status.update(label=f"Index {literal(report.name)}: {report.encoded} encoded, {report.already_stored} "
                                    f"already stored, {report.truncated} truncated at {report.max_tokens} tokens",
                              state="complete", expanded=False)
        except Exception as exc:  # noqa: BLE001
            state.show_error(exc)
try:
    infos = list_indexes(ws.qdrant)
    if infos:
        st.dataframe(pd.DataFrame([{"index": i.name, "model": i.model, "corpus": i.corpus, "vectors": i.n_points,
                                    "documents": i.n_docs, "dim": i.dim, "search": i.search,
                                    "complete": "yes" if i.complete else "no (resume by building again)"}
                                   for i in infos]), hide_index=True, width="stretch")
    else:
        st.caption(f"No indexes yet in {literal(ws.qdrant_location)} Qdrant ({literal(ws.home)}).")
except Exception as exc:  # noqa: BLE001
    state.show_error(exc)

sidebar_status(sidebar_slot)
# Drawn: now the model libraries import in the background (once per server), so that the demo's
# first model load, or an index build, does not wait for them.
warm_up()
