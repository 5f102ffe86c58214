"""Every analysis page says when a listwise stage is approximate under the current cut-offs, and
its "Rescore for these cut-offs" button makes the numbers exact (an LLM stage on a real HTTP
server process, tests/llm_server.py)."""

import pytest

from tests.app.conftest import page
from tests.llm_server import serve, stats

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)


def approximate_warnings(at):
    return [w.value for w in at.warning if "Approximate" in w.value]


@pytest.mark.parametrize("name", ["flow", "evaluate", "inspect", "doctor", "tune"])
def test_analysis_pages_show_the_approximate_warning(demo_state, name):
    with serve() as url:
        spec = {"first_pass": {"kind": "bm25"}, "pool_size": 20, "final_k": 5,
                "stages": [{"scorer": {"kind": "llm", "model": "overlap",
                                       "params": {"base_url": url, "mode": "listwise", "window": 5, "stride": 3}},
                            "keep": 8}]}
        at = page(name, {**demo_state, "spec": spec, "spec_version": 1000})
        at.run()   # the first visit scores what these cut-offs need: exact
        assert not at.exception and not approximate_warnings(at), [e.value for e in at.error]
        at.slider(key="cut-v1000-pool").set_value(12).run()
        (warning,) = approximate_warnings(at)
        assert "**llm**: 12 of 12 queries" in warning
        ranked = stats(url)["listwise"]
        at.button(key="rescore-v1000").click().run()
        assert not at.exception and not approximate_warnings(at)
        assert stats(url)["listwise"] > ranked   # the new lists were ranked by the server
