"""Metrics with holes (issue 18, part 3) in every metrics table: Evaluate, Flow, the CLI report
(text and --json) and the HTML report show judged@10 and condensed nDCG@10 per step, as the
library computes them. Judgment caveats in proportion (issue 28, part 2): the sample's qrels list
relevant documents only (SciFact), so its top 10s are mostly unjudged by design: a caption says
so once per page, the judged@10 and condensed columns wait behind a switch, and no warning box
shows. Qrels that judge non-relevant documents keep the warning (tests/metrics).
"""

import pytest

from cascade_draw.tables import WORSE_STYLE
from tests.app.conftest import page
from tests.app.rendered import shown
from tests.app.test_analysis_pages import experiment_for

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def red_cells(element) -> set[tuple[int, int]]:
    """(row, column) of the cells a Styler painted in the warning red (Streamlit sends the CSS in
    the element's proto: ``#T_<id>_row0_col4, ... { color: #D62728; ... }``)."""
    import re

    red = WORSE_STYLE.split(";")[0].split(":")[1].strip()
    cells = set()
    for rule in element.proto.arrow_data.styler.styles.split("}"):
        if red in rule:
            cells |= {(int(r), int(c)) for r, c in re.findall(r"_row(\d+)_col(\d+)", rule)}
    return cells


@pytest.fixture
def evaluated(demo_state):
    exp, spec = experiment_for(demo_state, demo_state["spec"].to_dict())
    return exp, exp.run(spec)


def caption_texts(at) -> list[str]:
    return [shown(c.value) for c in at.caption]


def test_evaluate_says_positive_only_judgments_once_and_shows_the_hole_columns_when_asked(demo_state, evaluated):
    exp, result = evaluated
    ev = result.evaluation
    assert ev.mostly_unjudged(), "the sample's top 10s are mostly unjudged"
    assert not ev.judged_nonrelevant and ev.unjudged_warning() is None and ev.judgment_note()
    at = page("evaluate", demo_state)
    at.run()
    assert not at.exception
    assert caption_texts(at).count(ev.judgment_note()) == 1
    assert not any("unjudged" in shown(w.value).lower() for w in at.warning)
    assert not any("judged@10" in d.value.columns for d in at.dataframe)   # hidden until asked
    at.toggle(key="evaluate-holes").set_value(True).run()
    assert not at.exception
    element = next(d for d in at.dataframe if "judged@10" in d.value.columns)
    table = element.value
    for st in ev.steps + [ev.final]:
        assert table.loc[st.name, "judged@10"] == pytest.approx(st.means["judged@10"])
        assert table.loc[st.name, "ndcg_condensed@10"] == pytest.approx(st.means["ndcg_condensed@10"])
        assert table.loc[st.name, "ndcg@10"] == pytest.approx(st.means["ndcg@10"])
    # low by design here: not painted red (a calm caption above and red cells would contradict)
    assert not red_cells(element) and not red_cells(at.dataframe[-1])


def test_flow_table_says_it_once_and_shows_judged_and_condensed_ndcg_when_asked(demo_state, evaluated):
    exp, result = evaluated
    ev = result.evaluation
    at = page("flow", demo_state)
    at.run()
    assert not at.exception
    assert caption_texts(at).count(ev.judgment_note()) == 1
    assert "nDCG@10 condensed" not in at.dataframe[0].value.columns
    at.toggle(key="flow-holes").set_value(True).run()
    element = at.dataframe[0]
    table = element.value
    steps = {s.name: s for s in ev.steps + [ev.final]}
    for name in table.index:
        assert table.loc[name, "judged@10"] == pytest.approx(steps[name].means["judged@10"])
        assert table.loc[name, "nDCG@10 condensed"] == pytest.approx(steps[name].means["ndcg_condensed@10"])
    assert not {cell for cell in red_cells(element) if cell[1] == list(table.columns).index("judged@10")}


def test_cli_report_and_html_report_show_the_holes(evaluated, capsys):
    from cascade_cli.evaluate import print_report
    from cascade_core.analysis.report import eval_report, report_summary
    from cascade_core.scoring.ensure import ScoringReport
    from cascade_draw.report import cascade_report

    exp, result = evaluated
    ev = result.evaluation
    report = eval_report(exp, result, ScoringReport(), None)
    assert report["holes"]["mostly_unjudged"] == ev.mostly_unjudged()
    for stage, st in zip(report["stages"], ev.steps):
        assert stage["metrics"]["judged@10"] == pytest.approx(st.means["judged@10"])
        assert stage["metrics"]["ndcg_condensed@10"] == pytest.approx(st.means["ndcg_condensed@10"])
    print_report(report)
    out = capsys.readouterr().out
    assert "judged@10" in out and "nDCG'@10" in out
    assert f"Note: {ev.judgment_note()}" in out and "WARNING" not in out
    assert report["holes"]["note"] == ev.judgment_note() and report["holes"]["warning"] is None

    html = cascade_report(result, exp, report_summary(result, exp, "sample"))
    assert "relevant documents only" in html and "Mostly unjudged" not in html
    assert "ndcg_condensed@10" not in html   # the hole columns: only where the qrels judge non-relevant
