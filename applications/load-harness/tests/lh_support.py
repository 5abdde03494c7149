"""Test support: real LoadHarness servers started through the console script, on 127.0.0.1 and a free port."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
from flask import Flask
from load_harness.app import create_app
from load_harness.server.launch import LaunchedServer, launch
from load_harness.settings import Settings
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade

# Cold start is well under a second on a quiet machine; this only bounds how long a broken start hangs a test.
READY_TIMEOUT_S = 60


# How many callers the race tests hold at a barrier before letting them all at the store at once.
RACERS = 8


@dataclass
class RunningServer(LaunchedServer):
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.post(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def start_server(
    tmp_path: Path,
    pod: str = "pod-a",
    workers: int = 1,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    wait: bool = True,
    preexec: Callable[[], None] | None = None,
) -> RunningServer:
    launched = launch(
        tmp_path, pod=pod, workers=workers, database_url=database_url, extra_env=extra_env, preexec=preexec
    )
    server = RunningServer(launched.url, launched.proc, launched.env, launched.log_path)
    if wait:
        server.wait_ready(timeout=READY_TIMEOUT_S)
    return server


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.05) -> bool:
    """Poll until ``predicate()`` is true; False at the deadline. The deadline is generous on purpose: it only
    bounds how long a broken test hangs, and a shared CI machine can stall any process for seconds. Checks on
    how fast something happened belong in the assertions, measured in what the code controls."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except (LookupError, requests.RequestException, psutil.Error, FileNotFoundError, ProcessLookupError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    """An app on a migrated SQLite file under `tmp_path`, with Settings overrides (no supervisor process)."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(make_engine(url))
    options: dict[str, Any] = {"database_url": url, "pod_name": "test-pod", "environment": "local", **overrides}
    app = create_app(Settings(**options))
    app.config["TESTING"] = True
    return app
