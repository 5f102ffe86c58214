"""A judgment log with hostile, damaged or hand-edited lines: every reader skips the bad line (with
its number and why), keeps every good judgment (checked by count), and never raises; the CLI and the
pages say so once.

The cases are the ones a hostile tester found (issue 24): grades ``1e309``, ``Infinity``,
``-Infinity`` (Python's json reads them), 50,000 nested ``[``, grades off the scale (``7``, ``-3``,
``1e300``, ``true``), and Hypothesis-made lines beside them.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascade_core.data import load_dataset
from cascade_core.errors import CascadeError
from cascade_core.judgments import GRADES, JudgmentStore, Limits
from cascade_core.readback import Unreadable, loads
from tests.helpers import run_cli


def good(i: int, grade: int = 2) -> bytes:
    rec = {"op": "judge", "id": f"good{i}", "query": f"q{i}", "doc": f"d{i}", "grade": grade, "who": "ana",
           "at": "2026-01-01T00:00:00+00:00", "source": "human", "query_text": ""}
    return json.dumps(rec).encode()


def judge_line(**fields) -> bytes:
    rec = {"op": "judge", "id": "bad", "query": "qb", "doc": "db", "grade": 1, "who": "x", "at": ""}
    return (json.dumps(rec)[:-1] + "".join(f', "{k}": {v}' for k, v in fields.items()) + "}").encode()


HOSTILE = {
    "grade 1e309": judge_line(grade="1e309"),
    "grade Infinity": judge_line(grade="Infinity"),
    "grade -Infinity": judge_line(grade="-Infinity"),
    "grade NaN": judge_line(grade="NaN"),
    "50,000 nested [": b"[" * 50_000,
    "nested inside a record": judge_line(extra="[" * 5000 + "]" * 5000),
    "grade 7": judge_line(grade="7"),
    "grade -3": judge_line(grade="-3"),
    "grade 1e300": judge_line(grade="1e300"),
    "grade true": judge_line(grade="true"),
    "grade 2.5": judge_line(grade="2.5"),
    "grade as text": judge_line(grade='"2"'),
    "grade of 5,000 digits": judge_line(grade="9" * 5000),
    "an id that is a list": judge_line(doc='["d1"]'),
    "an empty document id": judge_line(doc='""'),
    "no grade": b'{"op": "judge", "id": "x", "query": "q", "doc": "d"}',
    "an unknown op": b'{"op": "drop_table", "id": "x"}',
    "not an object": b'[1, 2, 3]',
    "a number": b"2",
    "not UTF-8": b'{"op": "judge", "who": "\xff\xfe"}',
    "a megabyte line": b'{"op": "query", "query": "q", "text": "' + b"x" * 1_000_000 + b'"}',
    "prefer off the list": b'{"op": "prefer", "value": "mine"}',
    "undo with a number ref": b'{"op": "undo", "ref": 5}',
    "half a line": b'{"op": "judge", "id": "t", "query": "q1", "doc": "d3", "gra',
}


def write_log(path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_line_is_skipped_with_its_number_and_every_good_judgment_counts(tmp_path, case):
    path = tmp_path / "judgments" / "abc.jsonl"
    write_log(path, [good(1), good(2, 0), HOSTILE[case], good(3, 1)])
    store = JudgmentStore(path)
    assert store.qrels().judgments == {"q1": {"d1": 2}, "q2": {"d2": 0}, "q3": {"d3": 1}}
    assert len(store) == 3
    assert store.bad_lines == 1
    [skipped] = store.skipped
    assert skipped.number == 3 and skipped.reason
    note = store.skipped_note()
    assert note.startswith("1 line of the judgment log") and "line 3:" in note
    assert len(note) < 400, "a refused value is quoted cut, never whole"
    # Writing goes on: the next judgment is read back, the bad line stays where it was.
    store.judge("q4", "d4", 2, who="bo")
    assert len(JudgmentStore(path)) == 4 and JudgmentStore(path).bad_lines == 1


def test_a_hostile_line_appended_while_the_store_is_open_is_read_incrementally(tmp_path):
    path = tmp_path / "judgments" / "abc.jsonl"
    store = JudgmentStore(path)
    store.judge("q1", "d1", 2, who="ana")
    with open(path, "ab") as f:   # another process (or a person with an editor) appends
        f.write(HOSTILE["grade 1e309"] + b"\n" + HOSTILE["50,000 nested ["] + b"\n")
    store.judge("q2", "d2", 1, who="ana")
    assert len(store) == 2 and store.bad_lines == 2
    assert [s.number for s in store.skipped] == [2, 3]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                     max_leaves=20)
_field = st.sampled_from(["op", "id", "query", "doc", "grade", "who", "at", "source", "session", "ref", "text",
                          "value", "answer", "prompt"])


@st.composite
def hostile_line(draw) -> bytes:
    """A line that is anything: raw bytes, any JSON value, or a judge record with one field set to
    anything (which may happen to be a valid judgment: it then counts as one)."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "words"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    if kind == "words":
        return draw(st.sampled_from([b"Infinity", b"-Infinity", b"NaN", b"1e309", b"[" * 2000, b"{" * 300,
                                     b"9" * 5000, b"true", b"null", b'{"op": "judge"}']))
    rec = json.loads(judge_line())
    rec["id"] = f"h{draw(st.integers(0, 10**6))}"
    rec["query"], rec["doc"] = "hq", "hd"   # a pair no good line grades
    rec[draw(_field)] = draw(_json)
    return json.dumps(rec).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(hostile_line(), min_size=1, max_size=6), n_good=st.integers(1, 5))
def test_any_lines_beside_good_ones_never_raise_and_lose_no_good_judgment(tmp_path_factory, bad, n_good):
    path = tmp_path_factory.mktemp("log") / "j.jsonl"
    lines = [good(i, i % 3) for i in range(n_good)]
    for i, line in enumerate(bad):
        lines.insert(i % (len(lines) + 1), line)
    write_log(path, lines)
    store = JudgmentStore(path)
    table = store.qrels(source=None).judgments
    # A mutated line changes one field of the pair ("hq", "hd"): every other pair is a good line's.
    pairs = {(q, d): g for q, docs in table.items() for d, g in docs.items() if q != "hq" and d != "hd"}
    assert pairs == {(f"q{i}", f"d{i}"): i % 3 for i in range(n_good)}
    assert all(g in GRADES and type(g) is int for docs in table.values() for g in docs.values())
    assert store.bad_lines == len(store.skipped) <= len(bad)
    store.skipped_note(), store.added_queries(), store.unparsed(), store.prefer, store.use   # none raises


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_loads_raises_only_unreadable(text):
    try:
        loads(text)
    except Unreadable:
        pass


def test_text_is_bounded_as_it_is_written(tmp_path):
    store = JudgmentStore(tmp_path / "j.jsonl", Limits(query_chars=50, log_bytes=2_000, queries_per_add=3))
    with pytest.raises(CascadeError, match="at most 50"):
        store.judge("q1", "d1", 2, who="ana", query_text="x" * 51)
    with pytest.raises(CascadeError, match="at most 3 are added together"):
        store.add_queries({f"t{i}": "text" for i in range(4)}, who="ana")
    added = 0
    with pytest.raises(CascadeError, match="judgment log of this corpus is full"):
        for i in range(100):   # ~110 bytes a line: the log fills before 20
            store.add_queries({f"u{i}": "y" * 45}, who="ana")
            added += 1
    assert 10 < added < 20 and store.size() <= 2_000
    assert len(store.added_queries()) == added   # everything acknowledged stays
    before = store.path.read_bytes()
    store2 = JudgmentStore(tmp_path / "k.jsonl", Limits(log_bytes=300))
    with pytest.raises(CascadeError, match="full"):   # all or none: nothing of a batch that does not fit
        store2.add_queries({"w1": "short", "w2": "y" * 45, "w3": "y" * 45}, who="ana")
    assert not store2.path.exists() and store.path.read_bytes() == before


def test_cli_says_once_which_lines_were_skipped_and_the_metrics_use_every_good_judgment(tiny_beir, tmp_path):
    fingerprint = load_dataset(tiny_beir, split="test").corpus.fingerprint

    def run(home, lines):
        write_log(home / "judgments" / f"{fingerprint}.jsonl", lines)
        res = run_cli("eval", "--dataset", str(tiny_beir), "--split", "test", "--first-pass", "bm25",
                      "--pool-size", "30", "--json", str(home / "out.json"), home=home)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        return res, json.loads((home / "out.json").read_text())

    _, before = run(tmp_path / "none", [])
    # A judgment that moves the numbers: the sample query's top unjudged result marked relevant.
    sample = before["sample_query"]
    doc = next(r["doc_id"] for r in sample["results"] if r["grade"] == 0)
    judged = json.dumps({**json.loads(good(0)), "query": sample["id"], "doc": doc}).encode()
    clean, with_judgment = run(tmp_path / "clean", [judged])
    hostile, with_hostile = run(tmp_path / "hostile", [HOSTILE["grade 1e309"], judged, HOSTILE["50,000 nested ["],
                                                       HOSTILE["grade 7"]])
    warnings = [w for w in hostile.stderr.splitlines() if "judgment log" in w]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 3 lines of the judgment log")
    assert "line 1:" in warnings[0] and "line 3:" in warnings[0]
    assert "judgment log" not in clean.stderr
    assert with_judgment["metrics"] != before["metrics"]
    assert with_hostile["metrics"] == with_judgment["metrics"]
