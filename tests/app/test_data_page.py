"""Data & index page: the demo, loading with a validation report, bad input, indexing."""

from tests.app.conftest import page
from tests.app.rendered import shown
from tests.conftest import IRDS_NAME as NAME


def test_starts_with_nothing_and_says_what_to_do():
    at = page("data")
    at.run()
    assert not at.exception
    assert any("Load a dataset" in i.value for i in at.info)


def test_demo_loads_sample_scores_and_sets_the_cascade(demo_state):
    spec = demo_state["spec"].to_dict()
    assert spec["first_pass"]["kind"] == "bm25" and spec["stages"][0]["scorer"]["kind"] == "bi-encoder"
    assert demo_state["dataset_source"]["label"] == "SciFact sample (bundled)"


def test_load_sample_shows_validation_counts(tiny_dataset):
    at = page("data")
    at.run()
    at.radio(key="source").set_value("Bundled sample").run()
    at.button(key="load").click().run()
    assert not at.error
    assert any("Loaded" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["documents"] == f"{len(tiny_dataset.corpus):,}"
    assert metrics["judged queries"] == f"{len(tiny_dataset.judged_queries):,}"
    # the sidebar names the dataset in the same run that loaded it (it used to lag one run)
    assert "**Dataset:** none yet" not in [c.value for c in at.sidebar.caption]


def test_bad_path_is_an_error_and_keeps_the_loaded_dataset(tmp_path):
    at = page("data")
    at.run()
    at.button(key="load").click().run()  # the bundled sample
    before = at.session_state["dataset_source"]
    bad = tmp_path / "broken"
    (bad / "qrels").mkdir(parents=True)
    (bad / "corpus.jsonl").write_text('{"_id": "1", "text": "fine"}\n{"_id": 2, "text": }\n')
    (bad / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    (bad / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    at.radio(key="source").set_value("Folder or file path").run()
    at.text_input(key="path").input(str(bad)).run()
    at.button(key="load").click().run()
    assert len(at.error) == 1
    assert "corpus.jsonl:2" in shown(at.error[0].value) and "still loaded" in shown(at.error[0].value)
    assert at.session_state["dataset_source"] == before


def test_build_index_then_listed(demo_state):
    at = page("data", demo_state)
    at.run()
    at.button(key="build-index").click().run()
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[-1].value
    assert "all-MiniLM-L6-v2" in set(table["model"]) and "yes" in set(table["complete"])


def test_unknown_model_is_a_clear_error(demo_state):
    at = page("data", demo_state)
    at.run()
    at.text_input(key="index-model").input("/no/such/model").run()
    at.button(key="build-index").click().run()
    assert len(at.error) == 1 and "does not exist" in at.error[0].value


def load_folder(folder, corpus_jsonl: str):
    """Write a one-query BEIR folder with this corpus, load it on the Data page; the AppTest."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(corpus_jsonl)
    (folder / "queries.jsonl").write_text('{"_id": "q", "text": "cells"}\n')
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\t1\t1\n")
    at = page("data")
    at.run()
    at.radio(key="source").set_value("Folder or file path").run()
    at.text_input(key="path").input(str(folder)).run()
    at.button(key="load").click().run()
    return at


def test_a_folder_edited_on_disk_is_read_again(tmp_path):
    folder = tmp_path / "mine"
    at = load_folder(folder, '{"_id": "1", "text": "cells divide"}\n')
    assert {m.label: m.value for m in at.metric}["documents"] == "1"
    with open(folder / "corpus.jsonl", "a") as f:
        f.write('{"_id": "2", "text": "neurons fire"}\n')
    at.button(key="load").click().run()
    assert not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["documents"] == "2"


def test_upload_errors_name_the_users_file_not_our_storage_folder(tmp_path):
    """Uploads are stored under <home>/uploads/<content hash>/: messages name the file only."""
    folder = tmp_path / "uploads" / "f44cb3da2b865672"
    at = load_folder(folder, '{"_id": "1", "text": "fine"}\n{"_id": 2, "text": }\n')
    assert len(at.error) == 1
    assert "corpus.jsonl:2" in shown(at.error[0].value) and str(folder) not in shown(at.error[0].value)


def test_a_collection_by_name_loads_from_the_path_box(irds_collection, tiny_dataset):
    """Issue 25: ``irds:NAME`` in the path box loads an ir_datasets collection (here one the test
    registers over local files); a name it does not know is one error, the dataset kept."""
    at = page("data")
    at.run()
    at.radio(key="source").set_value("Folder or file path").run()
    at.text_input(key="path").input(f"irds:{NAME}").run()
    at.button(key="load").click().run()
    assert not at.error and not at.exception, [shown(e.value) for e in at.error]
    assert {m.label: m.value for m in at.metric}["documents"] == f"{len(tiny_dataset.corpus):,}"
    assert at.session_state["dataset_source"]["path"] == f"irds:{NAME}"
    at.text_input(key="path").input("irds:no/such/collection").run()
    at.button(key="load").click().run()
    assert "ir_datasets knows no dataset 'no/such/collection'" in shown(at.error[0].value)
    assert at.session_state["dataset_source"]["path"] == f"irds:{NAME}"
