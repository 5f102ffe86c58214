"""What leaves the tool for production: the in-Qdrant part of a cascade, runnable snippets, runs.

* :mod:`.qdrant` -- the first pass as one Qdrant Query API request (REST JSON and a qdrant-client
  function), exact or marked approximate, and checked against an embedded Qdrant engine;
* :mod:`.snippets` -- the spec as YAML, a Python snippet that reproduces the evaluation, TREC run
  files per step.

(DESIGN.md calls this layer ``deploy/``; it exports a cascade, it deploys nothing, hence the
name.) Imports ``analysis`` (the check runs an experiment), ``cascade``, ``fusion`` and the scorer
registry; the Qdrant engine loads only for a check.
"""
