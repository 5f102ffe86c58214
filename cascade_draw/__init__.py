"""Drawing what the library computed: Plotly figures, tables for people, the one-file HTML report.

* :mod:`.charts` -- every figure of the dashboard (funnels, latency bars, recall curves, Pareto);
* :mod:`.tables` -- tables as a person reads them (counts with separators, changes in points,
  a change for the worse in red), shared by the pages and the HTML report;
* :mod:`.report` -- the HTML report (``cascade report`` and the Tune page's download);
* :mod:`.figure_check` -- the craft errors of a figure, found from its definition (a test runs it).

No Streamlit here, and nothing computed: the dashboard (:mod:`cascade_ui`) and the CLI's
``cascade report`` both draw through it. Needs Plotly (the ``ui`` extra).
"""
