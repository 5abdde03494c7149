"""Start a real server binary on 127.0.0.1 for a test, wait until it answers, and always stop it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the sockets listening on ``port`` (Linux /proc); None where /proc cannot say."""
    inodes: set[str] = set()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    for table in tables:
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(fields[9])
    return inodes


def _listens(pid: int, port: int) -> bool:
    """True when ``pid`` (or a child of it) holds the socket listening on ``port``: the server that answered is
    ours, not another process that took the free port first. True where /proc cannot tell."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    try:
        owners = [str(pid), *Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        owners = [str(pid)]
    for owner in owners:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{owner}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{owner}/fd/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                        return True
    return False


@contextmanager
def running(argv: list[str], ready_url: str, name: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run `argv` until the block ends; enter the block once `ready_url` answers and the socket answering it is
    this process's (a port taken by someone else between free_port() and the bind is an error, not a race)."""
    port = urllib.parse.urlsplit(ready_url).port or 80
    proc = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Starting takes a second or two alone; the deadline only bounds how long a broken start hangs a test.
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start (code {proc.returncode}); was its port taken?")
            try:
                urllib.request.urlopen(ready_url, timeout=10).close()
                if _listens(proc.pid, port):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start ({ready_url})")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
