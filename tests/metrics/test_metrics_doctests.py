"""The docstring examples of the metrics package run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["__init__", "lists", "ndcg", "recall_precision", "rank", "ap", "oracle", "registry", "judged", "holes"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    name = "cascade_core.metrics" if module == "__init__" else f"cascade_core.metrics.{module}"
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
