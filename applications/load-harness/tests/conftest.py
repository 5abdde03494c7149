"""Shared fixtures for LoadHarness tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lh_support import RunningServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path)
    yield running
    running.stop()
