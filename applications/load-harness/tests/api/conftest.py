"""Flask test-client fixtures: a real app on a real SQLite file, without the supervisor process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from load_harness.app import create_app
from load_harness.settings import Settings
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade


def make_app(tmp_path: Path, **overrides: object) -> Flask:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(make_engine(url))
    settings = Settings(database_url=url, pod_name="test-pod", environment="local", **overrides)  # type: ignore[arg-type]
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


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
