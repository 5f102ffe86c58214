"""cascade_core: the library behind cascade-explorer.

Two halves that never mix (see DESIGN.md):

* scoring -- slow, cached, persistent (``scorers``, ``index``, ``store``, ``scoring``);
* simulation -- fast and pure (``cascade``, ``metrics``, ``latency``).

Nothing in this package imports Streamlit or draws anything.
"""

__version__ = "0.1.0"
