"""The Build page's cut-off controls for one stage: keep N, or a per-query rule with min and max.

Draws widgets and returns the spec's ``keep:`` value (a count, or the adaptive cut-off's mapping,
see :mod:`cascade_core.cascade.cutoff`); it computes nothing.
"""

from __future__ import annotations

import streamlit as st

from cascade_core.cascade import keep_within

FIXED, DROP, SCORE = "keep the top N", "keep within a drop of the query's top score", "keep scores above a threshold"
MODES = {FIXED: None, DROP: "drop", SCORE: "score"}
SCALES = {"normalised per query (0-1)": "norm", "raw score": "raw"}
SCALE_NOTE = ("**Normalised** is the stage's combined score min-max scaled over the candidates of each query "
              "(the best 1, the worst 0; the normalisation norm-sum fusion uses), so one threshold means the same "
              "for every query. A **raw** threshold only makes sense for calibrated scores: cross-encoder logits "
              "and cosine similarities shift from query to query.")


def cutoff_controls(i: int, base, previous: int, key: str):
    """Controls for stage ``i`` (0-based) receiving at most ``previous`` candidates; ``base`` is the
    stage being edited (or None). Returns ``keep:`` as the spec reads it."""
    cut = base.cutoff if base is not None else None
    modes = list(MODES)
    mode = st.radio(f"Stage {i + 1} cut-off", modes, horizontal=True, key=f"{key}-mode",
                    index=modes.index(DROP if cut and cut.mode == "drop" else SCORE if cut else FIXED),
                    help="A fixed count keeps the same number for every query. A per-query rule keeps as many "
                         "as pass it, at least min and at most max: easy queries send fewer candidates on.")
    default = keep_within(previous, base.keep if base else max(previous // 5, 1))
    if MODES[mode] is None:
        keep = st.slider(f"Stage {i + 1} keeps", 1, max(previous, 2), default, key=key)
        return keep_within(previous, keep)
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2])
    top = keep_within(previous, c1.slider(f"Stage {i + 1} keeps at most (max)", 1, max(previous, 2),
                                          keep_within(previous, base.keep if cut else previous), key=f"{key}-max"))
    # no upper bound on the widget (a stored value above a lowered max would be refused): clipped below
    low = keep_within(top, int(c2.number_input("at least (min)", 1, None,
                                               keep_within(top, cut.min_keep if cut else 10), key=f"{key}-min")))
    scale = SCALES[c3.radio("on the scale", list(SCALES), key=f"{key}-scale", horizontal=False,
                            index=0 if cut is None or cut.scale == "norm" else 1)]
    if MODES[mode] == "drop":
        value = c4.number_input("drop below the top score", 0.0, 1_000.0,
                                float(cut.value) if cut and cut.mode == "drop" else 0.2, step=0.05,
                                key=f"{key}-drop", help="Keep the candidates scoring at least top - drop "
                                                        "(on the normalised scale: 0.2 keeps those within 20% of "
                                                        "the query's score range of its best)")
    else:
        hi = 1.0 if scale == "norm" else 1_000.0
        lo = 0.0 if scale == "norm" else -1_000.0
        start = float(cut.value) if cut and cut.mode == "score" else 0.5
        value = c4.number_input("score at least", lo, hi, min(max(start, lo), hi), step=0.05,
                                key=f"{key}-score-{scale}",   # bounds differ per scale: one widget each
                                help="An absolute threshold, as Qdrant's score_threshold")
    st.caption(SCALE_NOTE)
    return {MODES[mode]: float(value), "min": int(low), "max": int(top), "scale": scale}
