"""Where scoring runs: this process (``local``) or a Ray cluster (``ray``), a run setting of a spec.

Like the device, the executor changes where the work is done, never the scores: it is not part
of the scorer key, and scores made on a cluster land in the same store as local ones. The
setting is one string, so a spec file, ``--executor`` and the Build page say it the same way:

* ``local`` -- this process (the default);
* ``ray`` -- the Ray cluster named by ``RAY_ADDRESS`` if set, else a local one started for the
  run (on this machine's cores);
* ``ray:ADDRESS`` -- the cluster at ``ADDRESS``: ``auto`` (a cluster already running on this
  machine), ``HOST:6379`` (its head node), or a Ray Client address; ``ray://HOST:10001`` alone
  means the same as ``ray:ray://HOST:10001``.

>>> parse_executor("ray://head:10001")
'ray:ray://head:10001'
>>> Executor.parse("ray:auto"), Executor.parse("local").is_local
(Executor(kind='ray', address='auto'), True)
>>> Executor.parse("ray").label
'a Ray cluster (RAY_ADDRESS, else one started on this machine)'
>>> parse_executor("dask")
Traceback (most recent call last):
...
cascade_core.errors.SpecError: unknown executor 'dask': local, ray, ray:ADDRESS (e.g. ray:auto, ray:HOST:6379) or ray://HOST:10001
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ..errors import CascadeError, SpecError, require

EXECUTORS = ("local", "ray")
EXECUTOR_HELP = ("where scoring runs: local (this process) | ray (the cluster at $RAY_ADDRESS, else a local one "
                 "started for the run) | ray:ADDRESS (auto, HOST:6379) | ray://HOST:10001 (Ray Client); needs "
                 "pip install 'cascade-explorer[ray]'")


@dataclass(frozen=True)
class Executor:
    """A parsed executor setting: ``kind`` (local or ray) and, for Ray, the cluster's address
    (None: ``RAY_ADDRESS``, else a cluster started for the run)."""

    kind: str = "local"
    address: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Executor":
        raw = "local" if text is None or text == "" else str(text).strip()   # 0 is not "local"
        if raw.startswith("ray://"):
            return cls("ray", raw)
        kind, _, address = raw.partition(":")
        kind = kind.strip().lower()
        if kind not in EXECUTORS or (kind == "local" and address):
            raise SpecError(f"unknown executor {raw!r}: local, ray, ray:ADDRESS (e.g. ray:auto, ray:HOST:6379) "
                            "or ray://HOST:10001")
        return cls(kind, address.strip() or None)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def __str__(self) -> str:
        return self.kind if self.address is None else f"{self.kind}:{self.address}"

    def check(self) -> None:
        """Refuse now, before any work, a Ray setting where Ray is not installed (the line names
        the extra) or whose cluster cannot be reached (:func:`check_reachable`)."""
        if not self.is_local:
            require("ray", "scoring on a Ray cluster (--executor ray)")
            check_reachable(self.address)

    @property
    def label(self) -> str:
        """The setting for a sentence."""
        if self.is_local:
            return "this process"
        if self.address is None:
            return "a Ray cluster (RAY_ADDRESS, else one started on this machine)"
        return f"the Ray cluster at {self.address}"


def parse_executor(text: str | None) -> str:
    """The canonical string of an executor setting (refused with one line when unknown)."""
    return str(Executor.parse(text))


PROBE_TIMEOUT_S = 5   # a cluster address that does not accept a connection in this long is unreachable


def check_reachable(address: str | None) -> None:
    """Refuse, in one line and within :data:`PROBE_TIMEOUT_S` seconds, a cluster address whose host
    does not resolve or whose port takes no connection (``auto`` and none are this machine's).

    >>> check_reachable("127.0.0.1:1")
    Traceback (most recent call last):
    ...
    cascade_core.errors.CascadeError: cannot reach the Ray cluster at 127.0.0.1:1: connection refused (check the address, and that the cluster runs)
    """
    if address in (None, "auto", "local"):
        return
    if address.startswith(("http://", "https://")):
        raise CascadeError(f"{address} is a web address: a Ray cluster's is HOST:PORT (its head, port 6379 by "
                           "default) or ray://HOST:10001 (Ray Client), not its dashboard's")
    hostport = address.removeprefix("ray://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise CascadeError(f"the Ray cluster address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379, "
                           "ray://10.0.0.5:10001, or auto)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S) as sock:
            grpc = speaks_grpc(sock)
    except socket.gaierror:
        raise CascadeError(f"cannot reach the Ray cluster at {address}: no host {host!r} (check the address)") from None
    except ConnectionRefusedError:
        raise CascadeError(f"cannot reach the Ray cluster at {address}: connection refused "
                           "(check the address, and that the cluster runs)") from None
    except OSError as exc:
        raise CascadeError(f"cannot reach the Ray cluster at {address}: {exc.strerror or type(exc).__name__} "
                           f"(check the address, and that the cluster runs)") from None
    if not grpc:   # Ray would retry a port that is not its own for minutes
        raise CascadeError(f"something answers at {address}, but not a Ray cluster (it does not speak gRPC): check "
                           "the port (the head's, 6379 by default; Ray Client's, 10001)")


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"   # and an empty SETTINGS


def speaks_grpc(sock: socket.socket) -> bool:
    """Whether the server on ``sock`` speaks HTTP/2, as a Ray head (GCS) and Ray Client do (gRPC):
    it answers the client preface with a SETTINGS frame (frame type 4)."""
    try:
        sock.settimeout(PROBE_TIMEOUT_S)
        sock.sendall(HTTP2_PREFACE)
        head = b""
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                return False
            head += chunk
        return head[3] == 4
    except OSError:
        return False
