"""Latency widgets shared by the pages: what the tool distrusts about a figure, the Re-measure
button and the cost-profile editor (scoring widgets: :mod:`.scoring_panel`).

Every number comes from cascade_core (:mod:`cascade_core.latency.model`, :mod:`cascade_core.scoring.estimate`,
:mod:`cascade_core.scoring.calibrate`); this module lays them out.
"""

from __future__ import annotations

import math

import streamlit as st

from cascade_core.errors import CascadeError
from cascade_core.latency.profiles import MEASURED, SCALED, USER, CostProfile

from . import access, session, state
from .text import literal

CALIBRATE_QUERIES = 20


# -- trust ------------------------------------------------------------------------------------

def latency_note(latency, where=None) -> None:
    """Next to a budget verdict: a warning naming what the tool distrusts about these figures
    (timed while the CPU was busy: the waits left out, said once; too few calls, no cost yet);
    nothing when all is well."""
    if latency is None or latency.trusted:
        return
    busy = set(latency.busy_steps)
    others = [f"{s.name}: {s.note}" for s in latency.stages if s.note and s.name not in busy]
    others += [latency.devices_note] if latency.devices_note else []
    text = f"**{literal(latency.verdict())}.**"
    if busy:
        # How far to trust it: the benchmark's result on the project's 2-core machine (the README's
        # table), not this stage's source (Flow's table says where each stage was timed).
        text += (" " + literal(latency.busy_line()) + " On the project's test machine, figures taken this way beside "
                 "two busy processes came within about 25% of the quiet ones (`benchmarks/bench_busy_latency.py`); "
                 "re-measure on a quiet machine to be sure.")
    if others:
        text += " Not to be trusted as it is: " + literal("; ".join(others)) + "."
    (where or st).warning(text)


def sources_caption(latency) -> str:
    """Where the figures come from, in one line of Markdown (\"first pass: measured here; cross-encoder:
    user-set: ...\"; the steps' names shown as they are written)."""
    return literal("; ".join(f"{s.name}: {s.source}" for s in latency.stages))


def spread_text(stage) -> str:
    """A step's p10-p90 ms, or ``-`` without a spread (a user-set cost)."""
    if not (math.isfinite(stage.low_ms) and math.isfinite(stage.high_ms)) or stage.low_ms == stage.high_ms:
        return "-"
    return f"{stage.low_ms:.1f}-{stage.high_ms:.1f}"


def remeasure_button(exp, spec, key: str = "remeasure", where=None) -> None:
    """Re-time every step on a sample of stored candidates (no new scores), then show the page again."""
    box = where or st
    if access.read_only():
        return
    if box.button(f"Re-measure step costs ({CALIBRATE_QUERIES} queries)", key=key,
                  help="Runs each step's real model again on a sample of stored candidates and records fresh "
                       "timings (no score is stored): predictions then use them. `cascade calibrate` does the same."):
        with access.job_slot("re-measuring step costs"), \
                box.status("Re-measuring each step...", expanded=True) as status:
            report = exp.calibrate(CALIBRATE_QUERIES, spec, progress=session.progress_callback(status))
            status.update(label="Re-measured", state="complete", expanded=False)
        st.session_state["remeasured"] = report.describe()
        st.rerun()
    if "remeasured" in st.session_state:
        box.success(literal(st.session_state.pop("remeasured")))


# -- cost profiles ----------------------------------------------------------------------------

CHOICES = {"measured here": MEASURED, "measured, scaled (other hardware)": SCALED,
           "user-set: ms per query + ms per pair": USER, "user-set: per API call (batch)": "per-call"}


def cost_profiles_editor(spec, where=None) -> None:
    """Where each step will run: an editor for the spec's cost profiles (measured here, scaled by a
    factor, or set by hand); "Apply" stores them in the session's spec (and its YAML)."""
    box = where or st
    profiles = spec.cost_profiles
    v = session.spec_version()
    with box.expander("Where each step runs (cost profiles)", expanded=bool(profiles)):
        st.caption("Timings are measured on this machine. Price a step where it will run: scaled (the same model "
                   "on a GPU 40x faster is a factor of 0.025), or set by hand (a hosted API's ms per call); and, "
                   "optionally, in money (USD per hour of its hardware, per API call, per 1,000 searches of up to "
                   "100 documents): Flow then shows USD per 1,000 queries. The spec carries them (`costs:` in its "
                   "YAML; `--cost STEP=...` in the CLI for the times).")
        chosen = {}
        for name in spec.stage_names:
            p = profiles.get(name, CostProfile())
            kind = "per-call" if p.kind == USER and p.per_call_ms else p.kind
            labels = list(CHOICES)
            c1, c2, c3 = st.columns([2, 1, 1])
            label = c1.selectbox(literal(name), labels, index=list(CHOICES.values()).index(kind),
                                 key=f"cost-{v}-{name}")
            kind = CHOICES[label]
            if kind == SCALED:
                f = c2.number_input("factor", 0.0001, 1000.0, float(p.factor if p.kind == SCALED else 0.025),
                                    format="%.4f", key=f"cost-f-{v}-{name}")
                chosen[name] = {"factor": f}
            elif kind == USER:
                fixed = c2.number_input("ms per query", 0.0, 1e6, float(p.fixed_ms), key=f"cost-fx-{v}-{name}")
                per = c3.number_input("ms per pair", 0.0, 1e6, float(p.per_pair_ms), format="%.3f",
                                      key=f"cost-pp-{v}-{name}")
                chosen[name] = {"fixed_ms": fixed, "per_pair_ms": per}
            elif kind == "per-call":
                call = c2.number_input("ms per call", 0.0, 1e6, float(p.per_call_ms or 200.0), key=f"cost-pc-{v}-{name}")
                pairs = c3.number_input("pairs per call", 1, 100_000, int(p.pairs_per_call or 20),
                                        key=f"cost-pn-{v}-{name}")
                chosen[name] = {"per_call_ms": call, "pairs_per_call": int(pairs)}
            # Money (optional): the hardware's hourly price, an API's price per call (a per-call
            # profile) or per 1,000 searches (a search: a query with up to 100 documents).
            m1, m2, m3 = st.columns(3)
            prices = {"usd_per_hour": m1.number_input("USD per hour (hardware)", 0.0, 1e6, float(p.usd_per_hour),
                                                      key=f"cost-uh-{v}-{name}"),
                      "usd_per_1k_searches": m3.number_input("USD per 1,000 searches", 0.0, 1e6,
                                                             float(p.usd_per_1k_searches), key=f"cost-us-{v}-{name}")}
            if kind == "per-call":
                prices["usd_per_call"] = m2.number_input("USD per call", 0.0, 1e6, float(p.usd_per_call), format="%.5f",
                                                         key=f"cost-uc-{v}-{name}")
            priced = {k: x for k, x in prices.items() if x}
            if priced:
                chosen[name] = {**chosen.get(name, {"profile": MEASURED}), **priced}
        if st.button("Apply cost profiles", key=f"cost-apply-{v}"):
            try:
                state.set_spec(spec.with_costs(chosen))
                st.rerun()
            except CascadeError as exc:
                st.error(literal(exc))




