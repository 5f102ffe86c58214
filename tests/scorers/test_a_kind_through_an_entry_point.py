"""A new stage kind is one file, and a third party's needs no edit of ours at all: this plugin, an
installed distribution naming its module in the ``cascade_explorer.kinds`` entry-point group, is
found by the CLI's help, runs in ``cascade eval``, is offered on the Build page, is guarded by the
shared dashboard's checks through its declared parameter types, and is refused by the Qdrant
export, which names the first passes that do run inside Qdrant.

The distribution is "installed" the way an installer leaves one: a ``.dist-info`` folder with
``entry_points.txt`` beside the package, on the import path (``PYTHONPATH`` for the CLI's process).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from cascade_core.errors import SpecError
from cascade_core.scorers import ScorerConfig, discover_kinds, registered, unregister
from cascade_core.serving import DataRoots, SpecRefused, check_shared_scorers
from tests.app.conftest import app_environment, demo_state, page  # noqa: F401 - the Build page test's fixtures

pytestmark = pytest.mark.slow   # every test here: over the fast tier's budget (README, Tests)

PLUGIN = textwrap.dedent('''
    """A plugin's kinds: a rerank stage and a first pass, each a registered class."""
    import re

    import numpy as np

    from cascade_core.params import Param
    from cascade_core.scorers import Retriever, Scorer, register


    @register("term-count", "terms")
    class TermCount(Scorer):
        """Query words found in a document (a toy: fast, pointwise, no model)."""

        label = "query terms in the document (a plugin's kind)"
        takes_model = False
        cost_shape = "per-query"
        parameters = (Param("lowercase", "bool", True, help="compare words in lower case"),
                      Param("endpoint", "url", "", help="a server it would call (for the sharing checks)"))

        def score(self, query, doc_ids):
            norm = str.lower if self.parse_params(self.config.params)["lowercase"] else str
            words = set(re.findall(r"\\w+", norm(query)))
            return np.array([len(words & set(re.findall(r"\\w+", norm(self.corpus[d].full_text))))
                             for d in doc_ids], dtype=float)


    @register("title-match", retriever=True)
    class TitleMatch(Retriever):
        """Documents ranked by the query words in their title (a first pass Qdrant does not run)."""

        label = "title words (a plugin's first pass)"
        takes_model = False

        def retrieve(self, query, k):
            words = set(re.findall(r"\\w+", query.lower()))
            scored = sorted(((len(words & set(re.findall(r"\\w+", self.corpus[d].title.lower()))), i, d)
                             for i, d in enumerate(self.corpus.ids)), key=lambda t: (-t[0], t[1]))[:k]
            return [d for _, _, d in scored], np.array([float(s) for s, _, _ in scored])
''')


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "cascade_demo_plugin.py").write_text(PLUGIN)
    info = root / "cascade_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cascade-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[cascade_explorer.kinds]\nterm-count = cascade_demo_plugin\n")
    return root


@pytest.fixture(scope="module")
def installed(plugin_path):
    """The plugin on this process's import path, found by the same discovery the library runs at import."""
    sys.path.insert(0, str(plugin_path))
    assert "term-count" in discover_kinds()
    yield
    sys.path.remove(str(plugin_path))
    unregister("term-count")
    unregister("title-match", retriever=True)
    sys.modules.pop("cascade_demo_plugin", None)


def cascade(*args, plugin_path, home):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")]),
           "CASCADE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cascade_cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_the_cli_finds_lists_and_runs_it(plugin_path, tiny_beir, tmp_path):
    help_text = cascade("eval", "--help", plugin_path=plugin_path, home=tmp_path).stdout
    assert "term-count (or terms): query terms in the document (a plugin's kind); no model; pointwise" in help_text
    assert "endpoint (a URL, default none): a server it would call" in help_text
    assert "title-match: title words (a plugin's first pass)" in help_text

    report = tmp_path / "r.json"
    res = cascade("eval", "--dataset", str(tiny_beir), "--first-pass", "title-match", "--pool-size", "20",
                  "--stage", "terms@5", "--json", str(report), plugin_path=plugin_path, home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    stages = json.loads(report.read_text())["stages"]
    assert [(s["name"], s["kind"]) for s in stages] == [("first pass", "title-match"), ("term-count", "term-count")]
    # the cache id derived from its declaration: kind, no model, every parameter that changes a score
    assert stages[1]["scorer"] == "term-count:endpoint=,lowercase=True"
    assert stages[0]["scorer"] == "first-pass:title-match"


def test_the_qdrant_export_refuses_it_and_names_what_qdrant_runs(plugin_path, tiny_beir, tmp_path):
    res = cascade("export", "--qdrant", str(tmp_path / "fp.json"), "--dataset", str(tiny_beir),
                  "--first-pass", "title-match", plugin_path=plugin_path, home=tmp_path / "home")
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: a title-match first pass does not run inside Qdrant; these do: bm25, dense, "
                                  "hybrid, sparse")
    assert not (tmp_path / "fp.json").exists()


def test_the_sharing_checks_guard_it_by_its_parameter_types(installed, tmp_path):
    roots, servers = DataRoots([tmp_path]), ["http://localhost:8080"]
    check_shared_scorers([ScorerConfig("term-count", params={"endpoint": "http://localhost:8080/"})], roots, servers)
    with pytest.raises(SpecRefused, match="calls only the servers its operator listed") as refused:
        check_shared_scorers([ScorerConfig("term-count", params={"endpoint": "http://169.254.169.254/"})],
                             roots, servers)
    assert "169.254" not in str(refused.value)
    with pytest.raises(SpecError):   # a kind that does not exist is never waved through
        check_shared_scorers([ScorerConfig("no-such-kind")], roots, servers)


def test_the_build_page_offers_it_with_its_parameters(installed, demo_state):
    assert "term-count" in registered() and "title-match" in registered(retriever=True)
    at = page("build", demo_state)
    at.run()
    v = at.session_state["spec_version"]
    assert "query terms in the document (a plugin's kind)" in at.selectbox(key=f"kind-{v}-0").options
    at.selectbox(key=f"kind-{v}-0").set_value("term-count").run()
    assert not at.exception
    assert f"model-{v}-0" not in [t.key for t in at.text_input]   # no model box: it takes none
    at.checkbox(key=f"param-{v}-0-term-count-lowercase").set_value(False).run()
    at.button(key="use").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["spec"].to_dict()["stages"][0]["scorer"] == {"kind": "term-count", "params": {"lowercase": False}}
