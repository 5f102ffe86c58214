"""A page that scores on a Ray cluster it started: the cluster outlives the page's run.

Streamlit runs each page in a thread of its own, and a local Ray cluster's processes die with
the thread that started them; the second page run below would then wait on a cluster that is
gone (60 s, then an error). Both runs score a BM25 stage of their own on the cluster.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import page
from tests.app.rendered import shown


@pytest.mark.slow
def test_evaluate_scores_on_a_cluster_it_started_and_the_next_run_finds_it_alive(demo_state):
    ray = pytest.importorskip("ray")
    from cascade_core.cascade import CascadeSpec

    base = demo_state["spec"].to_dict()
    try:
        # Another stage each run, with parameters no other test uses (the app tests share one data
        # folder): something to score each time.
        for k1 in (1.37, 1.53):
            stage = {"scorer": {"kind": "bm25", "params": {"k1": k1}}, "keep": 5}
            spec = CascadeSpec.from_dict({**base, "stages": base["stages"] + [stage], "final_k": 5, "executor": "ray"})
            at = page("evaluate", {**demo_state, "spec": spec})
            at.run()
            assert not at.exception and not at.error, [e.value for e in at.error]
            said = [shown(c.value) for c in at.caption]
            assert any(c.startswith("Scored: bm25 on Ray (a local cluster started here): ") for c in said), said
    finally:
        ray.shutdown()
