"""Fixtures for the dashboard's view tests: an app on a real SQLite store, a CSRF-aware client, a fake run source."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import make_app
from load_harness.api.problems import ProblemError, field_error, invalid
from load_harness.dashboard import runs

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
def app_factory(tmp_path: Path) -> Callable[..., Flask]:
    return lambda **overrides: make_app(tmp_path, **overrides)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def ui(app: Flask) -> UiClient:
    return UiClient(app.test_client())


# --- a fake run source with the interface the dashboard needs from the driver -----------------------------


def sample_detail(run_id: str, name: str = "", status: str = "completed", points: int = 5) -> runs.RunDetail:
    now = time.time()
    summary = runs.RunSummary(
        id=run_id,
        name=name,
        status=status,
        mode="open",
        url="http://127.0.0.1/load/cpu/work",
        target=20.0,
        created_at=now - 60,
        duration_s=30.0,
        finished_at=None if status == "running" else now - 30,
        expires_at=now + 25 if status == "running" else None,
        requests=600,
        errors=3,
        rps=20.0,
        p50_ms=4.2,
        p99_ms=18.5,
        thresholds_passed=True,
    )
    return runs.RunDetail(
        summary=summary,
        params={"mode": "open"},
        series=[runs.RunPoint(float(t), 20, 20, t % 2, 4.0 + t / 10, 15.0 + t) for t in range(points)],
        histogram=[(1.0, 10), (2.0, 100), (5.0, 400), (10.0, 80), (20.0, 10)],
        pods=[runs.PodShare("pod-a", 300, 1, 4.0, 17.0), runs.PodShare("pod-b", 300, 2, 4.4, 19.0)],
        status_codes={"200": 597, "500": 3},
        percentiles_ms={"p50": 4.2, "p90": 9.0, "p99": 18.5, "p99.9": 25.0, "max": 31.0},
        thresholds=[runs.Threshold("p99<500ms", True, "18.5 ms")],
    )


@dataclass
class FakeRunSource:
    details: dict[str, runs.RunDetail] = field(default_factory=dict)
    started: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    reject: ProblemError | None = None

    def limits(self) -> runs.RunLimits:
        return runs.RunLimits(rate_max=5000, concurrency_max=200, duration_min_s=1, duration_max_s=3600)

    def list_runs(
        self, *, status: str | None = None, mode: str | None = None, search: str | None = None, limit: int = 50
    ) -> list[runs.RunSummary]:
        found = [d.summary for d in self.details.values()]
        if status:
            found = [s for s in found if s.status == status]
        if mode:
            found = [s for s in found if s.mode == mode]
        if search:
            found = [s for s in found if search.lower() in (s.name + s.url).lower()]
        return found[:limit]

    def get(self, run_id: str) -> runs.RunDetail | None:
        detail = self.details.get(run_id)
        if detail is not None and detail.summary.status == "running":
            # A live run gains a second of data each time it is read, as a real one does each second.
            t = float(len(detail.series))
            point = runs.RunPoint(t, 20, 20, 0, 4.0 + t / 10, 15.0 + t)
            detail = replace(detail, series=[*detail.series, point])
            self.details[run_id] = detail
        return detail

    def validate(self, body: dict[str, Any]) -> None:
        if self.reject is not None:
            raise self.reject
        if body.get("url") and "127.0.0.1" not in body["url"]:
            raise invalid([field_error("url", "host is not in the allowlist (LOAD_TARGET_ALLOWLIST)", body["url"])])

    def start(self, body: dict[str, Any]) -> runs.RunSummary:
        self.validate(body)
        self.started.append(body)
        run_id = f"run_{len(self.started)}"
        detail = sample_detail(run_id, name=body.get("name") or "", status="running")
        self.details[run_id] = detail
        return detail.summary

    def stop(self, run_id: str) -> bool:
        detail = self.details.get(run_id)
        if detail is None or detail.summary.status != "running":
            return False
        self.stopped.append(run_id)
        self.details[run_id] = replace(detail, summary=replace(detail.summary, status="stopped"))
        return True


@pytest.fixture
def run_source(app: Flask) -> FakeRunSource:
    source = FakeRunSource()
    source.details["run_a"] = sample_detail("run_a", name="baseline")
    source.details["run_b"] = sample_detail("run_b", name="after tuning")
    runs.register_source(app, source)
    return source
