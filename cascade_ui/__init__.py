"""The dashboard: the session's state (:mod:`.session`) and its checked changes (:mod:`.state`), who
may use it and what it may open (:mod:`.access`), the view in the address bar, and the widgets
the pages share. Imports :mod:`cascade_core`, :mod:`cascade_draw` (the figures and tables) and
Streamlit; it never computes a metric (and the library never draws, nor imports this package).
"""
