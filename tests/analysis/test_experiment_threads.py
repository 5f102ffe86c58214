"""One Experiment serves several dashboard sessions at once: readers never see a matrix mixed
with another matrix's relevance, and concurrent scoring never scores a pair twice."""

import threading

from cascade_core.analysis.experiment import Experiment
from cascade_core.cascade import CascadeSpec


def bm25_then_bm25(pool=30, keep=10):
    return CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": pool,
                                  "stages": [{"scorer": {"kind": "bm25"}, "keep": keep}], "final_k": 5})


def test_runs_stay_consistent_while_another_session_rescores(tiny_dataset, workspace):
    exp = Experiment(tiny_dataset, bm25_then_bm25(), workspace)
    exp.ensure_scores()
    expected = exp.run().evaluation.final.means["ndcg@10"]
    errors, seen = [], []

    def reader():
        try:
            for _ in range(40):
                seen.append(exp.run().evaluation.final.means["ndcg@10"])
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    def rescorer():
        for _ in range(40):
            exp.ensure_scores()  # stores nothing new, but drops the loaded matrix each time

    threads = [threading.Thread(target=reader), threading.Thread(target=reader), threading.Thread(target=rescorer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(seen) == 80 and set(seen) == {expected}


def test_two_sessions_scoring_at_once_score_each_pair_once(tiny_dataset, workspace):
    exp = Experiment(tiny_dataset, bm25_then_bm25(), workspace)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(exp.ensure_scores())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    scored = sorted(r.scored_pairs.get("bm25", 0) for r in reports)
    assert scored[0] == 0 and scored[1] > 0
