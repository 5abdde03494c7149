"""Fields that scripts written against the original API read (docs: /work/shared/reference/original-api.md).

`intensity` is the original's 1–10 level. ADR 0004 defines utilisation = intensity × 10 when only intensity is
given; the level reported back is the inverse, rounded half up and kept within 1–10, of the utilisation in force,
so a request's own intensity always reads back unchanged and a utilisation-only request still gets a level."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from load_harness.api.models import intensity_for

ORIGINAL_START_FIELDS = {
    "status", "job_id", "cores", "duration_seconds", "intensity", "message", "check_status", "stop_endpoint",
    "timestamp",
}  # fmt: skip
ORIGINAL_STATUS_JOB_FIELDS = {
    "job_id", "status", "cores_requested", "cores_active", "duration_seconds", "intensity", "started_at",
    "completed_at", "stopped_at",
}  # fmt: skip


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_version_has_a_top_level_timestamp(client: FlaskClient) -> None:
    before = datetime.now(UTC)
    version = client.get("/version").get_json()
    after = datetime.now(UTC)
    assert before <= parse_time(version["timestamp"]) <= after  # when the answer was given, like / and /health
    assert {"version", "environment", "build", "deployment"} <= set(version)
    assert {"timestamp", "python_version"} <= set(version["build"])
    assert {"pod_name", "namespace"} <= set(version["deployment"])


@pytest.mark.parametrize(
    ("body", "utilization", "intensity"),
    [
        ({"intensity": 3}, 30, 3),  # the original's way: the level in, the same level out
        ({"intensity": 10}, 100, 10),
        ({}, 100, 10),  # the default burns the whole share: the top level
        ({"utilization": 55}, 55, 6),  # half rounds up
        ({"utilization": 54}, 54, 5),
        ({"utilization": 1}, 1, 1),  # never below the original's minimum
        ({"utilization": 20, "intensity": 9}, 20, 2),  # utilization wins (ADR 0004); the level says what runs
    ],
)
def test_cpu_jobs_report_the_effective_intensity(
    client: FlaskClient, body: dict[str, int], utilization: int, intensity: int
) -> None:
    started = client.post("/load/cpu", json={"cores": 1, "duration_seconds": 5, **body})
    assert started.status_code == 200, started.get_data(as_text=True)
    view = started.get_json()
    assert set(view) >= ORIGINAL_START_FIELDS
    assert (view["utilization"], view["intensity"]) == (utilization, intensity)
    listed = client.get("/load/cpu/status").get_json()["jobs"][0]
    assert set(listed) >= ORIGINAL_STATUS_JOB_FIELDS
    assert listed["job_id"] == view["job_id"]
    assert (listed["utilization"], listed["intensity"]) == (utilization, intensity)
    assert client.get(f"/jobs/{view['job_id']}").get_json()["intensity"] == intensity
    client.post("/load/cpu/stop", json={})


def test_intensity_is_the_inverse_of_intensity_times_ten() -> None:
    assert [intensity_for(level * 10) for level in range(1, 11)] == list(range(1, 11))
    assert {intensity_for(u) for u in range(1, 101)} == set(range(1, 11))
    levels = [intensity_for(u) for u in range(1, 101)]
    assert levels == sorted(levels)  # more utilisation never reads as a lower level
