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


def run_cli(*args, home, cwd=None, env=None):
    """The same command run in this process (``cascade_cli.main``): what :func:`cascade` returns
    (exit status, stdout, stderr), without a new interpreter and its model loads. For everything
    but what needs a process of its own (signals, two processes on one folder)."""
    import contextlib
    import io
    import traceback

    from cascade_cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({"CASCADE_HOME": str(home), "HF_HUB_OFFLINE": "1", **(env or {})})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:   # argparse: --help, a bad flag
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            except Exception:   # noqa: BLE001 - what a process would print as a traceback
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
