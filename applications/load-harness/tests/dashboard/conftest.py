"""Fixtures for the dashboard's view tests: an app on a real SQLite store, a CSRF-aware client, runs in that store."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import seed_run
from load_harness import limits as L

TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


class UiClient:
    """A test client that knows the page's CSRF token, as the browser (app.js) does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def refresh_token(self, path: str = "/ui/") -> str:
        page = self.client.get(path)
        match = TOKEN.search(page.get_data(as_text=True))
        assert match, f"no csrf meta on {path}: {page.status_code}"
        self.token = match.group(1)
        return self.token

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, htmx: bool = True, **kwargs: Any) -> Any:
        if not self.token:
            self.refresh_token()
        headers = {"X-CSRF-Token": self.token}
        if htmx:
            headers["HX-Request"] = "true"
        headers.update(kwargs.pop("headers", {}))
        return self.client.post(path, data=data or {}, headers=headers, **kwargs)


@pytest.fixture
def ui(app: Flask) -> UiClient:
    return UiClient(app.test_client())


# --- runs in the store, reported by the driver's own records --------------------------------------------

# 600 responses between 3.6 and 6.3 ms, 3 of them answering 500, over five seconds on two pods.
SAMPLE_LATENCIES_US = [3600 + (i * 37) % 2700 for i in range(600)]


@pytest.fixture
def stored_runs(app: Flask) -> dict[str, str]:
    """Two finished runs, "baseline" and "after tuning" (name → run id), each with a threshold that passed."""
    return {
        name: seed_run(app, SAMPLE_LATENCIES_US, name=name, errors=3, pods=("pod-a", "pod-b"), thresholds=["p99<500ms"])
        for name in ("baseline", "after tuning")
    }


@pytest.fixture
def form_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run bounds of 5000 req/s and 200 concurrent requests in limits.py, which the form reads when it renders."""
    monkeypatch.setattr(L, "DRIVER_RATE_MAX", 5000.0)
    monkeypatch.setattr(L, "DRIVER_CONCURRENCY_MAX", 200)
