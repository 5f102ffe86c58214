"""Saved experiments compared side by side: Holm's correction, refusals, the table, the CLI."""

import numpy as np
import pytest
from scipy import stats

from cascade_cli import cli
from cascade_core.analysis.compare_many import check_comparable, compare_experiments, holm
from cascade_core.analysis.saved import SavedExperiment, check_name
from cascade_core.errors import CascadeError

QIDS = [f"q{i}" for i in range(40)]
DATASET = {"name": "toy", "split": "test", "source": "", "corpus": "c0", "judgments": "j0"}


def saved(name, ndcg, ms=10.0, dataset=DATASET, qids=QIDS):
    return SavedExperiment(name, {"first_pass": {"kind": "bm25"}}, f"cascade {name}", dict(dataset), list(qids),
                           {"ndcg@10": list(map(float, ndcg)), "recall@10": [1.0] * len(qids)},
                           {"predicted_ms": ms, "p50": ms, "p95": 2 * ms, "p99": 3 * ms, "measured": None})


def three():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, len(QIDS))
    better = np.clip(base + rng.uniform(0.0, 0.2, len(QIDS)), 0, 1)      # clearly better
    noise = np.clip(base + rng.normal(0, 0.05, len(QIDS)), 0, 1)         # no real difference
    return [saved("base", base, 5.0), saved("better", better, 40.0), saved("noise", noise, 20.0)]


def test_holm_against_the_definition():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): x4, x3, x2, x1, then running max
    assert holm(p)[[0, 2, 1, 4]].tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert np.isnan(holm(p)[3])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]


def test_table_tests_and_holm():
    exps = three()
    result = compare_experiments(exps, baseline="base")
    t = result.table
    assert list(t.index) == ["base", "better", "noise"]
    raw = [stats.wilcoxon(np.array(e.values("ndcg@10")) - np.array(exps[0].values("ndcg@10"))).pvalue
           for e in exps[1:]]
    assert t.loc[["better", "noise"], "Wilcoxon p"].tolist() == pytest.approx(raw)
    assert t.loc[["better", "noise"], "Holm p"].tolist() == pytest.approx(holm(raw).tolist())
    assert t.loc["better", "wins"] > 30 and t.loc["better", "Holm p"] < 0.001
    assert result.significant() == ["better"]
    assert t.loc["base", "predicted ms"] == 5.0 and np.isnan(t.loc["base", "Holm p"])
    assert result.wins_losses().shape == (len(QIDS), 2)
    csv = result.to_csv()
    assert csv.splitlines()[0].startswith("experiment,cascade,ndcg@10") and "Holm p" in csv


def test_different_datasets_or_queries_are_refused():
    a = saved("a", [0.5] * 40)
    with pytest.raises(CascadeError, match="different corpus"):
        check_comparable([a, saved("b", [0.5] * 40, dataset={**DATASET, "corpus": "other"})])
    with pytest.raises(CascadeError, match="different relevance judgments"):
        check_comparable([a, saved("b", [0.5] * 40, dataset={**DATASET, "judgments": "other"})])
    with pytest.raises(CascadeError, match="different query sets .10 queries only in 'a'"):
        check_comparable([a, saved("b", [0.5] * 30, qids=QIDS[:30])])
    with pytest.raises(CascadeError, match="at least two"):
        check_comparable([a])
    with pytest.raises(CascadeError, match="use 1-80 letters"):
        check_name("../etc/passwd")


def test_cascade_compare_prints_the_table_and_holm(tmp_path, capsys):
    folder = tmp_path / "experiments"
    exps = three()
    for e in exps:
        e.save(folder)
    out_csv = tmp_path / "table.csv"
    rc = cli.main(["compare", "base", "better", "noise", "--home", str(tmp_path), "--csv", str(out_csv)])
    out = capsys.readouterr().out
    assert rc == 0
    result = compare_experiments(exps)
    for name in ("better", "noise"):
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert f"{result.table.loc[name, 'Holm p']:.3g}" in line.split()
    assert "Holm's step-down method for the 2 comparisons" in out
    assert "after Holm's correction (p <= 0.05): better" in out
    assert out_csv.read_text().startswith("experiment,cascade")
    assert cli.main(["compare", "--list", "--home", str(tmp_path)]) == 0
    assert "better" in capsys.readouterr().out


def test_cascade_compare_refuses_with_the_reason(tmp_path, capsys):
    folder = tmp_path / "experiments"
    saved("a", [0.5] * 40).save(folder)
    saved("b", [0.5] * 30, qids=QIDS[:30]).save(folder)
    assert cli.main(["compare", "a", "b", "--home", str(tmp_path)]) == 2
    assert "different query sets" in capsys.readouterr().err
    assert cli.main(["compare", "a", "zz", "--home", str(tmp_path)]) == 2
    assert "no saved experiment 'zz'" in capsys.readouterr().err


def test_eval_save_then_compare_on_a_real_dataset(tiny_beir, tmp_path, capsys):
    """``cascade eval --save`` captures a real evaluation (BM25 only: no model to load), with a
    per-query cut-off's kept counts; ``compare`` pairs them; another query set is refused."""
    home = ["--home", str(tmp_path)]
    data = ["--dataset", str(tiny_beir)]
    assert cli.main(["eval", *data, "--pool-size", "10", "--save", "first", *home]) == 0
    assert cli.main(["eval", *data, "--pool-size", "30", "--stage", "bm25@drop=0.3,min=10,max=30,scale=norm",
                     "--save", "drop", *home]) == 0
    assert cli.main(["eval", *data, "--pool-size", "10", "--queries", "3", "--save", "three", *home]) == 0
    out = capsys.readouterr().out
    assert "per-query cut-off drop 0.3 (norm), 10-30: kept per query mean" in out
    saved = SavedExperiment.load(tmp_path / "experiments", "drop")
    assert saved.kept["bm25"]["min"] >= 10 and saved.kept["bm25"]["max"] <= 30
    assert saved.spec["stages"][0]["keep"] == {"drop": 0.3, "min": 10, "max": 30, "scale": "norm"}
    assert len(saved.per_query["ndcg@10"]) == len(saved.query_ids) and saved.latency["predicted_ms"] > 0
    assert cli.main(["compare", "first", "drop", *home]) == 0
    assert "Holm p" in capsys.readouterr().out
    assert cli.main(["compare", "first", "three", *home]) == 2
    assert "different query sets" in capsys.readouterr().err
    assert cli.main(["eval", *data, "--save", "no/slash", *home]) == 2
    # A name already saved is refused before any scoring (two people saving "the same preset" on a
    # shared data folder must not overwrite each other); --replace replaces it.
    before = (tmp_path / "experiments" / "first.json").read_bytes()
    assert cli.main(["eval", *data, "--pool-size", "20", "--save", "first", *home]) == 2
    err = capsys.readouterr().err
    assert "an experiment named 'first' is saved already" in err and "Evaluating" not in err
    assert (tmp_path / "experiments" / "first.json").read_bytes() == before
    assert cli.main(["eval", *data, "--pool-size", "20", "--save", "first", "--replace", *home]) == 0
    assert SavedExperiment.load(tmp_path / "experiments", "first").spec["pool_size"] == 20


@pytest.mark.parametrize("content, why", [
    # Infinity reads as "not measured" (older saves wrote NaN for an unmeasured latency): the
    # record is still refused whole, for what it lacks.
    ('{"name": "x", "grade": Infinity}', "no spec, cascade"),
    ("[" * 50_000, "nested deeper"),
    ('{"name": "x"}', "no spec, cascade"),
    ('{"name": "x", "spec": {}, "cascade": "", "dataset": {}, "query_ids": ["q1"], "per_query": {"ndcg@10": [1, 2]},'
     ' "latency": {}}', "not one value per query"),
    ('{"name": "x", "spec": {}, "cascade": "", "dataset": {}, "query_ids": ["q1"], "per_query": {"ndcg@10": ["a"]},'
     ' "latency": {}}', "not a number"),
    ('{"name": "x", "spec": [], "cascade": "", "dataset": {}, "query_ids": [], "per_query": {}, "latency": {}}',
     "spec is not a dict"),
    ("9" * 5000, "5,000 digits"),
])
def test_a_damaged_or_hostile_saved_experiment_is_one_line(tmp_path, content, why):
    (tmp_path / "x.json").write_text(content)
    with pytest.raises(CascadeError, match=why) as err:
        SavedExperiment.load(tmp_path, "x")
    assert len(str(err.value)) < 300 and "\n" not in str(err.value)


def test_two_saves_of_one_name_at_once_leave_one_whole_file(tmp_path):
    import threading

    results = []
    def save(i):
        e = SavedExperiment("same", {"i": i}, "", {}, [], {}, {})
        try:
            e.save(tmp_path)
            results.append(i)
        except CascadeError:
            pass
    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1
    assert SavedExperiment.load(tmp_path, "same").spec == {"i": results[0]}
    assert [p.name for p in tmp_path.iterdir()] == ["same.json"]   # no temporary file left
