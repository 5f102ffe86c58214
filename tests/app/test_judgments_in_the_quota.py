"""On a shared dashboard the judgment logs count in the uploads quota: a file (or a box) of queries
that does not fit adds nothing and says why in one line; what fits is added."""

import shutil

import pytest

from cascade_core.data import load_dataset
from cascade_core.serving import ServeSettings, UploadArea
from cascade_ui import access, session
from tests.app.conftest import page

SPEC = {"name": "bm25 only", "first_pass": {"kind": "bm25"}, "pool_size": 20, "stages": [], "final_k": 10}


@pytest.fixture
def shared_state(tiny_beir, tmp_path, monkeypatch):
    monkeypatch.setenv("CASCADE_SHARE", "1")
    monkeypatch.setenv("CASCADE_TOKEN", "a-token-long-enough-for-the-rule-0123")
    home = session.workspace().home
    # Room for about 3 KB more than the app tests' data folder holds now (uploads and logs together).
    used = UploadArea.for_home(home, ServeSettings.from_env()).used()
    monkeypatch.setenv("CASCADE_UPLOAD_QUOTA_MB", str((used + 3000) / 2**20))
    folder = tmp_path / "quota-corpus"
    folder.mkdir()
    lines = (tiny_beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "corpus.jsonl").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")   # a corpus of its own
    shutil.copy(tiny_beir / "queries.jsonl", folder / "queries.jsonl")
    access.server_token.clear()
    yield {"dataset_source": {"path": str(folder), "split": None, "fmt": "auto", "label": "quota", "stamp": ""},
           "spec": SPEC, "spec_version": 1}
    access.server_token.clear()


def test_queries_that_do_not_fit_the_quota_add_nothing(shared_state):
    fingerprint = load_dataset(shared_state["dataset_source"]["path"]).corpus.fingerprint
    log = session.workspace().home / "judgments" / f"{fingerprint}.jsonl"
    at = page("judge", shared_state)
    at.session_state[access.SIGNED_IN] = True
    at.run()
    assert not at.exception, at.exception
    many = "\n".join(f"a query about stem cells and their many uses number {i}" for i in range(100))
    at.text_area(key="judge-typed").input(many).run()
    at.button(key="judge-add").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "the uploads folder is full" in errors[0], errors
    assert not log.exists()   # all or none: not the first queries of the 100
    at.text_area(key="judge-typed").input("one short query").run()
    at.button(key="judge-add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "one short query" in log.read_text()
