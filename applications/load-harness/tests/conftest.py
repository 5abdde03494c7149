"""Shared fixtures for LoadHarness tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from lh_support import RunningServer, make_app, start_server


@pytest.fixture
def app_factory(tmp_path: Path) -> Callable[..., Flask]:
    """Build an app with Settings overrides, e.g. app_factory(api_key="k")."""
    return lambda **overrides: make_app(tmp_path, **overrides)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path)
    yield running
    running.stop()
