"""The data folder's memory: every score and timing ever computed, and what made them.

* :mod:`.scores` -- the score store (SQLite): scores keyed by (scorer id, corpus, query, document),
  candidate lists of first passes and listwise stages, timed calls, scoring runs;
* :mod:`.provenance` -- what made a run's scores (model fingerprints, library versions, the
  machine), recorded with them and read back per step;
* :mod:`.damage` -- recognising a damaged SQLite file and moving it aside (never deleting it).

Imports the ground floor and :mod:`cascade_core.models` (for fingerprints); knows nothing of
scorers, specs or the simulation, which read and write through it.
"""
