"""A local wake-up signal: web workers poke the supervisor after they write a job row, so a job starts or stops
within milliseconds instead of one poll interval. Polling the store remains the source of truth (it is what
reaches other replicas), so a lost datagram only costs latency."""

from __future__ import annotations

import contextlib
import os
import select
import socket
from pathlib import Path

SOCKET_NAME = "supervisor.sock"


def socket_path() -> Path | None:
    runtime = os.environ.get("LOAD_HARNESS_RUNTIME_DIR")
    return Path(runtime) / SOCKET_NAME if runtime else None


def wake() -> None:
    path = socket_path()
    if path is None:
        return
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.sendto(b"w", str(path))


class WakeupListener:
    def __init__(self, path: Path | None) -> None:
        self._sock: socket.socket | None = None
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(str(path))
            self._sock.setblocking(False)

    def wait(self, timeout: float) -> None:
        """Sleep until poked or until `timeout` passes; drain every pending poke."""
        if self._sock is None:
            select.select([], [], [], timeout)
            return
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                while True:
                    self._sock.recv(16)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
