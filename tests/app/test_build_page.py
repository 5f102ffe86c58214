"""Build page: presets, editing stages and cut-offs, refusing nothing silently, YAML export."""

from pathlib import Path

import yaml

from tests.app.conftest import build_and_use, page
from tests.app.rendered import shown


def test_apply_demo_preset_then_edit_and_use(demo_state):
    at = page("build", demo_state)
    at.run()
    assert not at.exception
    v = at.session_state["spec_version"]
    at.slider(key=f"pool-{v}").set_value(60).run()
    at.slider(key=f"keep-{v}-0").set_value(15).run()
    at.slider(key=f"final-{v}").set_value(5).run()
    at.button(key="use").click().run()
    assert not at.error
    spec = at.session_state["spec"].to_dict()
    assert (spec["pool_size"], spec["stages"][0]["keep"], spec["final_k"]) == (60, 15, 5)
    assert spec["name"] == demo_state["spec"].name   # cut-offs moved: the same cascade, its name still fits
    assert "bm25 -> 60 -> bi-encoder(all-MiniLM-L6-v2) fused norm-sum 0.5 -> 15 -> final 5" in shown(at.success[0].value)


def test_two_stages_with_rrf_and_yaml_download(demo_state):
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.number_input(key=f"n-stages-{v}").set_value(2).run()
    at.selectbox(key=f"kind-{v}-1").set_value("bm25").run()
    at.selectbox(key=f"combine-{v}-1").set_value("rrf").run()
    at.number_input(key=f"fusion-{v}-1-rrf-rrf_k").set_value(2).run()
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    spec = at.session_state["spec"].to_dict()
    assert [s["scorer"]["kind"] for s in spec["stages"]] == ["bi-encoder", "bm25"]
    assert spec["stages"][1]["combine"] == "rrf" and spec["stages"][1]["rrf_k"] == 2
    shown = yaml.safe_load(at.code[0].value)
    assert shown["stages"][1]["rrf_k"] == 2
    assert at.get("download_button")


def test_cross_encoder_preset_names_the_shipped_student_before_and_after_applying(demo_state):
    from cascade_core.models.students import SHIPPED_STUDENTS

    at = page("build", demo_state)
    at.run()
    at.selectbox(key="preset").set_value("Dense -> 200 -> cross-encoder -> 10").run()
    before = [shown(c.value) for c in at.caption]
    # Said before applying: the shipped student, and that it learned another collection than this one
    assert any("shipped with the sample" in c and "scientific claims" in c and "distil one for this corpus" in c
               for c in before), before
    at.button(key="apply-preset").click().run()
    spec = at.session_state["spec"].to_dict()
    assert spec["pool_size"] == 200
    assert Path(spec["stages"][0]["scorer"]["model"]).parent == SHIPPED_STUDENTS
    assert not any("stand-in" in w.value for w in at.warning)


def test_without_any_student_the_preset_warns_about_the_stand_in_before_applying(demo_state, monkeypatch, tmp_path):
    from cascade_core.models import students

    monkeypatch.setattr(students, "SHIPPED_STUDENTS", tmp_path / "none")
    at = page("build", demo_state)
    at.run()
    at.selectbox(key="preset").set_value("Dense -> 200 -> cross-encoder -> 10").run()
    assert any("would be the untrained stand-in" in w.value for w in at.warning)
    at.button(key="apply-preset").click().run()
    assert any("Untrained stand-in" in w.value for w in at.warning)


def test_unloadable_model_name_is_refused_when_scoring(demo_state):
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.text_input(key=f"model-{v}-0-bi-encoder").input("/no/such/folder").run()
    at.button(key="use").click().run()
    # The spec itself is valid; the flow page then reports the model error clearly.
    flow = page("flow", at)
    flow.run()
    assert len(flow.error) == 1 and "does not exist" in flow.error[0].value


def test_using_a_loaded_spec_unchanged_keeps_every_setting(demo_state):
    """Settings the page has no widget for (BM25's k1/b, hybrid depth, stage names, scorer
    parameters) survive "Use this cascade"; hybrid norm-sum fusion and its weight round-trip."""
    from cascade_core.cascade import CascadeSpec

    loaded = CascadeSpec.from_dict({
        "name": "loaded", "first_pass": {"kind": "hybrid", "model": "all-MiniLM-L6-v2",
                                         "params": {"fusion": "norm-sum", "weight": 0.7, "depth": 150, "k1": 1.2}},
        "pool_size": 50, "final_k": 5,
        "stages": [{"name": "rescore", "scorer": {"kind": "bm25", "params": {"k1": 1.5, "b": 0.6}}, "keep": 20}]})
    at = page("build", demo_state)
    at.session_state["spec"] = loaded.to_dict()
    at.session_state["spec_version"] = demo_state.get("spec_version", 0) + 1
    at.run()
    v = at.session_state["spec_version"]
    assert at.selectbox(key=f"fp-param-{v}-hybrid-fusion").value == "norm-sum"
    assert at.slider(key=f"fp-param-{v}-hybrid-weight").value == 0.7
    assert f"fp-param-{v}-hybrid-rrf_k" not in [n.key for n in at.number_input]   # RRF's k: not norm-sum's
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    assert CascadeSpec.from_dict(at.session_state["spec"].to_dict()) == loaded


def test_a_loaded_spec_with_a_pool_past_the_demo_depth_is_shown_not_refused(demo_state):
    """A spec file may ask for a pool of 2,500: the slider reaches it (Streamlit refuses a value
    past a slider's end). The analysis pages' cut-off sliders share ``pool_slider_max``."""
    spec = dict(demo_state["spec"].to_dict(), pool_size=2500)
    at = page("build", demo_state)
    at.session_state["spec"] = spec
    at.session_state["spec_version"] = demo_state.get("spec_version", 0) + 1
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    v = at.session_state["spec_version"]
    assert at.slider(key=f"pool-{v}").value == 2500
    assert at.slider(key=f"pool-{v}").max == 2500


def test_apply_preset_shows_in_the_sidebar_at_once(demo_state):
    at = page("build", demo_state)
    at.run()
    name = next(o for o in at.selectbox(key="preset").options if o.startswith("Hybrid"))
    at.selectbox(key="preset").set_value(name).run()
    at.button(key="apply-preset").click().run()
    applied = at.session_state["spec"].to_dict()
    assert applied["first_pass"]["kind"] == "hybrid"
    from cascade_core.cascade import CascadeSpec
    assert f"Cascade: {CascadeSpec.from_dict(applied).describe()}" in [shown(c.value) for c in at.sidebar.caption]


def test_every_registered_kind_is_offered_with_its_default_model_and_parameters(demo_state):
    """The page lists the registry's kinds (no list of its own), pre-fills each kind's default
    model, says when that default is a stand-in, and draws the kind's declared parameters."""
    from cascade_core.scorers import registered

    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    assert len(at.selectbox(key=f"kind-{v}-0").options) == len(registered())
    assert len(at.selectbox(key=f"fp-kind-{v}").options) == len(registered(retriever=True))
    at.selectbox(key=f"kind-{v}-0").set_value("late").run()
    assert at.text_input(key=f"model-{v}-0-late").value == "all-MiniLM-L6-v2"
    assert any("Stand-in" in i.value for i in at.info)
    at.selectbox(key=f"kind-{v}-0").set_value("cross-encoder").run()
    assert at.text_input(key=f"model-{v}-0-cross-encoder").value == ""   # no default: not carried over
    at.selectbox(key=f"kind-{v}-0").set_value("late").run()
    at.selectbox(key=f"fp-kind-{v}").set_value("sparse").run()
    assert at.text_input(key=f"fp-model-{v}-sparse").value == "splade-tiny"
    at.number_input(key=f"fp-param-{v}-sparse-max_length").set_value(128).run()
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    spec = at.session_state["spec"].to_dict()
    assert spec["first_pass"] == {"kind": "sparse", "model": "splade-tiny", "params": {"max_length": 128}}
    assert spec["stages"][0]["scorer"] == {"kind": "late", "model": "all-MiniLM-L6-v2"}


def test_the_cautionary_preset_says_what_it_is_for(demo_state):
    from cascade_ui.presets import CAUTIONARY_PRESET, DEMO_PRESET

    at = page("build", demo_state)
    at.run()
    assert any("beats BM25" in c.value for c in at.caption)        # the demo preset's note
    at.selectbox(key="preset").set_value(CAUTIONARY_PRESET).run()
    assert any("cautionary example" in c.value for c in at.caption)
    at.button(key="apply-preset").click().run()
    stage = at.session_state["spec"].to_dict()["stages"][0]
    assert stage.get("combine", "replace") == "replace"
    assert DEMO_PRESET != CAUTIONARY_PRESET


def test_a_preset_keeps_where_each_step_runs(demo_state):
    """Cost profiles say where steps will run (a GPU, an API): applying a preset keeps those of the
    steps it shares with the previous cascade, and says so (a walkthrough lost a x0.025 silently)."""
    from cascade_core.cascade import CascadeSpec
    from cascade_ui.presets import CAUTIONARY_PRESET, DEMO_PRESET, preset_spec

    carried = {**demo_state, "spec": CascadeSpec.from_dict(preset_spec(CAUTIONARY_PRESET)).with_costs(
        {"bi-encoder": {"factor": 0.025}}).to_dict()}   # a copy: demo_state is shared by the tests
    at = page("build", carried)
    at.run()
    at.selectbox(key="preset").set_value(DEMO_PRESET).run()
    at.button(key="apply-preset").click().run()
    spec = CascadeSpec.from_dict(at.session_state["spec"].to_dict())
    assert spec.stages[0].fusion.name == "norm-sum"
    assert spec.cost_profiles["bi-encoder"].describe() == "measured x 0.025"
    assert any("Cost profiles kept" in shown(i.value) and "x 0.025" in shown(i.value) for i in at.info)


def test_the_yaml_says_when_the_form_has_changes_not_in_use(demo_state):
    at = page("build", demo_state)
    at.run()
    assert not [w for w in at.warning if "changes not in use" in w.value]
    assert any("The cascade in use, as the form shows it" in c.value for c in at.caption)
    v = at.session_state["spec_version"]
    at.slider(key=f"pool-{v}").set_value(70).run()
    assert any("changes not in use yet" in w.value for w in at.warning)
    assert yaml.safe_load(at.code[0].value)["pool_size"] == demo_state["spec"].to_dict()["pool_size"]   # still the one in use
    at.button(key="use").click().run()
    assert not [w for w in at.warning if "changes not in use" in w.value]
    assert yaml.safe_load(at.code[0].value)["pool_size"] == 70


def test_dbsf_is_offered_for_stages_and_the_hybrid_first_pass(demo_state):
    """A fusion added in one file (cascade_core/fusion/dbsf.py) is on the Build page by itself."""
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    assert "dbsf" in at.selectbox(key=f"combine-{v}-0").options
    at.selectbox(key=f"combine-{v}-0").set_value("dbsf").run()
    at.selectbox(key=f"fp-kind-{v}").set_value("hybrid").run()
    assert "dbsf" in at.selectbox(key=f"fp-param-{v}-hybrid-fusion").options
    at.selectbox(key=f"fp-param-{v}-hybrid-fusion").set_value("dbsf").run()
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    spec = at.session_state["spec"].to_dict()
    assert spec["stages"][0]["combine"] == "dbsf" and spec["first_pass"]["params"]["fusion"] == "dbsf"
    # The demo's name described BM25 and a norm-sum stage: it would now name another cascade.
    assert not spec.get("name")
    assert "hybrid(all-MiniLM-L6-v2, fusion=dbsf)" in shown(" ".join(c.value for c in at.sidebar.caption))


def test_a_run_file_is_the_first_pass_and_a_stage_from_the_build_page(demo_state, tmp_path):
    """Issue 25: a team's run files chosen on Build, the file where a model would be; Flow then
    evaluates them like any cascade."""
    from cascade_core.data import load_dataset

    dataset = load_dataset(demo_state["dataset_source"]["path"], split="test")
    ids = dataset.corpus.ids
    engine, reranker = tmp_path / "engine.run", tmp_path / "reranker.jsonl"
    engine.write_text("".join(f"{q} Q0 {d} {r} {100 - r} engine\n" for q in dataset.queries.ids
                              for r, d in enumerate(ids[:30], 1)))
    reranker.write_text("".join(f'{{"qid": "{q}", "docid": "{d}", "score": {r}, "latency_ms": 30}}\n'
                                for q in dataset.queries.ids for r, d in enumerate(ids[:30], 1)))
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.selectbox(key=f"fp-kind-{v}").set_value("run").run()
    at.text_input(key=f"fp-param-{v}-run-file").input(str(engine)).run()
    at.slider(key=f"pool-{v}").set_value(30).run()
    at.selectbox(key=f"kind-{v}-0").set_value("run").run()
    at.text_input(key=f"param-{v}-0-run-file").input(str(reranker)).run()
    at.selectbox(key=f"combine-{v}-0").set_value("replace").run()
    at.button(key="use").click().run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    spec = at.session_state["spec"].to_dict()
    assert spec["first_pass"] == {"kind": "run", "params": {"file": str(engine)}}
    assert spec["stages"][0]["scorer"] == {"kind": "run", "params": {"file": str(reranker)}}
    flow = page("flow", at)
    flow.run()
    assert not flow.exception and not flow.error, [e.value for e in flow.error]
    table = flow.dataframe[0].value
    assert list(table.index) == ["first pass", "run", "final"] and list(table["keep"]) == [30, 20, 10]
    assert table.loc["run", "predicted ms/query"] == 30.0    # the reranker file's latency_ms, not its reading
    captions = " | ".join(shown(c.value) for c in flow.caption)
    assert "run engine.run (trec): 12 queries, 360 ranked documents" in captions
    assert "run engine.run carries no latency_ms" in captions and "reranker.jsonl carries no" not in captions


def test_a_run_file_that_is_not_there_is_refused_on_build(demo_state, tmp_path):
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    before = at.session_state["spec"]
    at.selectbox(key=f"fp-kind-{v}").set_value("run").run()
    at.text_input(key=f"fp-param-{v}-run-file").input(str(tmp_path / "nope.run")).run()
    at.button(key="use").click().run()
    assert [shown(e.value) for e in at.error] == [f"Not a valid cascade: run file {tmp_path / 'nope.run'}: no such file"]
    assert at.session_state["spec"] == before and not at.success


def test_after_use_the_form_is_the_cascade_in_use(demo_state, tmp_path):
    """Changing a step drops the cascade's name ('Use' sets it nameless): the form, compared the
    same way, is then the cascade in use, with no 'changes not in use yet' note."""
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.selectbox(key=f"kind-{v}-0").set_value("bm25").run()
    at.button(key="use").click().run()
    assert at.success and not at.error
    assert not [w for w in at.warning if "not in use yet" in w.value]


def test_a_rerank_api_stage_is_built_and_scored_through_its_server(demo_state):
    """Issue 25: a hosted reranker chosen on Build (protocol and url beside the kind); Flow scores
    the candidates through the server (tests/rerank_server.py, a process on 127.0.0.1)."""
    from tests.rerank_server import serve, stats

    with serve() as url:
        at = page("build", demo_state)
        at.run()
        v = at.session_state["spec_version"]
        at.slider(key=f"pool-{v}").set_value(20).run()
        at.selectbox(key=f"kind-{v}-0").set_value("rerank-api").run()
        at.selectbox(key=f"param-{v}-0-rerank-api-protocol").set_value("tei").run()
        at.text_input(key=f"param-{v}-0-rerank-api-url").input(url).run()
        at.button(key="use").click().run()
        assert not at.error and not at.exception, [e.value for e in at.error]
        stage = at.session_state["spec"].to_dict()["stages"][0]["scorer"]
        assert stage == {"kind": "rerank-api", "params": {"protocol": "tei", "url": url}}
        flow = page("flow", at)
        flow.run()
        assert not flow.exception and not flow.error, [e.value for e in flow.error]
        table = flow.dataframe[0].value
        assert list(table.index) == ["first pass", "rerank-api", "final"]
        assert stats(url)["documents"] >= 20 * len(demo_state_queries(demo_state))   # every candidate was sent
        captions = " | ".join(shown(c.value) for c in flow.caption)
        assert f"requests to {url}/rerank" in captions


def demo_state_queries(state) -> list[str]:
    from cascade_core.data import load_dataset

    return load_dataset(state["dataset_source"]["path"], split="test").queries.ids


def test_scoring_on_a_ray_cluster_is_chosen_on_build_and_kept_in_the_spec(demo_state):
    import socket
    import threading

    # A port that answers as a cluster's head does (gRPC: HTTP/2's SETTINGS frame), without a cluster
    head = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{head.getsockname()[1]}"

    def answer():
        while True:
            try:
                conn, _ = head.accept()
            except OSError:
                return
            with conn:
                conn.recv(64)
                conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")

    threading.Thread(target=answer, daemon=True).start()
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    at.radio(key=f"executor-{v}").set_value("a Ray cluster").run()
    at.text_input(key=f"ray-address-{v}").input("127.0.0.1:1").run()   # nothing listens there
    at.button(key="use").click().run()
    assert [shown(e.value) for e in at.error] == [
        "Not set: cannot reach the Ray cluster at 127.0.0.1:1: connection refused (check the address, "
        "and that the cluster runs)"]
    assert at.session_state["spec"].executor == "local"   # the cascade in use is unchanged
    at.text_input(key=f"ray-address-{v}").input(f"ray:{address}").run()   # typed with the setting's prefix
    at.button(key="use").click().run()
    head.close()
    assert not at.error, [e.value for e in at.error]
    spec = at.session_state["spec"]
    assert spec.executor == f"ray:{address}"
    assert f"; scored on the Ray cluster at {address}. Open Flow or Evaluate." in shown(at.success[0].value)
    assert yaml.safe_load(at.code[0].value)["executor"] == f"ray:{address}"
    # the scores are the same wherever they are made: the same experiment, nothing to rescore
    assert spec.scorer_key() == demo_state["spec"].scorer_key()
    v = at.session_state["spec_version"]   # the form, drawn again at once, shows the setting in use
    assert at.radio(key=f"executor-{v}").value == "a Ray cluster"
    assert at.text_input(key=f"ray-address-{v}").value == address
    at.radio(key=f"executor-{v}").set_value("this process (local)").run()
    at.button(key="use").click().run()
    assert at.session_state["spec"].executor == "local"


def test_the_first_change_after_use_is_kept(demo_state):
    at = build_and_use(demo_state, "final", 5)
    assert at.session_state["spec"].final_k == 5
    v = at.session_state["spec_version"]   # the form was drawn again under the new version's keys
    at.slider(key=f"final-{v}").set_value(7).run()   # the first change after Use: it must not snap back
    assert at.slider(key=f"final-{v}").value == 7
    at.button(key="use").click().run()
    assert at.session_state["spec"].final_k == 7
