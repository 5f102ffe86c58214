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


def readme_commands() -> list[str]:
    """Every ``cascade ...`` command in the README's code blocks (continuation lines joined,
    comments and an environment prefix dropped)."""
    import re

    blocks, inside = [], None
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```") and inside is None:     # a block opens
            inside = []
        elif line.startswith("```"):                        # it closes
            blocks.append("\n".join(inside))
            inside = None
        elif inside is not None:
            inside.append(line)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip().removeprefix("$ ")
            for part in re.split(r"\s*(?:&&|\|\||;|\||&)\s*", line):   # & too: a command put in the background
                words = part.split()
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words.pop(0)
                if words[:1] == ["cascade"] and len(words) > 1:
                    commands.append(" ".join(words[1:]))
    return commands


def test_every_cli_command_in_the_readme_is_one_the_cli_takes():
    """The README's examples use flags the CLI has (a user copying one must not meet 'unrecognized
    arguments'): each is parsed by the CLI's own parser, nothing is run."""
    import shlex

    from cascade_cli.cli import build_parser

    commands = readme_commands()
    assert len(commands) >= 20
    refused = []
    for command in commands:
        try:
            build_parser().parse_args(shlex.split(command))
        except SystemExit:
            refused.append(command)
    assert refused == []
