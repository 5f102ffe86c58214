"""The README's "Use it as a library" example runs as written (a doctest over README.md)."""

import doctest
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_library_example_in_the_readme_runs(monkeypatch):
    monkeypatch.chdir(REPO)   # the example opens sample_data/ from the repository's root
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    failed, tried = doctest.testfile(str(REPO / "README.md"), module_relative=False, verbose=False,
                                     optionflags=doctest.ELLIPSIS)
    assert tried >= 8 and failed == 0
