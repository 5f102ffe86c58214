"""What several test files share: the ``cascade`` command run as a user runs it, and the dashboard
served as a user starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(tmp: Path, dataset: Path, *args: str, **env: str):
    """``streamlit run app.py`` from the repository (so its config.toml is read) on a free port, its
    own data folder under ``tmp`` and ``dataset`` as the sample, no ``CASCADE_`` setting of the
    caller's; ``args`` go to streamlit, ``env`` to the process. Yields (url, port, process, log
    path) once healthy; stops it after."""
    import pytest

    port = free_port()
    log_path = tmp / "streamlit.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    full_env = {**clean, "CASCADE_HOME": str(tmp / "home"), "CASCADE_SAMPLE_DATA": str(dataset),
                "HF_HUB_OFFLINE": "1", **env}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), "--browser.gatherUsageStats", "false", *args],
                                cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        host = args[args.index("--server.address") + 1] if "--server.address" in args else "127.0.0.1"
        url = f"http://{host}:{port}"
        try:
            deadline = time.time() + 90
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                        break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        pytest.fail(f"the app did not start: {log_path.read_text()[-2000:]}")
                    time.sleep(0.3)
            yield url, port, proc, log_path
        finally:
            stop(proc, 20)


@contextmanager
def server_process(argv: list[str], ready: str, what: str, env: dict | None = None):
    """Start a server process (``argv``) for a test; yield the first group of ``ready``, a pattern
    its first line of output matches once it listens (its URL or port); stop it on exit."""
    import re

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        found = re.search(ready, line)
        if not found:
            raise RuntimeError(f"{what} did not start: {line!r} {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}")
        yield found.group(1)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, grace_s: float = 10) -> None:
    """Ask a test's server process to stop; kill it when it has not after ``grace_s`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
