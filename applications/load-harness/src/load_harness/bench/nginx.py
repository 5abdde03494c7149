"""A throwaway nginx for the driver's benchmark and tests: own prefix, pid file, logs and free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path
from types import TracebackType

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """A throwaway nginx (own prefix, pid, logs, port) for tests and benchmarks."""

    def __init__(self, server_body: str, extra_http: str = "", keepalive_requests: int = 1000, workers: int = 1):
        self.server_body, self.extra_http = server_body, extra_http
        self.keepalive_requests, self.workers = keepalive_requests, workers
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        if not Path(NGINX).exists():
            raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
        self._dir = tempfile.TemporaryDirectory(prefix="lh-nginx-")
        prefix = self._dir.name
        os.chmod(prefix, 0o755)  # noqa: S103 -- nginx workers run as nobody and must reach the temp paths
        self.port = free_port()
        temps = " ".join(f"{k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = textwrap.dedent(
            f"""
            worker_processes {self.workers};
            pid {prefix}/nginx.pid;
            error_log {prefix}/error.log warn;
            events {{ worker_connections 16384; }}
            http {{
              access_log off;
              {temps}
              keepalive_requests {self.keepalive_requests};
              {self.extra_http}
              server {{ listen 127.0.0.1:{self.port} reuseport; {self.server_body} }}
            }}
            """
        )
        Path(prefix, "nginx.conf").write_text(conf)
        self._proc = subprocess.Popen(
            [NGINX, "-p", prefix, "-c", f"{prefix}/nginx.conf", "-e", f"{prefix}/error.log", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._dir is not None:
            self._dir.cleanup()


STATIC = 'location / { return 200 "ok\\n"; }'
