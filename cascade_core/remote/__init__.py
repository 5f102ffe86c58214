"""Talking to servers: a JSON API asked with bounds and retries (:mod:`.client`), the rerank
protocols both sides speak (:mod:`.rerank`), and this project's own rerank server
(:mod:`.server`, ``cascade serve-model``).

Imports ``errors``, ``readback`` and ``models`` (the server scores with a cross-encoder); the
kinds that call servers (``llm``, ``rerank-api``) import this.
"""

from .client import JsonService
from .rerank import PROTOCOLS, BadAnswer, RerankProtocol

__all__ = ["PROTOCOLS", "BadAnswer", "JsonService", "RerankProtocol"]
