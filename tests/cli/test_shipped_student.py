"""The precision stage that ships with the sample: on a fresh data folder, the seed-001 preset's
cross-encoder is the shipped student (the report names it), its scores come from the file shipped
beside the sample once this machine's model agreed on the first queries, and the cascade beats the
demo's first pass by at least 5 nDCG@10 points. Real BM25, MiniLM and the shipped student."""

import json

import pytest

from cascade_core.models.students import SHIPPED_STUDENTS, read_student
from tests.conftest import SAMPLE
from tests.helpers import run_cli as cascade

STUDENT = SHIPPED_STUDENTS / "scifact-student"
DEMO_FIRST_PASS_NDCG = 0.691   # BM25 alone on the sample (README, `cascade demo`)


def test_the_shipped_student_is_complete_and_says_how_it_was_made():
    student = read_student(STUDENT)
    assert student is not None and student.shipped
    manifest = json.loads((STUDENT / "manifest.json").read_text())
    assert manifest["command"].startswith("cascade distill --dataset ../shared/data/scifact")
    assert len(manifest["training_data_sha256"]) == 64 and "Apache-2.0" in manifest["licences"]["base_model"]
    assert "CC BY-NC" in manifest["licences"]["training_data"]
    assert {"float32", "float16"} <= set(manifest["held_out"])
    weights = (STUDENT / "model.safetensors").stat().st_size
    assert weights < 50e6                                       # half precision: under 50 MB
    assert "test" not in student.info["training_queries"]["source"]   # trained on train queries only


@pytest.mark.slow
def test_a_fresh_folder_evaluates_the_seed_preset_with_the_shipped_student(tmp_path):
    report_path = tmp_path / "report.json"
    res = cascade("eval", "--dataset", str(SAMPLE), "--preset", "bm25-bi-ce", "--json", str(report_path),
                  home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    report = json.loads(report_path.read_text())
    ce = report["spec"]["stages"][1]["scorer"]
    assert ce["kind"] == "cross-encoder" and ce["model"] == str(STUDENT)
    assert "shipped with the sample" in report["students"]["cross-encoder"]
    assert "another collection" not in report["students"]["cross-encoder"]   # the sample is what it was made for
    assert "shipped with the sample" in res.stdout and "stand-in" not in res.stdout
    assert any("taken from the file shipped with the dataset" in n for n in report["scoring"]["notes"])
    assert report["metrics"]["ndcg@10"] >= DEMO_FIRST_PASS_NDCG + 0.05


def test_a_preset_name_is_checked_and_not_mixed_with_a_spec_file(tmp_path):
    res = cascade("eval", "--dataset", str(SAMPLE), "--preset", "fastest", home=tmp_path / "home")
    assert res.returncode != 0 and "no preset 'fastest'" in res.stderr and "bm25-bi-ce" in res.stderr
    spec = tmp_path / "s.yaml"
    spec.write_text("first_pass: {kind: bm25}\n")
    res = cascade("eval", "--dataset", str(SAMPLE), "--preset", "demo", "--config", str(spec), home=tmp_path / "home")
    assert res.returncode != 0 and "give one" in res.stderr
