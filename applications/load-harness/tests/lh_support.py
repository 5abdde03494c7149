"""Test support: real LoadHarness servers started through the console script, on 127.0.0.1 and a free port."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from load_harness.server.launch import LaunchedServer, launch


@dataclass
class RunningServer(LaunchedServer):
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.post(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def start_server(
    tmp_path: Path,
    pod: str = "pod-a",
    workers: int = 1,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
) -> RunningServer:
    launched = launch(tmp_path, pod=pod, workers=workers, database_url=database_url, extra_env=extra_env)
    server = RunningServer(launched.url, launched.proc, launched.env, launched.log_path)
    if wait:
        server.wait_ready()
    return server


def wait_for(predicate: Callable[[], object], timeout: float = 10, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (LookupError, requests.RequestException):
            pass
        time.sleep(interval)
    return False
