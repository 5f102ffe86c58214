"""Experiments: save the current cascade's evaluation under a name; compare saved ones side by side.

Every number comes from :mod:`cascade_core.analysis.saved` and :mod:`cascade_core.analysis.compare_many` (the same
as ``cascade compare``); this page only lays them out.
"""

import streamlit as st

from cascade_core.analysis.compare_many import ALPHA, METRICS, compare_experiments
from cascade_core.analysis.lift import points
from cascade_core.analysis.saved import SavedExperiment, comparable_names, experiments_folder, saved_names, slug
from cascade_draw import charts
from cascade_draw.tables import flag_worse
from cascade_ui import state
from cascade_ui.text import code, literal
from cascade_ui.widgets import shown_errors, sidebar_status

SAVED_NOTE = "experiments-saved-note"   # what the last Save did, shown once after the page is drawn again

st.title("Saved experiments, compared")
sidebar_status()
folder = experiments_folder(state.workspace())

with st.container(border=True):
    st.markdown("**Save the current cascade**")
    sp = state.spec()
    if sp is None or state.dataset_label() is None:
        st.caption("Load a dataset and build a cascade first: its evaluation can then be saved here.")
    else:
        c1, c2 = st.columns([3, 1])
        typed = c1.text_input("Name", value=slug(sp.name or sp.describe()), key="save-name",
                              help="It names a file in the data folder: spaces and other characters become '-'")
        name = slug(typed)
        c1.caption(f"Saves {literal(sp.describe())} on {literal(state.dataset_label())}: spec, dataset fingerprint, "
                   f"query ids, per-query metrics and predicted latency, in {code(folder)}.")
        # A name saved already is never overwritten by a click meant for a new one (on a shared
        # dashboard it may be someone else's): replacing it is a choice of its own.
        taken = bool(name) and name in saved_names(folder)
        replace = taken and c1.checkbox(f"Replace the saved experiment {literal(name)}", key="save-replace")
        just_saved = SAVED_NOTE in st.session_state   # the name is taken because it was just saved: no alarm
        if taken and not replace and just_saved:
            c1.caption(f"{literal(name)} is saved. To save a changed cascade under this name, tick Replace.")
        elif taken and not replace:
            c1.warning(f"An experiment named {literal(name)} is saved already: choose another name, or tick "
                       "Replace to overwrite it.")
        if c2.button("Save", type="primary", key="save-experiment", disabled=not name or (taken and not replace)):
            with shown_errors():
                result = state.run_current()
                path = SavedExperiment.from_result(name, state.experiment(), result).save(folder, replace=replace)
                # Drawn again at once, so the form already knows the name is taken (Save waits,
                # Replace is offered) and the comparison below lists the new experiment.
                st.session_state[SAVED_NOTE] = (f"{'Replaced' if replace else 'Saved as'} **{literal(name)}** "
                                                f"({literal(path.name)}).")
                st.session_state.pop("save-replace", None)
                st.rerun()
        if SAVED_NOTE in st.session_state:
            st.success(st.session_state.pop(SAVED_NOTE))

names = saved_names(folder)
if len(names) < 2:
    st.info(f"{len(names)} saved experiment(s) in {code(folder)}: save at least two (here, or with "
            "`cascade eval ... --save NAME`) to compare them.")
    st.stop()

with shown_errors():
    c1, c2, c3 = st.columns([2, 2, 1])   # the baseline box shows a whole experiment name
    chosen = c1.multiselect("Experiments to compare", names, default=comparable_names(folder, names), key="cmp-names")
    if len(chosen) < 2:
        st.info("Choose at least two experiments.")
        st.stop()
    baseline = c2.selectbox("Baseline", chosen, key="cmp-baseline")
    metric = c3.selectbox("Per-query metric", list(METRICS), key="cmp-metric")
    exps = [SavedExperiment.load(folder, n) for n in chosen]
    result = compare_experiments(exps, baseline=baseline, metric=metric)   # refuses other datasets, with why
    t = result.table
    # Two tables: every experiment's numbers, then the others against the baseline (its own row would
    # be empty there). Numbers first, each cascade's long line last; measured columns only when measured.
    unmeasured = [c for c in ("measured p50 ms", "measured p95 ms") if t[c].isna().all()]
    tested = ["wins", "losses", "ties", f"{metric} diff", "Wilcoxon p", "Holm p"]
    shown = t.drop(columns=unmeasured + tested + ["cascade"]).assign(cascade=t["cascade"])
    first = exps[0]
    st.caption(f"{len(exps)} experiments on **{literal(first.dataset.get('name'))}** ({len(first.query_ids)} "
               f"queries, corpus fingerprint {code(first.dataset.get('corpus'))}); baseline "
               f"**{literal(result.baseline)}**.")
    st.dataframe(shown, width="stretch", column_config={
        **{m: st.column_config.NumberColumn(format="%.3f") for m in METRICS},
        **{c: st.column_config.NumberColumn(format="%.1f") for c in shown.columns if c.endswith("ms")}})
    st.markdown(f"**Against {literal(result.baseline)}**, query by query on {metric}")
    # the change in points, as every page says a change (the CSV keeps the raw difference)
    against = t.loc[t.index != result.baseline, tested].rename(columns={f"{metric} diff": f"{metric} change (points)"})
    against[f"{metric} change (points)"] = points(against[f"{metric} change (points)"], 0.0)
    st.dataframe(flag_worse(against, {f"{metric} change (points)": "{:+.1f}", "Wilcoxon p": "{:.2g}", "Holm p": "{:.2g}"},
                            [f"{metric} change (points)"]), width="stretch", column_config={
        **{c: st.column_config.NumberColumn(format="%d") for c in ("wins", "losses", "ties")},
    })
    if unmeasured:
        st.caption("No measured latency among these: save with `cascade eval --live N --save NAME` to add it.")
    sig = result.significant(ALPHA)
    st.markdown(f"**Holm-corrected**: the Wilcoxon signed-rank p-values (two-sided, paired per query on "
                f"{metric}) are adjusted by Holm's step-down method for the {len(exps) - 1} comparisons "
                f"against the baseline. Different from **{literal(result.baseline)}** at p <= {ALPHA}: "
                f"**{literal(', '.join(sig)) or 'none'}**.")
    st.download_button("Download the table (CSV)", result.to_csv(), file_name="experiments.csv", mime="text/csv",
                       key="cmp-csv")
    # one under the other: experiment names are long, and half a page squeezed the bars and the labels
    st.plotly_chart(charts.experiments_scatter(t, result.baseline), key="cmp-scatter")
    st.plotly_chart(charts.wins_losses_bars(t, result.baseline, metric), key="cmp-wins")
    st.caption("Predicted latency: mean per query from each query's own candidate counts (the p95 whisker from "
               "the recorded spreads); measured figures appear where a live run measured them.")
