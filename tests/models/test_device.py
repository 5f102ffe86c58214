"""The device setting (auto, cpu, cuda, cuda:N, mps): on a CPU-only machine ``auto`` runs as
before and ``cuda`` is one clear error; timings are kept per device, so a GPU's never price a CPU
run, and a prediction over steps timed on different devices says so. The GPU itself is faked
(no GPU here): what is tested is where the setting goes and what is kept apart."""

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.errors import ModelError, SpecError
from cascade_core.models import device as devices
from cascade_core.scorers import Scorer, ScorerConfig, register, unregister
from tests.helpers import run_cli as cascade


def test_settings_are_checked_and_auto_is_the_cpu_here():
    assert devices.resolve_device("auto") == "cpu" and devices.resolve_device("cpu") == "cpu"
    for bad in ("gpu", "cuda:x", "cuda:100", ""):
        if bad == "":
            assert devices.parse_device(bad) == "auto"
            continue
        with pytest.raises(SpecError, match="device must be auto, cpu, cuda, cuda:N or mps"):
            devices.parse_device(bad)
    with pytest.raises(ModelError, match="torch sees no CUDA GPU here .*CPU build.*TORCH_SPEC"):
        devices.resolve_device("cuda:1")
    with pytest.raises(ModelError, match="no Apple GPU"):
        devices.resolve_device("mps")


def test_the_spec_carries_the_device_outside_its_scorer_key():
    base = {"first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [{"scorer": {"kind": "bm25"}, "keep": 10}]}
    auto, cuda = CascadeSpec.from_dict(base), CascadeSpec.from_dict({**base, "device": "CUDA"})
    assert auto.device == "auto" and "device" not in auto.to_dict()
    assert cuda.device == "cuda" and cuda.to_dict()["device"] == "cuda"
    assert CascadeSpec.from_yaml(cuda.to_yaml()) == cuda and cuda.scorer_key() == auto.scorer_key()
    assert cuda.with_keeps(keeps=[5], final_k=5).device == "cuda"   # derived specs keep it
    with pytest.raises(SpecError, match="device must be"):
        CascadeSpec.from_dict({**base, "device": "tpu"})


def test_the_cli_refuses_a_gpu_it_lacks_in_one_line_and_runs_auto_as_before(tiny_beir, tmp_path):
    home = tmp_path / "home"
    res = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--stage", "bi@10", "--device", "cuda",
                  home=home)
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert errors == ["error: device cuda: torch sees no CUDA GPU here (torch " + __import__("torch").__version__
                      + " is a CPU build); choose the device auto or cpu, or install a CUDA build of torch "
                        "(README, 'GPUs': TORCH_SPEC)"]
    auto = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--device", "auto", home=home)
    cpu = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "20", home=home)
    assert auto.returncode == cpu.returncode == 0, auto.stderr
    assert "0 pairs scored" in cpu.stdout or "0 first-pass queries" in cpu.stdout   # auto's scores serve cpu
    # a cascade whose steps run no model here (BM25) does not care where models would run
    bm25 = cascade("eval", "--dataset", str(tiny_beir), "--pool-size", "20", "--device", "cuda", home=home)
    assert bm25.returncode == 0, bm25.stderr


@pytest.fixture
def gpu_kind(monkeypatch):
    """A kind whose model "runs here" and scores in half precision on a GPU, on a machine whose
    torch "sees" cuda:0 (faked: the setting's path is what is tested, not a GPU)."""
    @register("device-test")
    class DeviceTestScorer(Scorer):
        label = "a test kind that runs a model here"
        takes_model = False
        uses_device, half_on_gpu = True, True

        def score(self, query, doc_ids):
            return np.arange(len(doc_ids), 0, -1, dtype=float)

    real = devices.resolve_device
    monkeypatch.setattr("cascade_core.scorers.base.resolve_device",
                        lambda setting: "cuda:0" if str(setting).startswith("cuda") else real(setting))
    yield DeviceTestScorer
    unregister("device-test")


def test_a_gpu_steps_scores_and_timings_are_kept_apart_and_said(gpu_kind, tiny_dataset, workspace):
    spec = {"first_pass": {"kind": "bm25"}, "pool_size": 10, "stages": [{"scorer": {"kind": "device-test"}, "keep": 5}],
            "final_k": 5}
    on_cpu = Experiment(tiny_dataset, CascadeSpec.from_dict(spec), workspace)
    on_gpu = Experiment(tiny_dataset, CascadeSpec.from_dict({**spec, "device": "cuda"}), workspace)
    cpu_step, gpu_step = on_cpu.plan.scorers[0], on_gpu.plan.scorers[0]
    assert cpu_step.device == "cpu" and gpu_step.device == "cuda:0"
    assert gpu_step.id == cpu_step.id + ":fp16"                   # half-precision scores stored apart
    assert gpu_step.timing_key == gpu_step.id + "@cuda:0"        # and their timings too
    assert on_gpu.plan.retriever.timing_key == on_cpu.plan.retriever.timing_key   # BM25 runs on the CPU anyway

    on_gpu.ensure_scores()
    store = workspace.store
    assert len(store.cost_rows(gpu_step.timing_key)) > 0 and len(store.cost_rows(cpu_step.id)) == 0
    result = on_gpu.run()
    stage = result.latency.stages[1]
    assert stage.source == "measured here on cuda:0" and np.isfinite(stage.predicted_ms)
    assert result.latency.devices_note.startswith("measured on different devices (first pass: cpu; device-test: cuda:0)")
    # The CPU run has no timing of this step: nothing measured on the GPU prices it.
    on_cpu.ensure_scores()
    cpu_models = Experiment(tiny_dataset, CascadeSpec.from_dict(spec), workspace).cost_models()
    assert cpu_models[1].n_calls == len(store.cost_rows(cpu_step.id)) > 0
    assert all(r.tolist() not in store.cost_rows(gpu_step.timing_key).tolist() for r in store.cost_rows(cpu_step.id))
