"""Provenance of stored scores and costs: model content hashes, library versions, machines.

Real parts: BM25 and a real (tiny, untrained) CrossEncoder whose weight files are replaced under
the same model name, as a package upgrade or a retrain into the same folder would.
"""

import json
import shutil
import sqlite3
import sys
import types

import pytest

from cascade_cli import cli
from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec
from cascade_core.doctor.provenance import check_provenance, experiment_checks
from cascade_core.models import loading
from cascade_core.models import resolve as models
from cascade_core.models.fingerprint import model_fingerprint
from cascade_core.store.provenance import machine, provenance_report
from cascade_core.store.scores import ScoreStore

HERE = {"id": "m-here", "hostname": "here", "cpu": "AMD EPYC", "cores": 2, "machine": "x86_64", "system": "Linux"}


def prov(fingerprint="sha256:aaaa", machine=HERE, **versions):
    versions = {"torch": "2.3.0", "transformers": "4.40.0", "sentence-transformers": "3.0.0",
                "rank-bm25": "0.2.2", "PyStemmer": "2.2.0", **versions}
    return {"models": {"ce": fingerprint} if fingerprint else {}, "versions": versions, "machine": machine}


def by_kind(checks, kind):
    return [c for c in checks if c.kind == kind]


@pytest.fixture
def packaged_tiny_ce(tmp_path, monkeypatch):
    """A tiny cross-encoder served under a packaged *name*: its key (and scorer id) stays the same
    whatever its files hold, like all-MiniLM-L6-v2 from its package or a hub id."""
    folder = tmp_path / "tiny-ce-weights"
    loading.build_tiny_cross_encoder(folder, seed=0)
    module = types.ModuleType("fake_tiny_ce_package")
    module.get_model_path = lambda: str(folder)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(models.PACKAGED, "tiny-ce", (module.__name__, "get_model_path"))
    return folder


@pytest.mark.slow
def test_same_model_name_with_changed_weights_is_detected(tiny_dataset, tiny_beir, workspace, packaged_tiny_ce,
                                                         capsys):
    spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 6, "final_k": 3,
                                  "stages": [{"name": "ce", "scorer": {"kind": "cross-encoder", "model": "tiny-ce"},
                                              "keep": 3}]})
    half = tiny_dataset.queries.subset(tiny_dataset.queries.ids[:6])
    first = Experiment(tiny_dataset, spec, workspace, queries=half)
    first.ensure_scores()
    old_fp = model_fingerprint(first.plan.scorers[0].model)
    checks = experiment_checks(first)
    assert [c.stage for c in by_kind(checks, "provenance")] == ["first pass", "ce"]
    assert [c.status for c in by_kind(checks, "provenance")] == ["ok", "ok"]
    assert [c.status for c in by_kind(checks, "latency-machine")] == ["ok", "ok"]

    # New weights, same folder, same name: a package upgrade or a retrain in place.
    shutil.rmtree(packaged_tiny_ce)
    loading.build_tiny_cross_encoder(packaged_tiny_ce, seed=1)
    second = Experiment(tiny_dataset, spec, workspace)   # all 12 queries: 6 more to score
    assert second.plan.scorers[0].id == first.plan.scorers[0].id        # the name alone cannot tell
    new_fp = model_fingerprint(second.plan.scorers[0].model)
    assert new_fp != old_fp
    report = second.ensure_scores()
    assert report.scored_pairs["ce"] == 6 * 6

    [check] = [c for c in experiment_checks(second) if c.kind == "provenance" and c.stage == "ce"]
    assert (check.status, check.severity) == ("flagged", "warning")
    assert old_fp in check.finding.title and new_fp in check.finding.title
    ev = check.finding.evidence
    assert ev["scores by tiny-ce " + old_fp] == 6 * 6 and ev["scores by tiny-ce " + new_fp] == 6 * 6
    assert ev["tiny-ce on disk now"] == new_fp
    assert "cascade forget" in check.finding.fix and second.plan.scorers[0].id in check.finding.fix
    # The new pairs were scored by the new weights (reloaded), not the copy still in memory.
    sid, fp = second.plan.scorers[0].id, tiny_dataset.corpus.fingerprint
    runs = workspace.store.score_provenance(sid, fp)
    assert [r["models"]["tiny-ce"] for r in runs] == [old_fp, new_fp]

    # The first experiment's queries were all scored by the old files: stale, and said so.
    [stale] = [c for c in experiment_checks(first) if c.kind == "provenance" and c.stage == "ce"]
    assert stale.severity == "warning" and "changed since" in stale.finding.title

    # The report carries it as plain data.
    rep = json.loads(json.dumps(second.provenance_report()))
    ce = rep["steps"][1]
    assert ce["models"]["tiny-ce"] == {"now": new_fp, "scores by fingerprint": {old_fp: 36, new_fp: 36}}
    assert rep["environment"]["machine"]["id"] == machine()["id"]

    # The fix: forget the scorer's scores (CLI), rescore: one revision again.
    assert cli.main(["forget", "--dataset", str(tiny_beir), "--home", str(workspace.home), "--scorer", sid]) == 0
    assert "Forgot 72 stored scores of " + sid in capsys.readouterr().out
    assert workspace.store.score_provenance(sid, fp) == []
    second.ensure_scores()
    [fixed] = [c for c in experiment_checks(second) if c.kind == "provenance" and c.stage == "ce"]
    assert fixed.status == "ok" and new_fp in fixed.summary


def test_forget_lists_scorers_and_refuses_an_unknown_one(tiny_beir, tmp_path, capsys):
    home = tmp_path / "home"
    assert cli.main(["forget", "--dataset", str(tiny_beir), "--home", str(home)]) == 0
    assert "No stored scores" in capsys.readouterr().out
    assert cli.main(["forget", "--dataset", str(tiny_beir), "--home", str(home), "--scorer", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no stored scores of scorer 'nope'") and "Traceback" not in err


OLD_SCHEMA = """
CREATE TABLE score_sets (id INTEGER PRIMARY KEY, scorer TEXT NOT NULL, corpus TEXT NOT NULL, UNIQUE (scorer, corpus));
CREATE TABLE scores (set_id INTEGER NOT NULL, query TEXT NOT NULL, doc TEXT NOT NULL, score REAL NOT NULL,
                     PRIMARY KEY (set_id, query, doc)) WITHOUT ROWID;
CREATE TABLE retrievals (set_id INTEGER NOT NULL, query TEXT NOT NULL, depth INTEGER NOT NULL,
                         PRIMARY KEY (set_id, query)) WITHOUT ROWID;
CREATE TABLE costs (scorer TEXT NOT NULL, n_pairs INTEGER NOT NULL, n_chars INTEGER NOT NULL,
                    seconds REAL NOT NULL, recorded_at REAL NOT NULL);
CREATE INDEX costs_by_scorer ON costs (scorer);
"""


def test_a_store_from_before_provenance_is_migrated_and_its_rows_kept_as_unknown(tmp_path):
    path = tmp_path / "scores.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO score_sets VALUES (1, 'ce', 'c1')")
    conn.executemany("INSERT INTO scores VALUES (1, 'q1', ?, ?)", [("d1", 0.5), ("d2", 0.25)])
    conn.execute("INSERT INTO retrievals VALUES (1, 'q1', 2)")
    conn.execute("INSERT INTO costs VALUES ('ce', 2, 100, 0.01, 0)")
    conn.commit()
    conn.close()

    store = ScoreStore(path)
    assert store.get("ce", "c1", "q1") == {"d1": 0.5, "d2": 0.25}
    assert store.retrieval_depths("ce", "c1") == {"q1": 2}
    assert store.costs("ce").tolist() == [[2, 100, 0.01]]
    [legacy] = store.score_provenance("ce", "c1")
    assert (legacy["run"], legacy["scores"], legacy["models"]) == (None, 2, None)
    assert [(r["run"], r["calls"]) for r in store.cost_provenance("ce")] == [(None, 1)]

    # New rows go in beside the old ones, with their run.
    run = store.start_run("ce", "c1", prov())
    store.put("ce", "c1", "q2", ["d1"], [0.75], run=run)
    store.put_retrieval("ce", "c1", "q3", ["d1", "d2"], [2.0, 1.0], depth=2, run=run)
    assert [(r["run"], r["scores"]) for r in store.score_provenance("ce", "c1")] == [(None, 2), (run, 3)]
    assert ScoreStore(path).get("ce", "c1", "q1") == {"d1": 0.5, "d2": 0.25}   # reopening: no second migration

    checks = check_provenance(store, "c1", [("ce", "ce", prov())])
    scores, timing = by_kind(checks, "provenance")[0], by_kind(checks, "latency-machine")[0]
    assert (scores.status, scores.severity) == ("flagged", "info")
    assert scores.finding.evidence["scores of unknown provenance"] == 2
    assert timing.status == "not checked" and "predate provenance" in timing.summary


def test_costs_timed_on_another_machine_are_flagged(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    gpu_box = {"id": "m-gpu", "hostname": "gpu-1", "cpu": "Intel Xeon", "cores": 16, "machine": "x86_64",
               "system": "Linux"}
    elsewhere = store.start_run("ce", "c1", prov(machine=gpu_box))
    store.put("ce", "c1", "q1", ["d1"], [0.5], run=elsewhere)
    store.record_costs("ce", [(10, 1000, 0.01)] * 30, run=elsewhere)
    here = store.start_run("ce", "c1", prov())
    store.record_costs("ce", [(10, 1000, 0.2)] * 5, run=here)

    checks = check_provenance(store, "c1", [("ce", "ce", prov())])
    [timing] = by_kind(checks, "latency-machine")
    assert (timing.status, timing.severity, timing.stage) == ("flagged", "warning", "ce")
    ev = timing.finding.evidence
    assert ev["calls timed on gpu-1 (Intel Xeon, 16 cores)"] == 30 and ev["calls timed here"] == 5
    assert "30 of 35" in timing.finding.title
    # The scores themselves are fine: one model, one set of versions.
    assert by_kind(checks, "provenance")[0].status == "ok"

    # Timed on the same hardware under another host name (a fresh container): only info.
    twin = dict(HERE, id="m-twin", hostname="container-2")
    store.drop_costs("ce")
    store.record_costs("ce", [(10, 1000, 0.2)] * 5, run=here)
    [timing] = by_kind(check_provenance(store, "c1", [("ce", "ce", prov())], current={"machine": twin}),
                       "latency-machine")
    assert (timing.status, timing.severity) == ("flagged", "info")


def test_mixed_library_versions_are_flagged_only_where_they_matter(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    for q, torch in (("q1", "2.3.0"), ("q2", "2.4.1")):
        store.put("ce", "c1", q, ["d1", "d2"], [0.1, 0.2], run=store.start_run("ce", "c1", prov(torch=torch)))
    [check] = by_kind(check_provenance(store, "c1", [("ce", "ce", prov(torch="2.4.1"))]), "provenance")
    assert (check.status, check.severity) == ("flagged", "warning")
    assert "torch" in check.finding.title and "2.3.0" in check.finding.title
    assert check.finding.evidence["scores by torch 2.3.0"] == 2

    # BM25: torch versions do not change its scores; rank-bm25's do.
    bm25 = "first-pass:bm25:k1=0.9"
    for q, torch in (("q1", "2.3.0"), ("q2", "2.4.1")):
        store.put(bm25, "c1", q, ["d1"], [3.0], run=store.start_run(bm25, "c1", prov(None, torch=torch)))
    now = {**prov(None), "libraries": ["rank-bm25", "PyStemmer"]}   # what the bm25 kind declares
    [ok] = by_kind(check_provenance(store, "c1", [("first pass", bm25, now)]), "provenance")
    assert ok.status == "ok"
    store.put(bm25, "c1", "q3", ["d1"], [3.0], run=store.start_run(bm25, "c1", prov(None, **{"rank-bm25": "0.3.0"})))
    [mixed] = by_kind(check_provenance(store, "c1", [("first pass", bm25, now)]), "provenance")
    assert mixed.severity == "warning" and "rank-bm25" in mixed.finding.title


def test_query_keys_limit_the_scores_looked_at_and_runs_are_reused(tmp_path):
    store = ScoreStore(tmp_path / "s.sqlite")
    a = store.start_run("ce", "c1", prov("sha256:aaaa"))
    assert store.start_run("ce", "c1", prov("sha256:aaaa")) == a     # same provenance: one row
    store.put("ce", "c1", "q1", ["d1"], [0.1], run=a)
    store.put("ce", "c1", "q2", ["d1"], [0.2], run=store.start_run("ce", "c1", prov("sha256:bbbb")))
    only_q1 = check_provenance(store, "c1", [("ce", "ce", prov("sha256:aaaa"))], query_keys=["q1"])
    assert by_kind(only_q1, "provenance")[0].status == "ok"
    both = check_provenance(store, "c1", [("ce", "ce", prov("sha256:aaaa"))])
    assert by_kind(both, "provenance")[0].severity == "warning"
    rep = provenance_report(store, "c1", [("ce", "ce", prov("sha256:aaaa"))], query_keys=["q1"])
    assert rep["steps"][0]["models"]["ce"]["scores by fingerprint"] == {"sha256:aaaa": 1}


def test_fingerprint_follows_the_files_not_the_name(tmp_path):
    folder = tmp_path / "m"
    loading.build_tiny_cross_encoder(folder, seed=0)
    resolved = models.ResolvedModel("m", str(folder), True, "m")
    before = model_fingerprint(resolved)
    assert before == model_fingerprint(resolved) and before.startswith("sha256:")
    (folder / "config.json").write_text((folder / "config.json").read_text().replace("}", ', "x": 1}', 1))
    assert model_fingerprint(resolved) != before
    assert model_fingerprint(models.ResolvedModel("org/not-cached", "org/not-cached", False, "org/not-cached")) \
        == "unknown (hub id, not cached)"
