"""Fixtures of the autoscaling tests: the recorded run and timeline (autoscaling/recorded.py)."""

from __future__ import annotations

import pytest
from autoscaling.recorded import Recording, load_recording


@pytest.fixture(scope="session")
def recording() -> Recording:
    return load_recording()
