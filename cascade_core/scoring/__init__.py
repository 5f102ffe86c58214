"""Scoring, once: what a spec needs scored, how long it will take, and filling the store with it.

* :mod:`.workspace` -- the data folder's parts shared by every scorer (the score store, the vector
  store, loaded objects), and building a spec's steps from the scorer registry;
* :mod:`.ensure` -- :func:`~.ensure.ensure_scores` scores what the store lacks (first pass at its
  deepest, each stage over every candidate it can receive) and :func:`~.ensure.load_matrix` reads
  the stored scores back for simulation;
* :mod:`.estimate` -- before any long scoring: what is missing and how long it will take;
* :mod:`.calibrate` -- re-time every step on a sample of stored candidates (fresh costs).

The slow half of the library (see DESIGN.md): everything above it simulates from the store.
Imports ``cascade`` (specs), ``data``, ``models``, ``scorers``, ``vectors``, ``store``, ``latency``
and ``home``.
"""
