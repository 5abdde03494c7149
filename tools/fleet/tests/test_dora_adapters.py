"""`fleet dora from-gh` and `from-flagger` on fixtures shaped like real `gh api` and `kubectl` output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fleet import exits
from fleet.dora import app
from typer.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "dora"
GH = FIXTURES / "gh"
HOUR = 3600.0


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def events_of(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    events: list[dict[str, Any]] = json.loads(result.stdout)["events"]
    return events


def test_deployments_and_statuses_become_deployment_events() -> None:
    result = run(
        "from-gh",
        "--deployments", str(GH / "deployments.json"),
        "--statuses-dir", str(GH / "statuses"),
        "--environment", "production",
    )  # fmt: skip
    deployments = {e["id"]: e for e in events_of(result) if e["type"] == "deployment"}
    assert set(deployments) == {f"gh-deployment-{i}" for i in (1001, 1002, 1003, 1007, 1008)}
    # The latest terminal status decides; "inactive" (superseded later) does not undo a success.
    assert deployments["gh-deployment-1003"]["status"] == "success"
    assert deployments["gh-deployment-1003"]["deployed_at"] == "2026-02-03T12:00:00Z"
    assert deployments["gh-deployment-1002"]["status"] == "failure"
    assert deployments["gh-deployment-1007"]["status"] == "failure", "an `error` status is a failed deployment"
    assert deployments["gh-deployment-1001"]["sha"] == "1" * 40
    assert deployments["gh-deployment-1001"]["url"] == "https://github.com/acme/platform/actions/runs/9001/job/90011"
    assert deployments["gh-deployment-1001"]["source"] == "github-deployments"
    skipped = " ".join(result.stderr.split())
    assert "deployment 1004: not finished" in skipped
    assert "deployment 1006: no statuses file" in skipped


def test_workflow_runs_across_concatenated_pages() -> None:
    result = run(
        "from-gh",
        "--workflow-runs", str(GH / "workflow-runs.json"),
        "--workflow", "deploy.yml",
        "--branch", "main",
    )  # fmt: skip
    events = events_of(result)
    assert [(e["id"], e["status"]) for e in events] == [("gh-run-9001", "success"), ("gh-run-9002", "failure")]
    first = events[0]
    assert first["environment"] == "production"
    assert first["deployed_at"] == "2026-02-01T10:05:00Z"
    assert first["commit_at"] == "2026-02-01T08:00:00Z"
    assert first["source"] == "github-actions"
    skipped = " ".join(result.stderr.split())
    assert "run 9004: completed/cancelled" in skipped
    assert "run 9005: in_progress/None" in skipped


def test_workflow_filter_matches_name_too() -> None:
    result = run("from-gh", "--workflow-runs", str(GH / "workflow-runs.json"), "--workflow", "CI")
    assert [e["id"] for e in events_of(result)] == ["gh-run-9003"]


def test_commits_use_the_committer_date() -> None:
    result = run(
        "from-gh",
        "--deployments", str(GH / "deployments.json"),
        "--statuses-dir", str(GH / "statuses"),
        "--commits", str(GH / "commits.json"),
    )  # fmt: skip
    commits = {e["sha"]: e["at"] for e in events_of(result) if e["type"] == "commit"}
    assert commits["2" * 40] == "2026-02-03T09:00:00Z"  # committer (merge) date, not the author's 02-02
    assert len(commits) == 4


def test_flagger_canary_failure_becomes_one_rollback() -> None:
    result = run("from-flagger", "--events", str(FIXTURES / "flagger" / "events.json"))
    (rollback,) = events_of(result)
    assert rollback == {
        "type": "rollback",
        "source": "flagger",
        "at": "2026-02-03T12:30:00Z",
        "environment": "production",
        "target": "apps/load-harness",
        "id": "e1000000-0000-4000-8000-000000000005",
        "detail": "Rolling back load-harness.apps failed checks threshold reached 5",
    }


def test_end_to_end_github_plus_flagger(tmp_path: Path) -> None:
    gh, flagger = tmp_path / "gh.json", tmp_path / "flagger.json"
    result = run(
        "from-gh",
        "--deployments", str(GH / "deployments.json"),
        "--statuses-dir", str(GH / "statuses"),
        "--commits", str(GH / "commits.json"),
        "--environment", "production",
        "--out", str(gh),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"commit": 4, "deployment": 5}
    assert len(summary["skipped"]) == 2
    assert run("from-flagger", "--events", str(FIXTURES / "flagger/events.json"), "--out", str(flagger)).exit_code == 0

    result = run("compute", "--events", str(gh), "--events", str(flagger), "--now", "2026-03-01T00:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    prod = json.loads(result.stdout)["environments"]["production"]
    # 1001 ok, 1002 failed, 1003 ok then rolled back by Flagger, 1007 error, 1008 ok.
    assert prod["deployments"] == {"total": 5, "successful": 3, "failed": 3, "rollbacks": 1}
    assert prod["change_failure_rate"] == 0.6
    assert prod["deployment_frequency_per_day"] == 0.1
    # Lead times 2 h (1001), 3 h (1003), 0.5 h (1008): median 2 h, p90 2.8 h.
    assert prod["lead_time_seconds"]["median"] == 2 * HOUR
    assert prod["lead_time_seconds"]["p90"] == pytest.approx(2.8 * HOUR)
    # Restore: 1003 by its rollback in 0.5 h; 1007 by 1008 in 24 h; 1002 by 1008 (1003 failed too) in 143 h.
    assert prod["time_to_restore_seconds"]["median"] == 24 * HOUR
    assert prod["time_to_restore_seconds"]["p90"] == pytest.approx(119.2 * HOUR)
    # A median of exactly one day is not "less than one day".
    assert prod["bands"] == {
        "deployment_frequency": "medium",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "time_to_restore": "medium",
    }


def test_adapter_usage_errors(tmp_path: Path) -> None:
    assert run("from-gh").exit_code == exits.BAD_INPUT
    both = run("from-gh", "--deployments", "a.json", "--statuses-dir", "d", "--workflow-runs", "r.json")
    assert both.exit_code == exits.BAD_INPUT
    result = run("from-gh", "--deployments", str(GH / "deployments.json"))
    assert result.exit_code == exits.BAD_INPUT
    assert "--statuses-dir" in result.stderr


def test_adapter_names_the_missing_field(tmp_path: Path) -> None:
    bad = tmp_path / "deployments.json"
    bad.write_text(json.dumps([{"sha": "abc", "environment": "production"}]))
    result = run("from-gh", "--deployments", str(bad), "--statuses-dir", str(tmp_path))
    assert result.exit_code == exits.BAD_INPUT
    assert "field 'id' is missing" in " ".join(result.stderr.split())


def test_adapter_rejects_a_naive_timestamp(tmp_path: Path) -> None:
    runs = tmp_path / "runs.json"
    run_obj = {"id": 1, "status": "completed", "conclusion": "success", "updated_at": "2026-02-01T10:00:00"}
    runs.write_text(json.dumps({"workflow_runs": [run_obj]}))
    result = run("from-gh", "--workflow-runs", str(runs))
    assert result.exit_code == exits.BAD_INPUT
    assert "run 1: deployed_at: Input should have timezone info" in " ".join(result.stderr.split())
