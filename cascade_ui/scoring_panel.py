"""Scoring that says what it will do: the estimate before a click, a confirmation for a long job,
a progress bar with a Cancel button while it runs, and which documents were cut to a model's limit.

Every number comes from cascade_core (:mod:`cascade_core.scoring.estimate`); this module lays
them out, and refuses to start on a read-only dashboard or beyond the server's job cap
(:mod:`.access`).
"""

from __future__ import annotations

import streamlit as st

from cascade_core.formats import duration
from cascade_core.progress import cancellable

from . import access, session
from .text import literal

CANCEL = "scoring-cancel"          # set by the Cancel button; the progress callback checks it
CANCELLED = "scoring-cancelled"    # a run was cancelled: scoring does not start again by itself


def _request_cancel() -> None:
    st.session_state[CANCEL] = True
    st.session_state[CANCELLED] = True


def _clear_cancel() -> None:
    st.session_state[CANCEL] = False
    st.session_state[CANCELLED] = False


def cancel_flag() -> bool:
    return bool(st.session_state.get(CANCEL))


def run_scoring(job, label: str, key: str, where=None) -> None:
    """Run ``job(progress)`` with a progress bar and a Cancel button; ``label``, plain text (it names
    steps: shown as written), heads the progress box. Cancelling raises the
    library's ScoringCancelled ("scoring cancelled; what was scored is stored") out of the next
    progress report: the page's error handler shows it, and scoring does not restart by itself.

    One job at a time per session (and at most ``CASCADE_MAX_JOBS`` on the server): another one
    raises JobRefused; a read-only dashboard raises ReadOnly (:mod:`cascade_ui.access`)."""
    access.refuse_if_read_only("score")
    box = where or st
    with access.job_slot(label):
        cancel_slot, status_slot = box.empty(), box.empty()
        cancel_slot.button("Cancel scoring", key=f"{key}-cancel", on_click=_request_cancel,
                           help="Stops after the query being scored; everything scored so far is stored.")
        try:
            with status_slot.status(literal(label), expanded=True) as status:
                report = job(cancellable(session.progress_callback(status), cancel_flag))
                session.settle_heap()   # the models just loaded, for good
                status.update(label="Scores stored", state="complete", expanded=False)
        except BaseException:
            # A failure (a server down, a cancel) is the page's one error: no Cancel button, no
            # empty progress box left beside it.
            status_slot.empty()
            raise
        finally:
            cancel_slot.empty()
        truncation_note(report, box)


def truncation_note(report, where=None) -> None:
    """Which steps cut documents to their model's limit in the scoring just done (the library's
    :attr:`~cascade_core.scoring.ensure.ScoringReport.truncated`), one caption line each."""
    for line in getattr(report, "describe", lambda: [])():
        (where or st).caption(literal(line))


def scoring_allowed(estimate, key: str, where=None) -> bool:
    """Whether scoring that nobody clicked for (a slider reaching unscored pairs) may start now:
    not after a cancel (a Resume button instead), and not a long job (a confirmation instead)."""
    box = where or st
    if estimate.empty:
        return True
    if access.read_only():
        box.info(f"These settings need scores never computed ({literal(estimate.describe())}), and this dashboard is "
                 "read-only: move the cut-offs back to what is stored.")
        return False
    if st.session_state.get(CANCELLED):
        box.warning("Scoring was cancelled; what was scored is stored. Still to score: "
                    f"{literal(estimate.describe())}.")
        box.button("Resume scoring", key=f"{key}-resume", on_click=_clear_cancel)
        return False
    if estimate.needs_confirmation:
        box.warning(f"These settings need scores never computed: {literal(estimate.describe())}. That is a long job: "
                    "start it, or move the cut-offs back to what is stored.")
        return box.button(f"Score them now (about {duration(estimate.seconds)})", key=f"{key}-confirm",
                          on_click=_clear_cancel)
    return True


def score_button(label: str, key: str, estimate, job, where=None) -> bool:
    """A button that scores what ``estimate`` says is missing, with that estimate shown before it
    is pressed, a confirmation for a long job and a Cancel button while it runs. True once it ran."""
    box = where or st
    asked = f"{key}-asked"
    if access.read_only():
        box.caption(f"Not stored: {literal(estimate.describe())}. This dashboard is read-only: it scores nothing new.")
        return False
    box.caption(f"Before scoring: {literal(estimate.describe())}.")
    if box.button(label, key=key, on_click=_clear_cancel):
        if not estimate.needs_confirmation:
            run_scoring(job, f"{label}: {estimate.describe()}", key, box)
            return True
        st.session_state[asked] = True
    if st.session_state.get(asked):
        box.warning(f"This is a long job: about {duration(estimate.seconds)} ({literal(estimate.describe())}). "
                    "Start it?")
        c1, c2 = box.columns(2)
        if c1.button("Yes, score it", key=f"{key}-yes", on_click=_clear_cancel):
            st.session_state.pop(asked, None)
            run_scoring(job, f"{label}: {estimate.describe()}", key, box)
            return True
        if c2.button("Not now", key=f"{key}-no"):
            st.session_state.pop(asked, None)
            st.rerun()
    return False

