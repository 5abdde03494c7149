"""The four keys from a hand-built event log, with every expected number worked out in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet.dora import app
from fleet.dora.bands import band
from fleet.dora.events import load_events
from fleet.dora.metrics import compute, parse_window, quantile
from typer.testing import CliRunner

FIXTURE = Path(__file__).parent / "fixtures" / "dora" / "events.json"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3600.0


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_production_over_30_days() -> None:
    report = compute(load_events([FIXTURE]), NOW, timedelta(days=30))
    prod = {m.environment: m for m in report.environments}["production"]
    # In the window (2026-01-30, 2026-03-01]: d1..d7 plus one rollback that matches no deployment = 8.
    # d0 is older and d8 is after --now.
    assert prod.deployments == 8
    # Successful: d1, d2 (later rolled back, but it reached production), d4, d5, d6.
    assert prod.successful == 5
    assert prod.deployment_frequency_per_day == 5 / 30
    # Lead times: d1 2 h, d2 3 h (commit events), d4 25 h (retry of d3's commit), d5 2 h (inline commit_at);
    # d6's commit is unknown. Sorted [2, 2, 3, 25] h: median 2.5 h, p90 = 3 h + 0.7 × 22 h = 18.4 h.
    assert prod.lead_time.samples == 4
    assert prod.lead_time_unknown == 1
    assert prod.lead_time.median == 2.5 * HOUR
    assert prod.lead_time.p90 == pytest.approx(18.4 * HOUR)
    # Failed: d2 (Flagger rollback), d3 and d7 (status failure), and the unattributed rollback = 4 of 8.
    assert prod.failed == 4
    assert prod.rollbacks == 2
    assert prod.change_failure_rate == 0.5
    # Restore: d2 → its rollback 30 min; d3 → d4 24 h; d7 → recovery event 6 h.
    # Sorted [0.5, 6, 24] h: median 6 h, p90 = 6 h + 0.8 × 18 h = 20.4 h.
    assert prod.time_to_restore.samples == 3
    assert prod.unrestored == 0
    assert prod.time_to_restore.median == 6 * HOUR
    assert prod.time_to_restore.p90 == pytest.approx(20.4 * HOUR)
    assert prod.bands == {
        "deployment_frequency": "high",  # 0.167/day: at least weekly, not daily
        "lead_time": "elite",  # 2.5 h < 1 day
        "change_failure_rate": "low",  # 50% > 15%
        "time_to_restore": "high",  # 6 h < 1 day
    }


def test_staging_is_computed_separately() -> None:
    report = compute(load_events([FIXTURE]), NOW, timedelta(days=30))
    staging = {m.environment: m for m in report.environments}["staging"]
    assert (staging.deployments, staging.successful, staging.failed) == (2, 2, 0)
    assert staging.deployment_frequency_per_day == 2 / 30
    # s1: 09:00 - 08:00 = 1 h; s2: 2026-02-04T09:00 - 2026-02-03T09:00 = 24 h. Median 12.5 h, p90 21.7 h.
    assert staging.lead_time.median == 12.5 * HOUR
    assert staging.lead_time.p90 == pytest.approx(21.7 * HOUR)
    assert staging.change_failure_rate == 0.0
    assert staging.time_to_restore.median is None
    assert staging.bands == {
        "deployment_frequency": "medium",
        "lead_time": "elite",
        "change_failure_rate": "elite",
        "time_to_restore": None,
    }


def test_events_after_now_do_not_exist_yet() -> None:
    now = datetime(2026, 2, 6, tzinfo=UTC)
    report = compute(load_events([FIXTURE]), now, timedelta(days=7), environment="production")
    (prod,) = report.environments
    # Window (2026-01-30, 2026-02-06]: d1, d2, d3. d3's fix (d4) lands after --now: not restored yet.
    assert (prod.deployments, prod.successful, prod.failed) == (3, 2, 2)
    assert prod.change_failure_rate == 2 / 3
    assert prod.deployment_frequency_per_day == 2 / 7
    assert prod.unrestored == 1
    assert prod.time_to_restore.median == 0.5 * HOUR
    assert prod.lead_time.median == 2.5 * HOUR
    assert prod.lead_time.p90 == pytest.approx(2.9 * HOUR)


def test_compute_command_json_matches() -> None:
    result = run("compute", "--events", str(FIXTURE), "--now", "2026-03-01T00:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["window"] == {"start": "2026-01-30T00:00:00+00:00", "end": "2026-03-01T00:00:00+00:00", "days": 30.0}
    prod = data["environments"]["production"]
    assert prod["deployments"] == {"total": 8, "successful": 5, "failed": 4, "rollbacks": 2}
    assert prod["change_failure_rate"] == 0.5
    assert prod["lead_time_seconds"]["median"] == 9000.0
    assert prod["time_to_restore_seconds"]["median"] == 21600.0
    assert prod["bands"]["change_failure_rate"] == "low"


def test_compute_command_human_output() -> None:
    result = run("compute", "--events", str(FIXTURE), "--now", "2026-03-01T00:00:00Z", "--environment", "production")
    assert result.exit_code == 0, result.output
    assert "DORA · production" in result.stdout
    assert "50.0%" in result.stdout
    assert "2h 30m" in result.stdout


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, "elite"), (0.99, "high"), (1 / 7, "high"), (1 / 30, "medium"), (0.03, "low"), (0.0, "low")],
)
def test_deployment_frequency_bands(value: float, expected: str) -> None:
    assert band("deployment_frequency", value) == expected


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("lead_time", 86_399, "elite"),
        ("lead_time", 86_400, "high"),  # "less than one day" is strict
        ("lead_time", 30 * 86_400, "low"),
        ("change_failure_rate", 0.05, "elite"),  # "5%" is an upper limit, inclusive
        ("change_failure_rate", 0.0501, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.16, "low"),
        ("time_to_restore", 3_599, "elite"),
        ("time_to_restore", 3_600, "high"),
        ("time_to_restore", 6 * 86_400, "medium"),
        ("time_to_restore", 7 * 86_400, "low"),
        ("time_to_restore", None, None),
    ],
)
def test_bands_at_their_edges(metric: str, value: float | None, expected: str | None) -> None:
    assert band(metric, value) == expected


def test_quantile_interpolates_linearly() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)


def test_parse_window() -> None:
    assert parse_window("30d") == timedelta(days=30)
    assert parse_window("12h") == timedelta(hours=12)
    assert parse_window("2w") == timedelta(weeks=2)
    for bad in ("30", "0d", "30m", "d", "-1d"):
        with pytest.raises(ValueError, match="window"):
            parse_window(bad)
