"""Data page: files recognised by content, and "Name the files yourself" (same access checks as the path box)."""

from tests.app.conftest import page
from tests.app.rendered import shown

DOCS = "<DOC>\n<DOCNO>D1</DOCNO>\n<TEXT>Cats purr.</TEXT>\n</DOC>\n<DOC>\n<DOCNO>D2</DOCNO>\n<TEXT>Dogs.</TEXT>\n</DOC>\n"
TOPICS = "<top>\n<num> Number: 301\n<title> cats\n</top>\n<top>\n<num> Number: 302\n<title> dogs\n</top>\n"


def _trec(folder):
    folder.mkdir(parents=True)
    (folder / "news.trec").write_text(DOCS)
    (folder / "queries.trec").write_text(TOPICS)
    (folder / "qrels.txt").write_text("301 0 D1 1\n302 0 D2 1\n")
    return folder


def _load(path="", **named):
    at = page("data")
    at.run()
    at.radio(key="source").set_value("Folder or file path").run()
    at.text_input(key="path").input(str(path)).run()
    for role, p in named.items():
        at.text_input(key=f"named-{role}").input(str(p)).run()
    at.button(key="load").click().run()
    return at


def _captions(at):
    return " ".join(shown(c.value) for c in at.caption)


def test_topics_not_named_topics_are_recognised(tmp_path):
    at = _load(_trec(tmp_path / "c"))
    assert not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["queries"] == "2"
    assert "queries.trec: TREC topics (by content)" in _captions(at)


def test_named_files_without_a_folder(tmp_path):
    c = _trec(tmp_path / "c")
    at = _load(corpus=c / "news.trec", queries=c / "queries.trec", qrels=c / "qrels.txt")
    assert not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["judged queries"] == "2"
    assert "queries.trec: TREC topics (named explicitly)" in _captions(at)
    assert dict(at.session_state["dataset_source"]["files"])["qrels"] == str(c / "qrels.txt")


def test_named_file_overrides_the_folder(tmp_path):
    c = _trec(tmp_path / "c")
    (tmp_path / "one.tsv").write_text("302\tdogs\n")
    at = _load(c, queries=tmp_path / "one.tsv")
    assert not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["queries"] == "1"


def test_wrong_content_is_one_error(tmp_path):
    c = _trec(tmp_path / "c")
    at = _load(c, qrels=c / "news.trec")
    assert len(at.error) == 1
    assert f"{c / 'news.trec'}:1" in shown(at.error[0].value) and "holds TREC documents" in shown(at.error[0].value)


def test_named_file_outside_the_roots_is_refused(tmp_path):
    c = _trec(tmp_path / "c")
    at = _load(c, queries="/etc/hostname")
    assert len(at.error) == 1 and "Not opened" in at.error[0].value
