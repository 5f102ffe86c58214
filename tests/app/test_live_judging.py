"""Judging on the Live page, on a dataset whose qrels grade 0/1 (SciFact's): a result judged 2 reads
"relevant" (not "partly relevant", as the merged 0/1 grade once did) with its own button lit, and
the latency Measure that follows scores the newly judged query instead of failing on it (the
dashboard walkthrough's two bugs)."""

import shutil

import pytest

from cascade_core.data import load_dataset
from cascade_core.judgments import JudgmentStore
from cascade_ui import session
from tests.app.conftest import page

SPEC = {"name": "bm25 only", "first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [], "final_k": 10}
QUERY = "stem cells differentiate into neurons"


@pytest.fixture
def binary_state(tiny_beir, tmp_path):
    folder = tmp_path / "live-binary"
    shutil.copytree(tiny_beir, folder)
    lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "corpus.jsonl").write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")   # a corpus of its own
    assert max(g for docs in load_dataset(folder, split="test").qrels.judgments.values() for g in docs.values()) == 1
    return {"dataset_source": {"path": str(folder), "split": "test", "fmt": "auto", "label": "binary", "stamp": ""},
            "spec": SPEC, "spec_version": 1}


def test_a_live_result_judged_relevant_reads_relevant_and_measure_scores_the_new_query(binary_state):
    at = page("live", binary_state)
    at.run()
    at.text_input(key="live-query").input(QUERY).run()
    at.button(key="live-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    first = at.dataframe[0].value["doc"].tolist()[0]
    at.button(key=f"live-judge-2-{first}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    ds = load_dataset(binary_state["dataset_source"]["path"], split="test")
    store = JudgmentStore.for_corpus(session.workspace().home, ds.corpus.fingerprint)
    [j] = store.history()
    assert (j.doc, j.grade) == (first, 2)
    captions = [c.value for c in at.caption]
    assert "relevant" in captions and "partly relevant" not in captions
    assert at.button(key=f"live-judge-2-{first}").proto.type == "primary"
    assert at.button(key=f"live-judge-1-{first}").proto.type == "secondary"

    at.number_input(key="live-n").set_value(3).run()
    at.button(key="live-measure").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[-1].value
    assert list(table.index) == ["p50", "p95", "p99"]
