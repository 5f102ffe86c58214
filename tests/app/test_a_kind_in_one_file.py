"""A new stage kind is one class in one file: this one. Registered, it is in the CLI's help, the
CLI's ``--stage`` parsing, a whole ``cascade eval`` run, and the Build page, with no other edit."""

import json
import re

import numpy as np
import pytest

from cascade_core.scorers import Param, Scorer, ScorerConfig, register, unregister
from tests.app.conftest import page


class TitleOverlapScorer(Scorer):
    """Counts the query's words found in a document's title (a toy: fast, pointwise, no model)."""

    label = "title word overlap (a test kind)"
    takes_model = False
    parameters = (Param("weight", "number", 1.0, low=0, help="what each shared word is worth"),
                  Param("lowercase", "bool", True, help="compare words in lower case"))
    cost_shape = "per-query"

    def score(self, query, doc_ids):
        p = self.parse_params(self.config.params)
        norm = str.lower if p["lowercase"] else str
        words = set(re.findall(r"\w+", norm(query)))
        return np.array([p["weight"] * len(words & set(re.findall(r"\w+", norm(self.corpus[d].title))))
                         for d in doc_ids], dtype=float)


@pytest.fixture(scope="module", autouse=True)
def title_overlap_kind():
    register("title-overlap", "overlap")(TitleOverlapScorer)
    yield
    unregister("title-overlap")


def test_the_cli_lists_parses_and_runs_it(tiny_beir, tmp_path, capsys):
    from cascade_cli import main

    with pytest.raises(SystemExit) as done:
        main(["eval", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "title-overlap (or overlap): title word overlap (a test kind); no model; pointwise; cost per query" in out
    assert "weight (a number >= 0, default 1.0): what each shared word is worth" in out

    report = tmp_path / "r.json"
    assert main(["--home", str(tmp_path / "home"), "eval", "--dataset", str(tiny_beir), "--pool-size", "20",
                 "--stage", "overlap@5", "--json", str(report)]) == 0
    stages = json.loads(report.read_text())["stages"]
    assert [(s["name"], s["kind"]) for s in stages] == [("first pass", "bm25"), ("title-overlap", "title-overlap")]
    # The id derived from the declaration: kind, no model, every parameter.
    assert stages[1]["scorer"] == "title-overlap:-:lowercase=True,weight=1.0"
    assert stages[1]["latency_ms"] > 0


def test_the_build_page_offers_it_with_its_parameters(demo_state):
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    assert "title word overlap (a test kind)" in at.selectbox(key=f"kind-{v}-0").options
    at.selectbox(key=f"kind-{v}-0").set_value("title-overlap").run()
    assert not at.exception
    assert f"model-{v}-0" not in [t.key for t in at.text_input]   # no model box: it takes none
    at.number_input(key=f"param-{v}-0-title-overlap-weight").set_value(2.5).run()
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    scorer = at.session_state["spec"]["stages"][0]["scorer"]
    assert scorer == {"kind": "title-overlap", "params": {"weight": 2.5}}   # defaults left out
    assert ScorerConfig(**scorer).label == "title-overlap"
