"""Start a real server binary on 127.0.0.1 for a test, wait until it answers, and always stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(argv: list[str], ready_url: str, name: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run `argv` until the block ends; enter the block once `ready_url` answers."""
    proc = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(ready_url, timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start ({ready_url})") from None
                time.sleep(0.1)
        time.sleep(0.2)
        if proc.poll() is not None:  # something else answered on the port and ours could not bind
            raise RuntimeError(f"{name} exited at start; its port was taken")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
