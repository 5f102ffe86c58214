"""Vector indexes in Qdrant: one index = one corpus x one model x vector settings.

* :mod:`.index` -- :class:`~.index.VectorIndex`: encode a corpus into Qdrant (resumable, with
  shipped vectors reused), search it, say whether it is complete;
* :mod:`.backends` -- where vectors live: the Qdrant engine in process (qdrant-edge) or a Qdrant
  server or cluster (qdrant-client), behind one small interface;
* :mod:`.repair` -- a damaged shard found on open, moved aside, listed and rebuilt;
* :mod:`.legacy` -- indexes of the old embedded store, converted on first use.

Imports ``data`` and ``models`` (the encoder); the Qdrant libraries load only when an index is
opened. Scorers that search an index (dense, learned sparse, an existing collection) sit above.
"""
