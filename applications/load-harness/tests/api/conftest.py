"""Flask test-client fixtures: a real app on a real SQLite file, without the supervisor process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import RACERS, make_app
from load_harness.api import runs as runs_api


@pytest.fixture
def app_factory(tmp_path: Path) -> Callable[..., Flask]:
    """Build an app with Settings overrides, e.g. app_factory(api_key="k")."""
    return lambda **overrides: make_app(tmp_path, **overrides)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Barrier]:
    """Hold RACERS callers inside create_run, after any check that precedes the store, until all have arrived:
    what they race for is then the store's admission alone."""
    barrier = threading.Barrier(RACERS, timeout=60)
    original = runs_api.check_target

    def gated(url: str, settings: Any) -> str:
        barrier.wait()
        return original(url, settings)

    monkeypatch.setattr(runs_api, "check_target", gated)
    yield barrier
    barrier.abort()
