"""Issue 24 in the HTML report: a cascade whose spec and stage names are HTML (a link to elsewhere,
bold, a line break, a ``</script>`` that would end the figures' scripts), on tests/hostile.py's
dataset (hostile document and query ids), written as ``cascade report`` and the Tune page write it.
Every such text is escaped in the file: in the headings, the tables, the spec, and the figures'
JSON inside their script elements (which the Pareto chart of a tuning adds to).

What Chromium makes of the file: tests/browser/test_hostile_text_in_plotly.py.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from cascade_draw.text import plain
from tests.draw.test_hostile_text_in_charts import OWN_TAG, strings
from tests.hostile import LABEL, write_hostile_beir

LINK = '<a href="https://evil.example/x">go</a>'
SPEC_NAME = "</script><script>alert(1)</script> <!--<script> line<br>break"
STAGE_A = f"{LINK} <b>bold</b> %{{meta}} &lt;"
STAGE_B = '<span style="color:red">red</span> </script> <'
SPEC = {"name": SPEC_NAME, "first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 3, "stages": [
    {"name": STAGE_A, "scorer": {"kind": "bm25", "params": {"k1": 0.6}}, "keep": 10},
    {"name": STAGE_B, "scorer": {"kind": "bm25", "params": {"k1": 2.0, "b": 0.3}}, "keep": 5}]}
BUDGET_MS = 50.0

pytestmark = pytest.mark.slow   # scoring a dataset (BM25) and a tuning: over the fast tier's budget


def hostile_report(tiny_beir: Path, folder: Path) -> str:
    """The report of :data:`SPEC` on the hostile dataset, with a tuning (the Tune page's download)."""
    from cascade_core.analysis.experiment import Experiment
    from cascade_core.analysis.report import report_summary
    from cascade_core.cascade import CascadeSpec
    from cascade_core.data import load_dataset
    from cascade_core.scoring.workspace import Workspace
    from cascade_core.tuning import best_within_budget, grid_search, pareto_front, tuning_grid
    from cascade_draw.report import cascade_report

    data = write_hostile_beir(folder / "beir", tiny_beir)
    spec = CascadeSpec.from_dict(SPEC)
    ws = Workspace(folder / "home")
    try:
        exp = Experiment(load_dataset(data, split="test"), spec, ws)
        exp.ensure_scores()
        result = exp.run(budget_ms=BUDGET_MS)
        tuned = grid_search(exp, tuning_grid(spec, values=2), BUDGET_MS)
        front = pareto_front(tuned.table["latency_ms"].to_numpy(), tuned.table["ndcg@10"].to_numpy())
        current = tuned.specs.index(spec) if spec in tuned.specs else None
        tuning = (tuned, front, current, best_within_budget(tuned), None, None)
        return cascade_report(result, exp, report_summary(result, exp, LABEL), tuning)
    finally:
        ws.close()


@pytest.fixture(scope="module")
def report(tiny_beir, tmp_path_factory) -> str:
    return hostile_report(tiny_beir, tmp_path_factory.mktemp("hostile-report"))


def scripts(text: str) -> list[str]:
    """The script elements' contents, as an HTML parser splits them (each ends at the first
    ``</script``, whatever JavaScript would call a string)."""
    return re.findall(r"<script>(.*?)</script", text, flags=re.S | re.I)


def test_no_markup_from_the_names_is_left_in_the_file(report):
    for name in (SPEC_NAME, STAGE_A, STAGE_B, LINK):
        assert name not in report, name
    for raw in ("<a href", "evil.example/x\">", "<span style=\"color:red", "<b>bold", "line<br>break",
                "alert(1)</script>", "<!--"):
        assert raw not in report, raw
    # one closing tag per script, and each script is ours: the plotly loader, then one per figure
    assert report.lower().count("</script") == report.lower().count("<script") == 1 + 6
    bodies = scripts(report)
    assert bodies[0].startswith("window.plotlyReady=")
    assert all(b.startswith("window.plotlyReady.then(") and b.endswith("});") for b in bodies[1:])


def test_the_names_are_in_the_file_escaped(report):
    """Not a vacuous pass: the names are there, as a browser (and Plotly) will show them typed."""
    # tables (a stage per row) and the spec: HTML escapes, which a browser reads back as the name
    cells = {html.unescape(c) for c in re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", report)}
    assert {STAGE_A, STAGE_B} <= cells
    (spec_yaml,) = re.findall(r"<pre>([^<]*)</pre>", report)
    assert f"name: {SPEC_NAME}" in html.unescape(spec_yaml)
    # the figures: JSON (read back as JavaScript reads it) holding Plotly's escapes
    texts = [t for fig in figures(report) for t in strings(fig)]
    for stage in (STAGE_A, STAGE_B):
        assert any(plain(stage) in t for t in texts), stage


def test_the_figures_carry_no_tag_from_the_names(report):
    figs = figures(report)
    assert len(figs) == 6   # funnel, Sankey, latency, recall funnel, recall curves, Pareto
    for fig in figs:
        texts = strings(fig["data"]) + strings({k: v for k, v in fig["layout"].items() if k != "template"})
        assert {t for text in texts for t in re.findall(r"<[^<>]*>?", OWN_TAG.sub("", text))} == set()


def figures(report: str) -> list[dict]:
    """Each figure's JSON, as the report's scripts hand it to Plotly."""
    return [json.loads(m) for m in re.findall(r"const f=(.*?);P\.newPlot\(", report)]
