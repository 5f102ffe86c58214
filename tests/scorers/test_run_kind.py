"""Issue 25, part 1: a run file (another engine's ranked lists, a reranker's scores) as the first
pass or as a stage. Runs exported by this tool read back to the same metrics, exactly; files are
checked as every dataset file is (duplicates, non-finite scores, unknown ids and queries named)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.cascade.spec import parse_first_pass, parse_stage, stage_flag
from cascade_core.data.runs import read_run
from cascade_core.errors import DataError
from cascade_core.export.snippets import trec_run_files
from tests.helpers import run_cli as cascade  # in this process: no interpreter, models loaded once

SPEC = {"first_pass": {"kind": "bm25"}, "pool_size": 30,
        "stages": [{"scorer": {"kind": "bm25", "params": {"k1": 0.6, "b": 0.3}}, "keep": 10}], "final_k": 10}


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# -- reading -----------------------------------------------------------------------------------

def test_trec_jsonl_gzip_and_parquet_read_the_same_lists(tmp_path):
    rows = [("q1", "d3", 9.5), ("q1", "d1", 7.0), ("q1", "d2", 7.0), ("q2", "d1", 3.25)]
    trec = write(tmp_path / "a.run", "".join(f"{q} Q0 {d} {i} {s} x\n" for i, (q, d, s) in enumerate(rows, 1)))
    jsonl = tmp_path / "a.jsonl.gz"
    with gzip.open(jsonl, "wt") as f:
        f.writelines(json.dumps({"qid": q, "docid": d, "score": s, "latency_ms": 12.5}) + "\n" for q, d, s in rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.table({"query_id": [r[0] for r in rows], "doc_id": [r[1] for r in rows],
                             "score": [r[2] for r in rows]}), parquet)
    runs = [read_run(p) for p in (trec, jsonl, parquet)]
    assert [r.format for r in runs] == ["trec", "jsonl", "parquet"]
    for r in runs:   # ties (d1, d2 at 7.0) keep the file's order
        assert r.lists == {"q1": [("d3", 9.5), ("d1", 7.0), ("d2", 7.0)], "q2": [("d1", 3.25)]}
    assert runs[1].latency_ms == {"q1": 12.5, "q2": 12.5} and runs[0].latency_ms == {}
    assert len({r.fingerprint for r in runs}) == 3


def test_a_run_out_of_order_is_sorted_by_score_ties_in_file_order(tmp_path):
    run = read_run(write(tmp_path / "r.run", "q Q0 b 1 1.0 t\nq Q0 a 2 5.0 t\nq Q0 c 3 1.0 t\n"))
    assert run.lists["q"] == [("a", 5.0), ("b", 1.0), ("c", 1.0)]


@pytest.mark.parametrize("text, why", [
    ("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n", ":2: query q1 names document d1 a second time (first on line 1)"),
    ("q1 Q0 d1 1 nan t\n", ":1: score nan for query q1 and document d1 is not a finite number"),
    ("q1 Q0 d1 1 1e999 t\n", "is not a finite number"),
    ("q1 Q0 d1 1 high t\n", ":1: score 'high' is not a number"),
    ("q1 d1 2.0\n", ":1: expected 6 columns (qid Q0 docid rank score tag), found 3"),
    ("", "holds no ranked documents"),
    ("q1 Q0 " + "d" * 600 + " 1 2.0 t\n", "a document id of 600 characters"),
])
def test_a_bad_trec_run_is_one_error_with_file_and_line(tmp_path, text, why):
    path = write(tmp_path / "bad.run", text)
    with pytest.raises(DataError, match=None) as err:
        read_run(path)
    assert why in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("line, why", [
    ('{"qid": "q1", "score": 1}', "no document id"),
    ('{"qid": "q1", "docid": "d1", "score": "1"}', "score must be a number"),
    ('{"qid": "q1", "docid": "d1", "score": NaN}', "not a finite number"),
    ('{"qid": "q1", "docid": "d1", "score": 1, "latency_ms": -3}', "latency_ms -3.0 for query q1 is not a time"),
    ('[1, 2]', "each line must be a JSON object"),
    ('{"qid": "q1", "docid": {"a": 1}, "score": 1}', "docid must be text or a whole number"),
    ("[" * 5000, "nested deeper"),
])
def test_a_bad_jsonl_run_is_one_error_with_file_and_line(tmp_path, line, why):
    path = write(tmp_path / "bad.jsonl", '{"qid": "q0", "docid": "d0", "score": 1}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        read_run(path)
    assert why in str(err.value) and f"{path}:2:" in str(err.value)


def test_the_command_line_names_the_file_after_the_kind(tmp_path):
    assert parse_first_pass("run:runs/bm25.trec").params == {"file": "runs/bm25.trec"}
    stage = parse_stage("run:/data/my@team/rerank.jsonl@20")   # an @ inside the path is kept
    assert stage.keep == 20 and stage.scorer.params == {"file": "/data/my@team/rerank.jsonl"}
    assert stage_flag(stage) == "run:/data/my@team/rerank.jsonl@20"
    spec = CascadeSpec.from_dict({"first_pass": "run:a.run", "pool_size": 5, "final_k": 5})
    assert spec.first_pass.params == {"file": "a.run"} and spec.first_pass.model is None


# -- evaluating --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tiny_dataset, tmp_path_factory):
    """A BM25 -> 30 -> BM25(k1 0.6, b 0.3) -> 10 cascade evaluated here, and its runs exported."""
    from cascade_core.scoring.workspace import Workspace

    folder = tmp_path_factory.mktemp("runs")
    ws = Workspace(folder / "home")
    spec = CascadeSpec.from_dict(SPEC)
    exp = Experiment(tiny_dataset, spec, ws)
    exp.ensure_scores()
    result = exp.run()
    files = {}
    for name, text in trec_run_files(result.run).items():
        (folder / name).write_text(text)
        files[name] = folder / name
    ws.close()
    return result.evaluation, files


def test_an_exported_first_pass_run_gives_the_same_metrics_exactly(tiny_dataset, exported, workspace):
    ours, files = exported
    spec = CascadeSpec.from_dict({**SPEC, "first_pass": {"kind": "run", "params": {"file": str(files["0-first_pass.run"])}}})
    exp = Experiment(tiny_dataset, spec, workspace)
    report = exp.ensure_scores()
    theirs = exp.run().evaluation
    for a, b in ((ours.steps[0], theirs.steps[0]), (ours.final, theirs.final)):
        assert a.means == b.means
        for m in a.per_query:
            np.testing.assert_array_equal(a.per_query[m], b.per_query[m])
    assert any("carries no latency_ms" in n for n in report.notes)
    assert exp.plan.retriever.id.startswith("first-pass:run:")


def test_an_exported_stage_run_gives_the_same_metrics_exactly(tiny_dataset, exported, workspace):
    ours, files = exported
    stage = {"scorer": {"kind": "run", "params": {"file": str(files["1-bm25.run"])}}, "keep": 10}
    spec = CascadeSpec.from_dict({**SPEC, "stages": [stage]})
    exp = Experiment(tiny_dataset, spec, workspace)
    report = exp.ensure_scores()
    theirs = exp.run().evaluation
    assert ours.final.means == theirs.final.means
    for m in ours.final.per_query:
        np.testing.assert_array_equal(ours.final.per_query[m], theirs.final.per_query[m])
    # The stage run holds each query's top 10 of 30 candidates: the other 20 rank after them.
    assert any("candidates it does not score were ranked after" in n for n in report.notes)


def test_what_the_run_lacks_or_adds_is_counted_and_named(tiny_dataset, exported, workspace, tmp_path):
    _, files = exported
    lines = files["0-first_pass.run"].read_text().splitlines()
    first_q = lines[0].split()[0]
    kept = [ln for ln in lines if ln.split()[0] != first_q]                 # one query lacking
    kept.append("stranger-q Q0 d-x 1 5.0 engine")                           # a query the dataset lacks
    kept.append(f"{kept[0].split()[0]} Q0 not-in-corpus 99 -5.0 engine")    # a document the corpus lacks
    path = write(tmp_path / "engine.run", "\n".join(kept) + "\n")
    spec = CascadeSpec.from_dict({**SPEC, "first_pass": f"run:{path}"})
    exp = Experiment(tiny_dataset, spec, workspace)
    notes = " | ".join(exp.ensure_scores().notes)
    assert f"lacks 1 of the {len(tiny_dataset.queries)} queries: their lists are empty (e.g. '{first_q}')" in notes
    assert "1 queries the dataset does not (not used; e.g. 'stranger-q')" in notes
    assert "2 documents not in the corpus are dropped (e.g. 'd-x', 'not-in-corpus')" in notes
    result = exp.run()   # the lacking query: an empty list, scored 0, never a crash
    q = result.run.matrix.query_ids.index(first_q)
    assert result.evaluation.steps[0].per_query["recall@10"][q] == 0.0


def test_latency_from_the_file_is_the_steps_cost(tiny_dataset, exported, workspace, tmp_path):
    _, files = exported
    rows = [ln.split() for ln in files["0-first_pass.run"].read_text().splitlines()]
    path = tmp_path / "timed.jsonl"
    path.write_text("".join(json.dumps({"qid": q, "docid": d, "score": float(s), "latency_ms": 40.0}) + "\n"
                            for q, _, d, _, s, _ in rows))
    spec = CascadeSpec.from_dict({**SPEC, "first_pass": {"kind": "run", "params": {"file": str(path)}}})
    exp = Experiment(tiny_dataset, spec, workspace)
    report = exp.ensure_scores()
    assert not any("latency_ms" in n for n in report.notes)
    first = exp.run().latency.stages[0]
    assert first.predicted_ms == pytest.approx(40.0, rel=0.05)   # the engine's 40 ms, not the file's reading


@pytest.mark.slow
def test_the_cli_exports_runs_and_evaluates_them_back(tiny_beir, tmp_path):
    home, out = tmp_path / "home", tmp_path / "runs"
    common = ["--dataset", str(tiny_beir), "--pool-size", "30", "--stage", "bm25@10"]
    res = cascade("export", *common, "--trec", str(out), home=home)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["0-first_pass.run", "1-bm25.run", "final.run"]
    ours = cascade("eval", *common, "--json", str(tmp_path / "ours.json"), home=home)
    theirs = cascade("eval", *common, "--first-pass", f"run:{out / '0-first_pass.run'}",
                     "--json", str(tmp_path / "theirs.json"), home=tmp_path / "home2")
    assert ours.returncode == 0 and theirs.returncode == 0, theirs.stderr
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("ours.json", "theirs.json"))
    assert a["metrics"] == b["metrics"]
    assert "carries no latency_ms" in theirs.stdout
    bad = cascade("eval", *common, "--first-pass", f"run:{tmp_path / 'missing.run'}", home=home)
    assert bad.returncode == 2 and "missing.run: no such file" in bad.stderr and "Traceback" not in bad.stderr
