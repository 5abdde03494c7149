"""Flask test-client fixtures: a real app on a real SQLite file, without the supervisor process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lh_support import RACERS
from load_harness.runs import service as run_service


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Barrier]:
    """Hold RACERS callers inside create_run, after any check that precedes the store, until all have arrived:
    what they race for is then the store's admission alone."""
    barrier = threading.Barrier(RACERS, timeout=60)
    original = run_service.check_target

    def gated(url: str, settings: Any) -> str:
        barrier.wait()
        return original(url, settings)

    monkeypatch.setattr(run_service, "check_target", gated)
    yield barrier
    barrier.abort()
