r"""Text from files, links and visitors, shown by Streamlit exactly as typed.

Streamlit renders Markdown nearly everywhere it shows a string: ``st.markdown``, captions, alerts
(error, warning, info, success), toasts, titles, widget labels and ``help`` tooltips, button,
expander, tab, status and progress labels, radio options, metric labels, values and deltas.
(Select boxes' options, tables, ``st.code`` and ``st.json`` show text as it is.) A dataset's label,
a document id, a stage's name or a typed query put there as they are can become a link, an image
the browser fetches from anywhere, coloured text or a heading: ``[Session expired](https://evil.example)``
in a ``?view=`` link's label is a convincing link in the sidebar.

:func:`literal` makes any text Markdown that renders as its own characters; :func:`code` makes it
an inline code span (monospace) that does the same. Every such string passes through one of them
on its way to a Markdown-rendering element; the page's own words around it stay Markdown.

>>> print(literal("[Session expired](https://evil.example/login)"))
\[Session expired\]\(https\::small[]\/\/evil\.example\/login\)
>>> print(code("a`b"))
``a`b``
"""

from __future__ import annotations

import re
import string

# An empty ``:small[...]`` directive (Streamlit's own, rendered as an empty <span>): it shows
# nothing, but it ends the text node before it. Streamlit rewrites some patterns inside text nodes
# *after* escapes are read, so no backslash can stop them: bare URLs and e-mail addresses become
# links (GFM autolink literals), ``:smile:`` an emoji, ``:material_home:`` an icon, ``:streamlit:``
# its logo image, `` -> `` an arrow. One of these in the middle of a pattern breaks it.
SPLIT = ":small[]"

# Where a pattern that Streamlit rewrites in text nodes would start, split it (Streamlit 1.67's
# renderer: remark-gfm's autolink literals, remark-emoji, its own icon, logo and arrow rules):
_SPLIT_AT = re.compile(
    r"(?<=:)(?=[\w+\-/])"      # :name: shortcodes, :material_x: icons, :streamlit:, and the ':' of 'http://'
    r"|(?<=www)(?=\.)"         # www.example.com
    r"|(?<=.)(?=@)"            # name@example.com
    r"|(?<=-)(?=[->])"         # ->  --
    r"|(?<=<)(?=[-=])"         # <-  <=  (and <->)
    r"|(?<=[>~])(?==)",        # >=  ~=
    re.IGNORECASE | re.DOTALL)

# Every ASCII punctuation character may be backslash-escaped in Markdown, and escaped it is never
# syntax: no link, image, emphasis, code span, HTML tag, entity, heading, list, table, LaTeX ($) or
# Streamlit directive (:red[...]) can start. Escaping them all needs no list of what is syntax.
_ESCAPED = {c: "\\" + c for c in string.punctuation}
# Spaces and tabs at a line's start: four would start a code block, one cannot.
_LEADING_SPACE = re.compile(r"^[ \t]+", re.MULTILINE)
_WORD_HYPHEN = re.compile(r"(?<=[^\W_])-(?=[^\W_])")   # between two letters or digits


def literal(text: object) -> str:
    r"""Markdown that Streamlit renders as exactly the characters of ``text`` (``str(text)``).

    Guards against:

    - links, images and autolinks: ``[a](url)``, ``![a](url)``, ``<https://...>``, and bare URLs,
      ``www.`` addresses and e-mail addresses (which Streamlit links by itself);
    - emphasis, strikethrough and code: ``**b**``, ``_i_``, ``~~s~~``, backticks;
    - HTML tags and entities: ``<img src=...>``, ``&amp;``;
    - Streamlit's own syntax: colours and backgrounds (``:red[...]``, ``:blue-background[...]``),
      emoji shortcodes (``:smile:``), icons (``:material/home:``), ``:streamlit:``, LaTeX (``$x$``)
      and the arrows it draws for ``->``, ``<-``, ``--``, ``>=``, ``<=``, ``~=``;
    - blocks at a line's start: headings, lists, quotes, tables, fences, rules; indented code
      (spaces and tabs at a line's start become one space: a web page shows no more anyway).

    Line breaks stay line breaks (CRLF and CR become LF); runs of spaces show as one space, as
    any text in a web page. ``SPLIT`` directives show nothing (see :data:`SPLIT`).

    >>> print(literal("**bold** :red[alert] $x$ <img src=x>"))
    \*\*bold\*\* \::small[]red\[alert\] \$x\$ \<img src\=x\>
    >>> print(literal("mail me@evil.example or www.evil.example"))
    mail me:small[]\@evil\.example or www:small[]\.evil\.example
    >>> print(literal(":smile: a -> b"))
    \::small[]smile\: a \-:small[]\> b
    >>> literal("# title\n  - item")
    '\\# title  \n \\- item'
    >>> literal(42), literal("plain words stay as they are"), literal("bi-encoder keeps"), literal("a--b")
    ('42', 'plain words stay as they are', 'bi-encoder keeps', 'a\\-:small[]\\-b')
    """
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _LEADING_SPACE.sub(" ", text)
    splits = {m.start() for m in _SPLIT_AT.finditer(text)}
    # A hyphen inside a word ("bi-encoder") is never syntax (a list needs a line's start, an arrow
    # or a dash a second character): left as typed, since a widget's label is also its accessible
    # name, read out with any backslash in it.
    inside = {m.start() for m in _WORD_HYPHEN.finditer(text)}
    out = []
    for i, ch in enumerate(text):
        if i in splits:
            out.append(SPLIT)
        out.append(ch if i in inside else _ESCAPED.get(ch, ch))
    # Two spaces before a newline: a line break (a single newline would join the lines).
    return "".join(out).replace("\n", "  \n")


def code(text: object) -> str:
    """An inline code span (monospace) showing exactly ``text``, whatever backticks it holds.

    Inside a code span nothing is syntax, but a backtick ends it: the fence is one backtick longer
    than the longest run in the text. Newlines show as spaces. Streamlit
    turns ``:material/`` into ``:material_`` even inside code, so such text is shown with
    :func:`literal` (not monospace) instead.

    >>> print(code("doc-1"), code("`a``b"), code(" padded "))
    `doc-1` ``` `a``b ``` `  padded  `
    >>> code("see :material/home:") == literal("see :material/home:")
    True
    """
    text = str(text).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    if ":material/" in text:
        return literal(text)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    # Markdown takes one space off each end of a span that starts and ends with one (unless it is
    # all spaces); a padded text keeps its own, and a backtick at an end stays off the fence.
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"
