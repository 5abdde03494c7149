"""Start a LoadHarness server as a child process and wait until it is ready.

Used by the benchmarks and the system tests, and handy for embedding a target in other tools' tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

BIN = Path(sys.executable).parent / "load-harness"
# Variables that belong to a parent server must not leak into a child one.
_PARENT_ONLY = ("PROMETHEUS_MULTIPROC", "LOAD_HARNESS_", "API_KEY", "FLAGGER_TOKEN")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LaunchedServer:
    url: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20) -> float:
        """Seconds until /ready answered 200; raises with the server's log if it never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urlopen(self.url + "/ready", timeout=1) as response:  # noqa: S310 - our own loopback URL
                    if response.status == 200:
                        return time.monotonic() - started
            except (URLError, OSError):
                pass
            time.sleep(0.01)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def launch(
    workdir: Path,
    pod: str = "pod-a",
    workers: int = 1,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    port: int | None = None,
    address_as_options: bool = False,
) -> LaunchedServer:
    """Start `load-harness serve` on 127.0.0.1 and a free port (or `port`), with its database and log under
    `workdir`. The address goes in HOST and PORT, or with `address_as_options` in --host and --port only.

    `preexec` runs in the child before exec (for example, to enter a CPU-limited cgroup)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PARENT_ONLY) and k not in ("HOST", "PORT")}
    env.update(
        POD_NAME=pod,
        DATABASE_URL=database_url or f"sqlite:///{workdir / 'lh.db'}",
        ENVIRONMENT="local",
        LOG_FORMAT="json",
    )
    command = [str(BIN), "serve", "--workers", str(workers)]
    if address_as_options:
        command += ["--host", "127.0.0.1", "--port", str(port)]
    else:
        env.update(HOST="127.0.0.1", PORT=str(port))
    env.update(extra_env or {})
    log_path = workdir / f"server-{pod}-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
    return LaunchedServer(f"http://127.0.0.1:{port}", proc, env, log_path)
