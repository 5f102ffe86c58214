"""What several test files share: the ``cascade`` command run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys


def cascade(*args, home, cwd=None, env=None):
    """``python -m cascade_cli ARGS`` in a subprocess, with its own data folder, offline."""
    env = {**os.environ, "CASCADE_HOME": str(home), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "cascade_cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)
