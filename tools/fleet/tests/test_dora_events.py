"""Bad event files fail with exit 2 and a message that names the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fleet import exits
from fleet.dora import app
from typer.testing import CliRunner


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def write(tmp_path: Path, data: Any, name: str = "events.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def deployment(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "deployment",
        "id": "gh-deployment-1",
        "status": "success",
        "deployed_at": "2026-02-01T10:00:00Z",
        **overrides,
    }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (deployment(deployed_at="2026-02-01T10:00:00"), "events[1].deployed_at (deployment 'gh-deployment-1')"),
        (deployment(status="ok"), "events[1].status (deployment 'gh-deployment-1'): Input should be 'success'"),
        (deployment(colour="blue"), "events[1].colour (deployment 'gh-deployment-1'): Extra inputs are not permitted"),
        (deployment(id=""), "events[1].id"),
        (deployment(commit_at="2026-02-02T00:00:00Z"), "commit_at is after deployed_at"),
        ({"type": "deploy", "id": "x"}, "events[1] (deploy 'x'): Input tag 'deploy'"),
        ({"type": "rollback"}, "events[1].at (rollback): Field required"),
    ],
)
def test_invalid_event_names_the_field(tmp_path: Path, event: dict[str, Any], message: str) -> None:
    good = {"type": "commit", "sha": "abc1234", "at": "2026-02-01T00:00:00Z"}
    path = write(tmp_path, {"version": 1, "events": [good, event]})
    result = run("compute", "--events", str(path), "--now", "2026-03-01T00:00:00Z")
    assert result.exit_code == exits.BAD_INPUT
    flat = " ".join(result.stderr.split())
    assert f"{path}: " in flat
    assert message in flat


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    result = run("compute", "--events", str(tmp_path / "missing.json"))
    assert result.exit_code == exits.BAD_INPUT
    assert "cannot read" in " ".join(result.stderr.split())
    result = run("compute", "--events", str(write(tmp_path, "{not json")))
    assert result.exit_code == exits.BAD_INPUT
    assert "not JSON" in " ".join(result.stderr.split())


def test_bad_window_and_naive_now(tmp_path: Path) -> None:
    path = write(tmp_path, {"events": []})
    assert run("compute", "--events", str(path), "--window", "30 days").exit_code == exits.BAD_INPUT
    result = run("compute", "--events", str(path), "--now", "2026-03-01T00:00:00")
    assert result.exit_code == exits.BAD_INPUT
    assert "no timezone" in " ".join(result.stderr.split())


def test_files_merge_and_identical_duplicates_collapse(tmp_path: Path) -> None:
    a = write(tmp_path, {"events": [deployment()]}, "a.json")
    b = write(tmp_path, {"events": [deployment(), deployment(id="gh-deployment-2")]}, "b.json")
    result = run("compute", "--events", str(a), "--events", str(b), "--now", "2026-03-01T00:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["environments"]["production"]["deployments"]["total"] == 2


def test_conflicting_duplicates_are_an_error(tmp_path: Path) -> None:
    a = write(tmp_path, {"events": [deployment()]}, "a.json")
    b = write(tmp_path, {"events": [deployment(status="failure")]}, "b.json")
    result = run("compute", "--events", str(a), "--events", str(b))
    assert result.exit_code == exits.BAD_INPUT
    assert "deployment 'gh-deployment-1' also appears, differently" in " ".join(result.stderr.split())


def test_empty_log_reports_nothing(tmp_path: Path) -> None:
    result = run("compute", "--events", str(write(tmp_path, {"events": []})), "--now", "2026-03-01T00:00:00Z")
    assert result.exit_code == 0
    assert "No deployments" in result.stdout


def test_schema_is_json_schema() -> None:
    result = run("schema")
    schema = json.loads(result.stdout)
    assert set(schema["$defs"]) >= {"Deployment", "Commit", "Rollback", "Recovery"}
