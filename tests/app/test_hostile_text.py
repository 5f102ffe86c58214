"""Issue 24, point 4: a crafted ``?view=`` link, hostile document and query ids, titles and texts,
stage and spec names, and a typed query show as typed on every page, never as Markdown.

Each page runs on tests/hostile.py's dataset and cascade (BM25 steps: no model to load); every
string it hands Streamlit to render as Markdown is read by the model in tests/app/rendered.py.
"""

import base64
import json
import zlib

import pytest
from streamlit.testing.v1 import AppTest

from cascade_core.cascade import CascadeSpec
from cascade_ui import resume, view_link
from tests.app.conftest import REPO, STATE_KEYS, page
from tests.app.rendered import all_shown, markup_made, shown
from tests.hostile import HOSTILE, LABEL, QUERY, SPEC, query_id, write_hostile_beir


@pytest.fixture(scope="module")
def hostile(tiny_beir, tmp_path_factory):
    return write_hostile_beir(tmp_path_factory.mktemp("hostile") / "beir", tiny_beir)


def open_link(dataset: dict, spec: dict | None = SPEC) -> AppTest:
    """A new session opened with a link to ``dataset`` and ``spec``."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.query_params[view_link.PARAM] = view_link.encode(dataset, spec, 50.0)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def opened(hostile, app_environment):
    """The session a crafted link opens: the hostile dataset under the link's label, the hostile cascade.
    The data folder's last session is put back after (other tests' new sessions take it up)."""
    last = app_environment / resume.FILE
    saved = last.read_text() if last.exists() else None
    yield open_link({"path": str(hostile), "split": "test", "fmt": "auto", "label": LABEL})
    if saved is None:
        last.unlink(missing_ok=True)
    else:
        last.write_text(saved)


def assert_plain(at) -> None:
    assert not at.exception, at.exception
    assert markup_made(at) == []


def test_a_links_label_shows_as_typed_in_the_sidebar_heading_and_toast(opened):
    assert_plain(opened)
    assert f"Dataset: {LABEL}" in [shown(c.value) for c in opened.sidebar.caption]
    assert f"Cascade: {CascadeSpec.from_dict(SPEC).describe()}" in [shown(c.value) for c in opened.sidebar.caption]
    (toast,) = opened.toast
    assert shown(toast.value).startswith(f"Opened the view in the link: dataset {LABEL}; cascade ")
    assert LABEL not in toast.value   # the source is escaped; the text above is what a reader sees
    assert f"Validation report: {LABEL}" in [shown(h.value) for h in opened.subheader]


@pytest.mark.parametrize("label", [LABEL + "\n## Session expired", "x" * (view_link.MAX_LABEL_CHARS + 1),
                                   "Sign in\u202e nigeb", ["a list"]])
def test_a_link_whose_label_is_not_one_line_of_text_opens_nothing(hostile, label):
    # as a hand-made link would carry it: encode() leaves such a label out
    view = {"dataset": {"path": str(hostile), "split": "test", "label": label}, "spec": SPEC, "budget_ms": 50.0}
    crafted = base64.urlsafe_b64encode(zlib.compress(json.dumps(view).encode())).decode().rstrip("=")
    with pytest.raises(view_link.BadLink, match="label is not one line of plain text"):
        view_link.decode(crafted)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.query_params[view_link.PARAM] = crafted
    at.run()
    assert "dataset_source" not in at.session_state and "spec" not in at.session_state
    assert any("label is not one line of plain text" in shown(t.value) for t in at.toast)
    assert_plain(at)


def test_the_dashboard_never_writes_a_link_it_would_refuse(hostile):
    token = view_link.encode({"path": str(hostile), "label": "two\nlines"}, None, None)
    assert "label" not in view_link.decode(token)["dataset"]   # left out: the link opens the dataset


def carried(at) -> dict:
    return {key: at.session_state[key] for key in STATE_KEYS if key in at.session_state}


# What to press on a page after it is drawn: what it then says names the cascade's steps again. (Not
# Save on Experiments: a saved experiment on another dataset would stay in the tests' data folder.)
PRESS = {"tune": "tune-run"}


@pytest.mark.parametrize("name", ["data", "build", "present", "flow", "evaluate", "inspect", "tune", "doctor",
                                  "experiments"])
def test_every_page_shows_hostile_names_as_typed(opened, name):
    at = page(name, carried(opened))
    at.run()
    if name in PRESS:
        at.button(key=PRESS[name]).click().run()
    assert not at.error, [e.value for e in at.error]
    assert_plain(at)
    text = all_shown(at)
    assert f"Dataset: {LABEL}" in text
    if name in ("present", "flow", "evaluate", "inspect", "tune", "doctor"):   # the sidebar's cut-off sliders
        stages = [s["name"] for s in SPEC["stages"]]
        assert [shown(s.label) for s in at.sidebar.slider][1:3] == [f"{stage} keeps" for stage in stages]
    if name == "tune":   # the recommended cascade, in words
        assert "Recommended: bm25 -> " in text


def test_inspect_shows_a_dropped_documents_id_as_typed(opened):
    at = page("inspect", carried(opened))
    at.run()
    assert_plain(at)
    doc = at.selectbox(key=next(k for k in at.session_state if str(k).startswith("inspect-doc-"))).value
    assert any(shown(m.value).startswith(doc + " (grade") for m in at.markdown)
    assert f"Dropped: {doc}" in all_shown(at)


def test_the_judge_card_shows_ids_titles_and_texts_as_typed(opened):
    at = page("judge", carried(opened))
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert_plain(at)
    qid = at.selectbox(key="judge-query").value
    assert qid == query_id(0)
    text = all_shown(at)
    assert f"Query {qid}: {HOSTILE[0]} " in text   # the query's id and text
    card = next(c for c in at.caption if shown(c.value).startswith("Document "))
    doc = shown(card.value).removeprefix("Document ").split(";")[0]
    assert doc.rsplit("-", 1)[0] in [h.replace(" ", "_") for h in HOSTILE]
    at.button(key="judge-2").click().run()   # the toast quotes the document's id
    assert_plain(at)
    assert f"Saved: {doc} is relevant." in [shown(t.value) for t in at.toast]


def test_the_live_page_shows_a_typed_query_and_stage_names_as_typed(opened):
    at = page("live", carried(opened))
    at.run()
    at.text_input(key="live-query").input(QUERY).run()
    at.button(key="live-run").click().run()
    assert not at.error, [e.value for e in at.error]
    assert_plain(at)
    assert f"Query: {QUERY}" in [shown(h) for h in (m.help for m in at.metric) if h]
    assert any(shown(c.value).startswith(f"Query: {QUERY}. ") for c in at.caption)
    assert [shown(t.label) for t in at.tabs][2:] == [f"{s['name']} (" + shown(t.label).split(" (")[-1]
                                                     for s, t in zip(SPEC["stages"], at.tabs[2:])]
    at.text_input(key="live-query").input("another query").run()   # the results still say which query they are for
    assert f"The results below are for the query {QUERY}: press Run for the new one." in [shown(i.value) for i in at.info]
    assert_plain(at)
