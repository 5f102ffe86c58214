"""What Streamlit shows for a Markdown source, modelled without a browser: the text a reader sees,
and every piece of markup the source would make (a link, an image, emphasis, a heading ...).

The model is markdown-it-py's CommonMark parser (with GFM tables and strikethrough, and raw HTML
on, so a tag in the source shows up as markup), plus what Streamlit 1.67's renderer adds on top,
read from its bundle (``static/js/StreamlitMarkdown.*.js``): LaTeX between ``$``, directives
(``:red[...]``), and the rewrites it makes inside text nodes after escapes are read (bare URLs,
e-mail addresses, emoji and icon shortcodes, its logo, arrows). The browser test
(tests/browser/test_hostile_text_in_chromium.py) checks the real thing.

>>> r = rendered("**Dataset:** see [this](https://evil.example) :red[now]")
>>> r.text, r.markup
('Dataset: see this :red[now]', ['strong', 'link', 'directive:red'])
>>> shown("\\\\[a\\\\]\\\\(b\\\\) x")
'[a](b) x'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

from cascade_ui.text import SPLIT

# text_join off: an escaped character stays a token of its own (text_special), so a "$" or ":" in a
# text token is one the source left unescaped.
_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).disable("text_join")
_CUT = "\ue000"   # where SPLIT stood: Streamlit ends the text node there (an empty <span>)

# Streamlit's rewrites inside one text node (remark-gfm's autolink literals, remark-emoji, its icon,
# logo and arrow rules), a little wider than its own where that is simpler.
REWRITES = {
    "url": re.compile(r"(https?://|www(?=\.))[-.\w]+", re.IGNORECASE),
    "email": re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+"),
    "shortcode": re.compile(r":[\w+-]+:"),          # emoji, :material_x: icons, :streamlit:
    "arrow": re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
}
# Syntax markdown-it does not know, in unescaped text: Streamlit's LaTeX (two $ in a paragraph may
# pair up) and directives (:name[...]).
_DIRECTIVE = re.compile(r":([A-Za-z][\w-]*)\[")
_PLAIN_TOKENS = {"paragraph_open", "paragraph_close", "inline", "text", "text_special", "softbreak", "hardbreak"}


@dataclass
class Rendered:
    text: str                                           # what a reader sees (paragraphs joined by newlines)
    markup: list[str] = field(default_factory=list)     # every token that is not plain text, in order


def rendered(markdown: str) -> Rendered:
    """The text and markup of ``markdown`` as Streamlit would render it (see the module's note)."""
    markup, paragraphs, words, dollars = [], [], [], 0
    nodes = [""]   # Streamlit's text nodes: ended by any other node (code, a break) and by a SPLIT
    for token in _MD.parse(markdown.replace(SPLIT, _CUT)):
        for t in [token, *(token.children or [])]:
            if t.type not in _PLAIN_TOKENS and not t.type.endswith("_close"):
                markup.append(t.type.removesuffix("_open"))
            if t.type == "text":
                markup += [f"directive:{name}" for name in _DIRECTIVE.findall(t.content)]
                dollars += t.content.count("$")
            if t.type in ("text", "text_special"):
                words.append(t.content)
                nodes[-1] += t.content
                continue
            if t.type == "softbreak":   # a line ending inside a text node
                words.append("\n")
                nodes[-1] += "\n"
                continue
            if t.type == "hardbreak":
                words.append("\n")
            elif t.type == "code_inline":   # inside code, ":small[]" is text like any other
                words.append(t.content.replace(_CUT, SPLIT))
            nodes.append("")
        if token.type in ("paragraph_close", "heading_close", "code_block", "fence"):
            if token.type in ("code_block", "fence"):
                words.append(token.content)
            paragraphs.append("".join(words))
            words = []
            markup += ["math"] if dollars > 1 else []
            dollars = 0
    for node in "".join(f"{n}{_CUT}" for n in nodes).split(_CUT):
        markup += [kind for kind, pattern in REWRITES.items() if pattern.search(node)]
    return Rendered("\n".join(paragraphs).replace(_CUT, ""), markup)


def shown(markdown: str) -> str:
    """The text a reader sees of ``markdown`` (an element's value in an AppTest)."""
    return rendered(markdown).text


# What a hostile string must never become on a page: a link, an image, raw HTML, LaTeX, a
# directive (the page's own query-term highlight aside) or text Streamlit rewrites into one.
FORBIDDEN = {"link", "image", "html_inline", "html_block", "math", "url", "email", "shortcode"}
OWN_DIRECTIVES = {"directive:orange-background"}
_BODIES = {"markdown", "caption", "error", "warning", "info", "success", "toast", "title", "header", "subheader",
           "metric"}


def markdown_sources(at) -> list[tuple[str, str]]:
    """Every string an AppTest's page hands Streamlit to render as Markdown, as (where, source):
    bodies of text, alerts, toasts and headings; labels and help of widgets, expanders, tabs, metrics
    and buttons; a metric's value and delta, radio options, a progress bar's text. (Select boxes'
    options, tables, code and JSON are shown as text: not collected.)"""
    found, seen, todo = [], set(), [at.main, at.sidebar, *at.toast]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        kind = getattr(node, "type", "")
        if kind in _BODIES:
            found.append((kind, str(node.value)))
        for name in ("label", "help", "delta"):
            value = getattr(node, name, None)
            if isinstance(value, str) and value:
                found.append((f"{kind} {name}", value))
        if kind == "radio":
            found += [("radio option", str(o)) for o in node.options]
        if kind == "progress":
            found.append(("progress", node.proto.text))
        todo += list(getattr(node, "children", {}).values())
    return found


def markup_made(at) -> list[tuple[str, str, list[str]]]:
    """(where, source, markup) of each Markdown source on the page that makes forbidden markup."""
    bad = []
    for where, source in markdown_sources(at):
        made = [m for m in rendered(source).markup
                if m in FORBIDDEN or (m.startswith("directive:") and m not in OWN_DIRECTIVES)]
        if made:
            bad.append((where, source, made))
    return bad


def all_shown(at) -> str:
    """Everything the page shows as Markdown, as text, one source a line."""
    return "\n".join(shown(source) for _, source in markdown_sources(at))
