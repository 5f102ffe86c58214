"""Where cascade-explorer keeps its state: one data folder, moved with ``CASCADE_HOME``.

Inside it: ``scores.sqlite`` (the score store and cost records) and ``qdrant-edge/`` (the embedded
vector indexes: the Qdrant engine's shard folders, one per index; an older ``qdrant/`` folder of
qdrant-client's local mode is converted into it on first use). The default is per user: ``$XDG_DATA_HOME/cascade-explorer``, else
``~/.local/share/cascade-explorer``.

>>> import os; os.environ["CASCADE_HOME"] = "/tmp/cx-doc"; str(cascade_home())
'/tmp/cx-doc'
"""

from __future__ import annotations

import os
from pathlib import Path


def cascade_home() -> Path:
    explicit = os.environ.get("CASCADE_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cascade-explorer"
