"""The other ways of serving the app that ADR 0006 weighed, measured like ours (bench/slowclients.attack):
waitress, granian, uvicorn + a2wsgi, and gunicorn's ASGI worker + a2wsgi, each with 2 workers (waitress: one
process) and 16 threads for the app. They are not dependencies: they load from a directory given on the command
line (`pip install --target DIR ...`, see bench/slowclients.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from load_harness.bench.slowclients import HEADER_TIMEOUT_S, attack
from load_harness.server.launch import BIN, free_port

WSGI = "load_harness.server.wsgi:app"
ASGI = "load_harness.bench.a2wsgi_app:app"


def commands(port: int) -> dict[str, list[str]]:
    py, host = sys.executable, "127.0.0.1"
    header_ms = str(int(HEADER_TIMEOUT_S * 1000))
    address = ["--host", host, "--port", str(port)]
    return {
        "waitress": [py, "-m", "waitress", f"--listen={host}:{port}", "--threads=16", WSGI],
        "granian": [
            *[py, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", "16"],
            *["--http1-header-read-timeout", header_ms, *address, WSGI],
        ],
        "uvicorn_a2wsgi": [py, "-m", "uvicorn", "--workers", "2", "--log-level", "warning", *address, ASGI],
        "gunicorn_asgi_a2wsgi": [
            *[py, "-m", "gunicorn", "-k", "gunicorn.workers.gasgi.ASGIWorker", "-w", "2"],
            *["-b", f"{host}:{port}", ASGI],
        ],
    }


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            with urlopen(url + "/health", timeout=1) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return
        except (URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"not healthy after {timeout} s")


def measure(name: str, packages: Path) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOAD_HARNESS_", "PROMETHEUS"))}
        (Path(tmp) / "prometheus").mkdir()
        env.update(
            # Metrics in multiprocess mode, as under `serve`: without it the app's per-request cost is lower.
            PROMETHEUS_MULTIPROC_DIR=str(Path(tmp) / "prometheus"),
            PYTHONPATH=str(packages),
            DATABASE_URL=f"sqlite:///{tmp}/lh.db",
            POD_NAME="alternative",
            ENVIRONMENT="local",
            PORT=str(port),
        )
        subprocess.run([str(BIN), "db", "upgrade"], env=env, capture_output=True, check=True)
        with (Path(tmp) / "server.log").open("wb") as log:
            proc = subprocess.Popen(
                commands(port)[name], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            return attack(url, proc.pid)
        except (RuntimeError, OSError) as exc:
            return {"error": str(exc), "log": (Path(tmp) / "server.log").read_text(errors="replace")[-600:]}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def measure_all(packages: Path) -> dict[str, Any]:
    return {name: measure(name, packages) for name in commands(0)}
