r"""Text from files, links and visitors, shown by Plotly exactly as typed.

Plotly.js draws every text of a figure (titles, axis titles, tick labels, legend entries,
annotations, bar and point labels, hover labels) through a small HTML renderer of its own:
``<a href=...>`` becomes a link, ``<b>``, ``<i>``, ``<br>``, ``<sup>``, ``<sub>`` and
``<span style=...>`` are honoured, and a hovertemplate fills in ``%{...}`` placeholders. A stage
named ``<a href="https://evil.example/login">Session expired</a>`` would be a link in the
dashboard's legend; a query id with ``<br>`` would break a hover label in two.

:func:`plain` writes the characters that start markup as character references: ``&amp;``,
``&lt;``, ``&gt;``, and ``&#37;`` for ``%`` and ``&#36;`` for ``$``. Plotly looks for tags,
placeholders and LaTeX first and turns references back into characters last, as it draws the text,
so the reader sees the characters typed and none of them is syntax. Every text that comes from
data (step, stage and spec names, experiment names, query and document ids, fusion and profile
labels, metric names passed in) goes through it where a chart function receives it; the chart's
own words and markup (``<b>``, ``<br>``, ``<extra></extra>``) do not.

Escaping is one to one (``&`` is escaped too), so escaped category values stay distinct and every trace of
a chart, escaped alike, still lines up on them.

>>> print(plain('<a href="https://evil.example/x">go</a>'))
&lt;a href="https://evil.example/x"&gt;go&lt;/a&gt;
>>> print(plain("%{x} costs $5 & &lt; stays as typed"))
&#37;{x} costs &#36;5 &amp; &amp;lt; stays as typed
"""

from __future__ import annotations

# One pass over the text (str.translate), so no reference of ours is escaped again. Named
# references for the three Plotly knows by name; numeric ones (which it decodes too) for the rest.
_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;",
               "%": "&#37;",    # %{...} in a hovertemplate
               "$": "&#36;"}    # $...$ is LaTeX wherever a page has loaded MathJax
_TABLE = str.maketrans(_REFERENCES)


def plain(text: object) -> str:
    """``str(text)`` as Plotly text that draws exactly those characters (see the module).

    >>> plain("first pass"), plain(42), plain("a<br>b")
    ('first pass', '42', 'a&lt;br&gt;b')
    """
    return str(text).translate(_TABLE)
