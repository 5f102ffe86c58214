"""Issue 24, point 4: text from files, links and visitors is shown as typed, never as Markdown.

:func:`cascade_ui.text.literal` and :func:`cascade_ui.text.code` against a model of Streamlit's
renderer (tests/app/rendered.py), on the hostile strings the tester used and on generated text.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade_ui.text import SPLIT, code, literal
from tests.app.rendered import rendered

HOSTILE = [
    "[Session expired: sign in again](https://evil.example/login)",
    "![x](http://evil.example/p.png)",
    "<img src=http://evil.example/x>",
    ":red[alert] :blue-background[calm] :small[tiny] :material/home: :streamlit: :smile: :+1:",
    "`tick` ``two`` ```",
    "$x$ and $$y$$ cost $5",
    "**bold** __bold__ *it* _it_ ~~gone~~",
    "see https://evil.example/a, www.evil.example and me@evil.example",
    "<https://evil.example> <me@evil.example>",
    "# heading\n## heading\n- item\n* item\n+ item\n1. one\n2) two\n> quote\n---\n===\n| a | b |\n|---|---|",
    "    indented code\n\n\tand a tab\n\n```\nfence\n```",
    "a -> b <- c -- d >= e <= f ~= g <-> h",
    "&amp; &lt;b&gt; &#42; \\* \\",
    "[ref]: https://evil.example\n[ref]",
    "trailing backslash \\",
    "line one\r\nline two\rline three\n\n\nafter blank lines",
    "[^note] and [^note]: footnote",
    ":::warning\nbox\n:::",
]

# Pieces of Markdown and Streamlit syntax, so generated text hits the syntax often.
SYNTAX = ["[", "]", "(", ")", "![", "](", "http://", "https://", "www.", "@", ".example", ":", "smile", "+1",
          "material/", "material_", "streamlit", "red[", "-background[", "$", "$$", "`", "``", "*", "**", "_",
          "~~", "<", ">", "/", "-", "->", "<=", "#", "##", "\n", "\n\n", "\r", "    ", "\t", "1.", "2)", "!", "&",
          "&amp;", "&#42;", "\\", "|", "=", "+", "{", "}", '"', "'", " "]
TEXT = st.lists(st.one_of(st.sampled_from(SYNTAX), st.text(st.characters(exclude_characters="\x00",
                                                                           exclude_categories=["Cs"]),
                                                            max_size=8)), max_size=30).map("".join)


def squash(text: str) -> str:
    """Runs of whitespace as one space, none at the ends: what a web page shows of them (the model
    also drops whitespace control characters, such as a vertical tab, at a paragraph's end)."""
    return re.sub(r"\s+", " ", text).strip()


def assert_literal(text: str) -> None:
    r = rendered(literal(text))
    assert r.markup == [], (text, literal(text), r.markup)
    assert squash(r.text) == squash(text.replace("\r\n", "\n").replace("\r", "\n")), (text, literal(text), r.text)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_show_as_typed(text):
    assert_literal(text)


def test_lines_stay_lines():
    assert rendered(literal("one\ntwo\r\nthree")).text == "one\ntwo\nthree"


def test_only_empty_small_directives_are_added():
    # the one piece of Streamlit syntax literal() writes: an empty directive that ends a text node
    out = literal(":smile: http://x www.y a@b.c -> <=")
    assert re.findall(r"(?<!\\):[a-z-]+\[[^\]]*\]", out) == [SPLIT] * 6


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_any_text_shows_as_typed(text):
    assert_literal(text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_a_code_span_shows_any_text_as_typed(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    r = rendered(code(text))
    if ":material/" in text.replace("\n", " ") or not text:
        assert code(text) == literal(text.replace("\n", " "))
        return
    assert r.markup == ["code_inline"], (text, code(text), r.markup)
    assert r.text == text.replace("\n", " ")


@pytest.mark.parametrize("text, rewrite", [("https://evil.example/x", "url"), ("www.evil.example", "url"),
                                           ("me@evil.example", "email"), (":smile:", "shortcode"),
                                           ("a -> b", "arrow")])
def test_the_model_sees_what_escaping_alone_misses(text, rewrite):
    # Streamlit rewrites these after escapes are read: backslashes alone leave them (the splits are needed)
    escaped = "".join("\\" + c if c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" else c for c in text)
    assert rewrite in rendered(escaped).markup
    assert rendered(literal(text)).markup == []
