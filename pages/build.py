"""Build: the first pass, 1-4 rerank stages with cut-offs, final k, budget; presets; save/load YAML."""

from dataclasses import replace

import streamlit as st

from cascade_core.cascade import MAX_STAGES, CascadeSpec, keep_within
from cascade_core.cascade.executor import Executor
from cascade_core.errors import CascadeError, SpecError
from cascade_core.fusion import registered_fusions
from cascade_core.models.device import DEVICE_HELP, DEVICES, resolve_device
from cascade_core.scorers import canonical_kind
from cascade_ui import state
from cascade_ui.cutoff_controls import cutoff_controls
from cascade_ui.demo import pool_slider_max, prepare_three_stage_preset
from cascade_ui.distill_panel import distill_panel
from cascade_ui.executor_widget import executor_widget
from cascade_ui.kinds import kind_caption, kind_choices, kind_class, lead_params, model_widget, param_widgets
from cascade_ui.presets import (DEMO_PRESET, PRESET_NOTES, cross_encoder_model, current_corpus, is_stand_in,
                                preset_spec, presets, student_note)
from cascade_ui.text import code, literal
from cascade_ui.widgets import sidebar_status

st.title("Build a cascade")
# Filled at the end of the page: an action on this page (the demo, a preset, a load) must show
# in the sidebar in the same run, not the next one.
sidebar_slot = st.sidebar.container()
if "build-flash" in st.session_state:
    st.success(literal(st.session_state.pop("build-flash")))

# Every kind, its label, model default and parameters come from the registry (one file per kind).
STAGE_KINDS, STAGE_LABELS = kind_choices()
FIRST_PASS_KINDS, FIRST_PASS_LABELS = kind_choices(retriever=True)

with st.container(border=True):
    c1, c2 = st.columns([3, 1])
    name = c1.selectbox("Preset", list(presets()), index=0, key="preset")
    if name in PRESET_NOTES:
        c1.caption(PRESET_NOTES[name])
    if any(s["scorer"]["kind"] == "cross-encoder" for s in presets()[name]["stages"]):
        # Said before the preset is applied: which cross-encoder it would bring, and how good it is.
        ce_model, ce_stand_in = cross_encoder_model()
        if ce_stand_in:
            c1.warning("Its cross-encoder would be the untrained stand-in (no student here): latency real, ranking "
                       "random. Distil one below, or set CASCADE_CROSS_ENCODER.")
        elif (ce_note := student_note(ce_model, current_corpus())) is not None:
            c1.caption(literal(ce_note))
    if c2.button("Apply preset", key="apply-preset"):
        try:
            chosen, before = CascadeSpec.from_dict(preset_spec(name)), state.spec()
            if before is not None and before.costs:
                # where each step runs is a fact about deployment, not about the preset: keep it
                chosen = chosen.with_costs_from(before)
            state.set_spec(chosen)
            if chosen.costs:
                st.info("Cost profiles kept from the previous cascade: " + literal("; ".join(
                    f"{n}: {p.describe()}" for n, p in chosen.costs)) + ".")
        except CascadeError as exc:
            st.error(literal(exc))

current = state.spec() or CascadeSpec.from_dict(preset_spec(DEMO_PRESET))
v = state.spec_version()
corpus = current_corpus()

st.subheader("First pass")
c1, c2, c3 = st.columns(3)
fp_current = canonical_kind(current.first_pass.kind, retriever=True)
fp_kind = c1.selectbox("Retriever", FIRST_PASS_KINDS, format_func=FIRST_PASS_LABELS.get,
                       index=FIRST_PASS_KINDS.index(fp_current) if fp_current in FIRST_PASS_KINDS else 0,
                       key=f"fp-kind-{v}")
fp_cls = kind_class(fp_kind, retriever=True)
c1.caption(kind_caption(fp_cls))
# Parameters of another kind are dropped; those of this kind without a widget are kept as loaded.
fp_params = dict(current.first_pass.params) if fp_kind == fp_current else {}
# Keyed by kind too: a model typed for one kind is not carried over to another.
fp_model = model_widget(c2, fp_cls, current.first_pass.model if fp_kind == fp_current else None,
                        key=f"fp-model-{v}-{fp_kind}")
# Parameters that others follow (a hybrid's fusion, and that fusion's own) stand beside the kind.
LEADS = lead_params(fp_cls)
if LEADS:
    fp_params = param_widgets(c3, fp_cls, fp_params, key=f"fp-param-{v}-{fp_kind}", only=LEADS)
if any(p.name not in LEADS for p in fp_cls.parameters):
    with st.expander(f"{fp_kind} parameters"):
        fp_params = param_widgets(st, fp_cls, fp_params, key=f"fp-param-{v}-{fp_kind}", skip=LEADS)
pool = st.slider("Pool size (candidates the first pass keeps)", 1, pool_slider_max(current.pool_size),
                 current.pool_size, key=f"pool-{v}")

st.subheader("Rerank stages")
n_stages = st.number_input("Number of stages", 0, MAX_STAGES, len(current.stages), key=f"n-stages-{v}",
                           help="0: the first pass alone (its own top final k)")
stages, previous = [], pool
for i in range(int(n_stages)):
    base = current.stages[i] if i < len(current.stages) else None
    with st.container(border=True):
        c1, c2, c3 = st.columns([1, 2, 1])
        base_kind = canonical_kind(base.scorer.kind) if base else None
        kind = c1.selectbox(f"Stage {i + 1} scorer", STAGE_KINDS, format_func=STAGE_LABELS.get,
                            index=STAGE_KINDS.index(base_kind) if base_kind in STAGE_KINDS else 0,
                            key=f"kind-{v}-{i}")
        cls = kind_class(kind)
        c1.caption(kind_caption(cls))
        model = model_widget(c2, cls, base.scorer.model if base_kind == kind else None, key=f"model-{v}-{i}-{kind}")
        if is_stand_in(model):
            c2.warning("Untrained stand-in cross-encoder: its latency is real, its ranking is random. "
                       "Give a trained model (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2 when online).")
        elif (note := student_note(model, corpus)) is not None:   # which student, for which corpus
            c2.caption(literal(note))
        fusions = registered_fusions()
        combine = c3.selectbox("Combine with earlier scores", list(fusions),
                               index=list(fusions).index(base.combine) if base and base.combine in fusions else 0,
                               key=f"combine-{v}-{i}", help="; ".join(f"{n}: {f.help}" for n, f in fusions.items()))
        keep = cutoff_controls(i, base, previous, key=f"keep-{v}-{i}")   # a count, or a per-query rule
        same_kind = base is not None and base_kind == kind
        params = dict(base.scorer.params) if same_kind else {}
        leads = lead_params(cls)   # a run's file stands where a model would
        if leads:
            params = param_widgets(c2, cls, params, key=f"param-{v}-{i}-{kind}", only=leads)
        if any(p.name not in leads for p in cls.parameters):
            with st.expander(f"Stage {i + 1} parameters"):
                params = param_widgets(st, cls, params, key=f"param-{v}-{i}-{kind}", skip=leads)
        stage = {"scorer": {"kind": kind, **({"model": model} if model else {}),
                            **({"params": params} if params else {})},
                 "keep": keep, "combine": combine, **({"name": base.name} if same_kind and base.name else {})}
        # the chosen fusion's own parameters (RRF's k, norm-sum's weight), from its declaration
        stage.update(param_widgets(c3, fusions[combine], base.fusion.params() if base and base.combine == combine
                                   else {}, key=f"fusion-{v}-{i}-{combine}"))
        stages.append(stage)
        previous = keep["max"] if isinstance(keep, dict) else keep

c1, c2, c3 = st.columns(3)
final_k = c1.slider("Final k", 1, max(previous, 2), keep_within(previous, current.final_k), key=f"final-{v}")
budget = c2.number_input("Latency budget (ms per query)", 1.0, 100_000.0, state.budget_ms(), step=10.0,
                         key=f"budget-{v}")
devices = list(DEVICES) + ([current.device] if current.device not in DEVICES else [])
device = c3.selectbox("Device (where models run)", devices, index=devices.index(current.device), key=f"device-{v}",
                      help=DEVICE_HELP + ". On a CUDA GPU cross-encoders score in half precision (stored apart); "
                           "timings are kept per device.")
c3.caption(f"auto is {code(resolve_device('auto'))} on this machine.")
executor = executor_widget(current.executor, v)
st.caption("Each stage scores every candidate it receives, keeps the top `keep` (or, with a per-query "
           "cut-off, as many as pass its rule, between min and max) and drops the rest (nothing is appended "
           "below). Scores are computed once and stored; cut-offs are simulated.")

draft = {"name": current.name, "first_pass": {"kind": fp_kind, **({"model": fp_model} if fp_model else {}),
                                              **({"params": fp_params} if fp_params else {})},
         "pool_size": pool, "stages": stages, "final_k": keep_within(previous, final_k), "device": device,
         "executor": executor}


def form_spec() -> CascadeSpec:
    """The cascade the form describes, as "Use this cascade" sets it: the cost profiles of the steps
    kept, and no name when its name described other scorers or fusions (it is not that cascade)."""
    chosen = CascadeSpec.from_dict(draft).with_costs_from(current)
    return chosen if chosen.same_steps(current) else replace(chosen, name="")


USE_FLASH = "build-use-flash"   # the confirmation, kept across the redraw below
if st.button("Use this cascade", type="primary", key="use"):
    try:
        state.set_spec(form_spec())
        st.session_state[state.BUDGET] = budget
        where = Executor.parse(state.spec().executor)
        st.session_state[USE_FLASH] = (f"Cascade set: {state.spec().describe()}"
                                       + ("" if where.is_local else f"; scored on {where.label}")
                                       + ". Open Flow or Evaluate.")
        # Drawn again at once: the form's widgets are keyed by the spec's version, which setting
        # it raised; kept as they are, the next change made here would be dropped.
        st.rerun()
    except CascadeError as exc:   # a cluster out of reach is a setting that cannot be used, not a bad cascade
        st.error(f"{'Not a valid cascade' if isinstance(exc, SpecError) else 'Not set'}: {literal(exc)}")
if USE_FLASH in st.session_state:   # said under the button pressed, after the form was drawn again
    st.success(literal(st.session_state.pop(USE_FLASH)))

st.subheader("Save and load")
sp = state.spec()
c1, c2 = st.columns(2)
if sp is not None:
    try:   # the form may differ from the cascade in use: say which one the YAML is
        unapplied = form_spec().to_dict() != sp.to_dict()
    except CascadeError:
        unapplied = True
    c1.download_button("Download spec (YAML)", sp.to_yaml(), file_name="cascade.yaml", mime="application/x-yaml",
                       key="download")
    if unapplied:
        c1.warning("The form above has changes not in use yet: this YAML is the cascade in use. Press "
                   "**Use this cascade** to apply (and save) the form's.", icon=":material/edit_note:")
    else:
        c1.caption("The cascade in use, as the form shows it.")
    c1.code(sp.to_yaml(), language="yaml")
uploaded = c2.file_uploader("Load a spec (YAML or JSON)", type=["yaml", "yml", "json"], key="spec-upload")
if uploaded is not None and c2.button("Load spec", key="load-spec"):
    try:
        text = uploaded.getvalue().decode("utf-8")
        loaded = CascadeSpec.from_json(text) if uploaded.name.endswith(".json") else CascadeSpec.from_yaml(text)
        state.set_spec(loaded)
        # Shown after the rerun that resets this page's widgets to the loaded spec.
        st.session_state["build-flash"] = f"Loaded: {loaded.describe()}"
        st.rerun()
    except (CascadeError, UnicodeDecodeError) as exc:
        st.error(f"Could not load that spec: {literal(exc)}. Your current cascade is unchanged.")

sidebar_status(sidebar_slot)
distill_panel()
prepare_three_stage_preset()   # after the demo: its three-stage preset, ready to apply a little later
