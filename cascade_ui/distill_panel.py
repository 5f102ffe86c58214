"""The Build page's distillation panel: train a cross-encoder from the current cascade, here.

Teacher: the session's cascade, refused when it would teach noise (the untrained stand-in, or a
stage the doctor finds harmful), with the best teacher the stored scores support proposed
instead. Training queries: another split of the dataset, a query file, or queries generated from
documents; never the session's evaluation queries (refused). Before any work, the estimate: the
teacher's scoring still to do, the training and the comparison, each with where its rate comes
from; a job over two minutes asks first. The training runs in the background
(:mod:`cascade_core.distill.job`): its progress with time left survives a refresh, Cancel stops
it at a checkpoint, a stopped or interrupted run offers Resume, and the report compares first
pass, teacher and student on the held-out queries; one click puts the student into the cascade.
Everything is :mod:`cascade_core.distill`; this module only lays it out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import streamlit as st

from cascade_core.cascade.presets import is_stand_in, preset_spec, presets
from cascade_core.data.beir import available_splits
from cascade_core.distill import DistillSettings, exclude_held_out, file_queries, generated_queries, split_queries
from cascade_core.distill.job import JobRequest, cancel_job, jobs, new_job_folder, read_job, start_job
from cascade_core.distill.plan import best_stored_teacher, estimate_distillation, teacher_problems
from cascade_core.distill.report import student_spec
from cascade_core.distill.train import LOSSES
from cascade_core.errors import CascadeError
from cascade_core.formats import duration
from cascade_core.models.students import StudentInfo, read_student

from . import access, state
from .presets import student_note
from .text import code, literal

SPLIT, FILE, GENERATED = "a split of this dataset", "a query file", "queries generated from documents"
RESULT = "distill-result"      # session key: the last student trained here (folder, distilled.json)
ASKED = "distill-asked"        # session key: the request awaiting "Yes, start it" (a long job)
SHOWN_ESTIMATE = "distill-estimate-shown"   # session key: the estimate's lines, shown until settings change
MINE = "distill-my-jobs"       # session key: the job folders this session started (a shared dashboard shows only those)
REFRESH_S = 2.0                # a running job's progress is read again this often


def _other_splits(src: dict) -> list[str]:
    path = Path(src["path"])
    try:
        splits = available_splits(path) if path.is_dir() else {}
    except CascadeError:
        return []
    return [s for s in splits if s != src.get("split")]


def _training_queries(source: str, src: dict, dataset, split: str | None, upload, n_generate: int, seed: int):
    """The training queries, and how a background job finds them again (its request's part)."""
    if source == SPLIT:
        if not split:
            raise CascadeError("this dataset has no other split to train on: use a query file or generated queries")
        return split_queries(src["path"], split, src.get("fmt", "auto")), {"kind": "split", "split": split}
    if source == FILE:
        if upload is None:
            raise CascadeError("choose a query file first (.jsonl with _id and text, or .tsv/.csv with a header)")
        data = upload.getvalue()
        name = Path(upload.name).name
        # Within the uploads quota, like the Data page's uploads (cascade_core.serving.UploadArea).
        folder = access.uploads().store(hashlib.sha256(data).hexdigest()[:16], {name: data})
        return file_queries(folder / name), {"kind": "file", "file": str(folder / name)}
    return generated_queries(dataset.corpus, n_generate, seed=seed), {"kind": "generated", "n": n_generate, "seed": seed}


def distill_panel() -> None:
    """The panel, at the end of the Build page (an expander, closed until used)."""
    spec, dataset, src = state.spec(), state.dataset(), st.session_state.get(state.DATASET)
    shown_jobs = _my_jobs()
    with st.expander("Distil a cross-encoder from this cascade (a real precision stage, trained here)",
                     expanded=RESULT in st.session_state or bool(shown_jobs) or ASKED in st.session_state):
        if spec is None or dataset is None:
            st.info("Load a dataset and set a cascade first: the cascade is the teacher.")
            return
        if access.read_only():
            st.info("This dashboard is read-only: it trains nothing.")
            return
        for job in shown_jobs:
            _job_box(job, spec)
        st.caption(f"**Teacher:** {literal(spec.describe())}. The student, a small cross-encoder started from the "
                   "packaged MiniLM weights, learns the teacher's ranking of each training query's first-pass candidates; "
                   "then both rank the held-out queries (this dataset's judged ones). Runs on the CPU, in the "
                   "background: you may leave the page and come back.")
        for model in dict.fromkeys(s.scorer.model for s in spec.stages if s.scorer.model):
            note = student_note(model, dataset.corpus.fingerprint)
            if note:
                st.caption(literal(note))
        unfit = _teacher_check(spec, dataset)
        splits = _other_splits(src)
        c1, c2 = st.columns(2)
        source = c1.radio("Training queries", [SPLIT, FILE, GENERATED], index=0 if splits else 2, key="distill-source")
        split = upload = None
        n_generate = 200
        if source == SPLIT:
            split = c2.selectbox("Split", splits, key="distill-split", help="Never the split being evaluated")
        elif source == FILE:
            upload = c2.file_uploader("Query file", type=["jsonl", "tsv", "csv"], key="distill-file")
        else:
            n_generate = int(c2.number_input("Queries to generate", 2, 100_000, 200, key="distill-generate",
                                             help="One sentence of a random document each; that document is "
                                                  "judged relevant to it"))
        d = DistillSettings()
        c1, c2, c3, c4 = st.columns(4)
        pairs = int(c1.number_input("Pairs to train on", 1, 10_000_000, d.pairs, step=1000, key="distill-pairs"))
        layers = int(c2.number_input("Layers (of MiniLM's 6)", 1, 6, d.layers, key="distill-layers"))
        max_length = int(c3.number_input("Tokens per pair (training)", 16, 512, d.max_length, key="distill-len"))
        serve = int(c4.number_input("Tokens per pair (when ranking)", 16, 512, d.serve_length, key="distill-serve"))
        c1, c2, c3, c4 = st.columns(4)
        loss = c1.selectbox("Loss", LOSSES, index=LOSSES.index(d.loss), key="distill-loss")
        temperature = c2.number_input("Temperature", 0.001, 10.0, d.temperature, key="distill-temp",
                                      help="Teacher score units per student logit")
        labels = c3.number_input("Judged-relevant boost", 0.0, 10.0, d.labels, key="distill-labels",
                                 help="Added to the teacher score of judged-relevant training pairs (0: the "
                                      "teacher alone)")
        n_held = int(c4.number_input("Held-out queries (0: all)", 0, 1_000_000, 0, key="distill-held",
                                     help="How many of this dataset's judged queries to compare on"))
        try:
            settings = DistillSettings(layers=layers, max_length=max_length, serve_length=serve, loss=loss,
                                       temperature=float(temperature), pairs=pairs, labels=float(labels))
        except CascadeError as exc:
            st.error(literal(exc))
            return
        held = dataset.judged_queries
        if n_held:
            held = held.subset(held.ids[:n_held])
        # What an estimate was made for: shown only while the teacher and the form still say the same.
        asked_for = (spec.to_json(), source, split, n_generate, getattr(upload, "name", None), n_held,
                     json.dumps(settings.to_dict(), sort_keys=True))
        busy = any(j.active for j in shown_jobs)
        c1, c2 = st.columns(2)
        estimate_clicked = c1.button("Estimate the time", key="distill-estimate",
                                     help="What will be scored and trained, and how long: nothing is run")
        train_clicked = c2.button("Train the student", type="primary", key="distill-train",
                                  disabled=bool(unfit) or busy,
                                  help="Refused: the teacher would teach noise (above)" if unfit else
                                  "One run at a time: wait for the one above, or cancel it" if busy else
                                  "Starts in the background; a job over 2 minutes asks first")
        if estimate_clicked or train_clicked:
            try:
                training, how = _training_queries(source, src, dataset, split, upload, n_generate, 0)
                training = exclude_held_out(training, held)
                est = estimate_distillation(dataset, training, spec, state.workspace(), settings, held)
                st.session_state[SHOWN_ESTIMATE] = (asked_for, est.lines())
                request = JobRequest(dataset={k: src[k] for k in ("path", "split", "fmt", "files") if k in src},
                                     training=how, teacher=spec.to_dict(), settings=settings.to_dict(),
                                     held_out=n_held, label=state.dataset_label() or dataset.name)
                if train_clicked and est.needs_confirmation:
                    st.session_state[ASKED] = (request.to_dict(), est.seconds)
                elif train_clicked:
                    _start(request.to_dict(), dataset.name)
            except CascadeError as exc:
                st.error(literal(exc))
        shown_for, lines = st.session_state.get(SHOWN_ESTIMATE, (None, []))
        if shown_for == asked_for:   # an estimate of another teacher or other settings is not shown
            st.info("Before any work, the estimate:\n\n" + "\n".join(f"- {literal(line)}" for line in lines))
        if ASKED in st.session_state:
            request, seconds = st.session_state[ASKED]
            st.warning(f"This is a long job: about **{duration(seconds)}** on this machine. It runs in the "
                       "background and checkpoints every 2 minutes; Cancel keeps what it did. Start it?")
            c1, c2 = st.columns(2)
            if c1.button(f"Yes, start it (about {duration(seconds)})", key="distill-yes", type="primary"):
                st.session_state.pop(ASKED, None)
                _start(request, dataset.name)
            if c2.button("Not now", key="distill-no"):
                st.session_state.pop(ASKED, None)
                st.rerun()
        if RESULT in st.session_state:
            _report(st.session_state[RESULT], spec)


def _start(request: dict, dataset_name: str) -> None:
    """Start a job in a new folder of the data folder's students, then show the page again with it."""
    out = new_job_folder(state.workspace().home, dataset_name)
    start_job(out, request, state.workspace(), slot=access.background_slot("training a student"))
    st.session_state.setdefault(MINE, []).append(str(out))
    st.session_state.pop(SHOWN_ESTIMATE, None)
    st.session_state.pop(RESULT, None)
    st.rerun()


def _my_jobs() -> list:
    """The jobs this panel shows: every one not dismissed in the data folder (a shared dashboard:
    only those this session started: a visitor neither sees nor cancels another's)."""
    every = [j for j in jobs(state.workspace().home)]
    if access.settings().share:
        mine = set(st.session_state.get(MINE, []))
        every = [j for j in every if str(j.out) in mine]
    return every


def _job_box(job, spec) -> None:
    """One job: its progress while it runs (read again every few seconds, without rerunning the
    page), or its end: stopped or interrupted (Resume), failed (why), finished (the report)."""
    key = job.out.name
    if job.active:
        _running(str(job.out))
        return
    if job.state == "finished":
        student = read_student(job.out)
        if student is not None:
            st.session_state[RESULT] = {"out": str(job.out), "info": student.info}
        _dismiss(job, key, "Close", "the student stays in the data folder")
        return
    if job.resumable:
        what = "stopped" if job.state == "stopped" else "interrupted (the server stopped while it ran)"
        said = job.message or f"{job.describe_progress()}; its last checkpoint is kept"
        st.warning(f"A training run was {what}. {literal(said[0].upper() + said[1:])}. **Resume** continues from "
                   "there.")
        c1, c2 = st.columns(2)
        if c1.button("Resume", key=f"distill-resume-{key}", type="primary",
                     help="Continues from the checkpoint: the steps done are not done again"):
            start_job(job.out, job.request, state.workspace(), slot=access.background_slot("training a student"))
            st.session_state.setdefault(MINE, []).append(str(job.out))
            st.rerun()
        _discard(job, key, c2)
        return
    st.error(f"A training run failed: {literal(job.message)}")
    _discard(job, key, st)


def _dismiss(job, key: str, label: str, why: str) -> None:
    if st.button(label, key=f"distill-close-{key}", help=why):
        (job.out / ".job.json").unlink(missing_ok=True)
        st.session_state.pop(RESULT, None)
        st.rerun()


def _discard(job, key: str, where) -> None:
    """Discard a run: asked first (its checkpoint, hours of training perhaps, goes with it)."""
    asked = f"distill-discard-asked-{key}"
    if where.button("Discard this run", key=f"distill-discard-{key}", help="Deletes its folder and checkpoint"):
        st.session_state[asked] = True
    if st.session_state.get(asked):
        where.warning(f"Delete this run's folder and checkpoint ({literal(job.describe_progress())})? It cannot "
                      "be resumed afterwards.")
        c1, c2 = where.columns(2)
        if c1.button("Yes, discard it", key=f"distill-discard-yes-{key}"):
            import shutil

            shutil.rmtree(job.out, ignore_errors=True)
            st.session_state.pop(asked, None)
            st.session_state["build-flash"] = "The training run was discarded."
            st.rerun()
        if c2.button("Keep it", key=f"distill-discard-no-{key}"):
            st.session_state.pop(asked, None)
            st.rerun()


@st.fragment(run_every=REFRESH_S)
def _running(out: str) -> None:
    """A running job's progress bar with time left and its Cancel button; this fragment alone is
    redrawn every few seconds (the rest of the page is not run again), and the whole page once
    the job ends."""
    job = read_job(out)
    if job is None or not job.active:
        st.rerun()   # ended: the page shows how
        return
    p = job.progress
    fraction = min(1.0, p.get("done", 0) / p["total"]) if p.get("total") else 0.0
    st.progress(fraction, text=literal(f"Training a student in the background: {job.describe_progress()}"))
    if st.button("Cancel", key=f"distill-cancel-{Path(out).name}",
                 help="Stops at the next step and keeps a checkpoint there: Resume continues"):
        cancel_job(out)
        st.caption("Cancelling: it stops at the next step.")


def _teacher_check(spec, dataset) -> list[str]:
    """Refuse a teacher that would teach noise, with the reason; propose the best teacher the
    stored scores support. Returns the reasons (empty: fit)."""
    exp = state.experiment(spec)
    problems = teacher_problems(spec, exp)
    if not problems:
        return []
    # A warning, not an error: nothing was asked yet, and the rest of the Build page stands.
    st.warning("This cascade cannot be the teacher: " + "; ".join(literal(p) for p in problems) + ".")
    candidates = {title: preset_spec(title, dataset.corpus.fingerprint) for title in presets()}
    kept = [s for s in spec.stages if not is_stand_in(s.scorer.model)]
    if kept and len(kept) < len(spec.stages):
        candidates["this cascade without the stand-in"] = {**spec.to_dict(), "stages": [s.to_dict() for s in kept]}
    best = best_stored_teacher(dataset, state.workspace(), candidates)
    if best is None:
        st.info("No other cascade has every score stored on this dataset's judged queries to compare: apply the "
                "demo preset (Build, above) or another cascade without the stand-in, score it, and come back.")
        return problems
    label, teacher, ndcg = best
    st.info(f"The best teacher the stored scores support: **{literal(label)}** ({literal(teacher.describe())}), "
            f"nDCG@10 {ndcg:.3f} on this dataset's judged queries (simulated from stored scores).")
    if st.button("Use it as the cascade (and teacher)", key="distill-use-teacher"):
        state.set_spec(teacher)
        st.rerun()
    return problems


def _report(kept: dict, spec) -> None:
    """The last student: how it was trained, teacher against student, and buttons to use it."""
    info, out = kept["info"], kept["out"]
    student = StudentInfo(Path(out), info)
    tr = info.get("training", {})
    st.success(f"{literal(student.describe())}. Trained in {duration(tr.get('train_s', 0))} "
               f"({tr.get('cpu_s', 0):.0f} s of CPU). Folder: {code(out)}")
    report = info.get("report")
    if report:
        rows = [{"ranking": r["name"], "cascade": r["cascade"], "nDCG@10": r["metrics"]["ndcg@10"],
                 "MRR@10": r["metrics"]["mrr@10"], "recall@10": r["metrics"]["recall@10"],
                 "ms per query (stages)": r["stages_ms"] if r["name"] != "first pass" else None,
                 "ms per pair": r["ms_per_pair"]} for r in report["rows"]]
        st.dataframe(pd.DataFrame(rows).set_index("ranking"), width="stretch")
        st.caption(f"{report['queries']} held-out queries; each ranking reranks the first pass {report['depth']} "
                   "deep; nDCG with linear gain (trec_eval). Cost measured while scoring, on this machine.")
    c1, c2 = st.columns(2)
    for col, fused, label, key in ((c1, False, "Use: first pass -> student", "distill-use"),
                                   (c2, True, "Use: first pass -> student fused with it", "distill-use-fused")):
        if col.button(label, key=key):
            state.set_spec(student_spec(spec, out, fused=fused))
            st.session_state["build-flash"] = f"Cascade set: {state.spec().describe()}"
            st.rerun()
