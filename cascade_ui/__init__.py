"""The dashboard's presentation layer: session state, Plotly figures, shared widgets.

It only calls :mod:`cascade_core`; it never computes a metric. (And cascade_core never draws.)
"""
