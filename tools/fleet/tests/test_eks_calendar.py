"""`fleet eks calendar`: the calendar shown with its sources, the lookup order, estimated rows, and the merge
rules of a refresh (the AWS side of `--refresh` is in test_eks_refresh.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fleet import exits
from fleet.eks import app
from fleet.eks.calendar import Calendar, VersionDates, load_calendar
from fleet.eks.refresh import AwsVersion, merge
from typer.testing import CliRunner

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real user calendar: each test starts from the packaged calendar. Returns the user calendar's path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("FLEET_EKS_CALENDAR", raising=False)
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    return tmp_path / "data" / "fleet" / "eks-versions.yaml"


def status(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["status", *args, "--json"])
    assert result.exit_code in (0, 1, 4, 5), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_calendar_lists_every_row_with_dates_and_source() -> None:
    result = runner.invoke(app, ["calendar", "--json"])
    assert result.exit_code == exits.OK
    data = json.loads(result.stdout)
    assert data["lookup"] == "packaged"
    versions = {row["version"]: row for row in data["versions"]}
    assert list(versions) == sorted(load_calendar().versions, key=lambda v: tuple(map(int, v.split("."))))
    assert versions["1.35"] == {
        "version": "1.35",
        "released": "2026-01-28",
        "end_of_standard": "2027-03-27",
        "end_of_extended": "2028-03-27",
        "source": "AWS EKS user guide, Kubernetes release calendar",
        "estimated": False,
    }
    assert all(row["source"] for row in data["versions"]), "every packaged row names its source"
    human = runner.invoke(app, ["calendar"], env={"COLUMNS": "200"})
    assert human.exit_code == exits.OK
    assert "end of standard" in human.stdout
    assert "2027-03-27" in human.stdout
    assert "(packaged)" in flat(human.stdout)


def test_user_calendar_overrides_the_packaged_one_row_by_row(isolated: Path) -> None:
    isolated.parent.mkdir(parents=True)
    isolated.write_text(
        'versions:\n  "1.35": {end_of_standard: 2027-04-01, end_of_extended: 2028-04-01, source: "test"}\n',
        encoding="utf-8",
    )
    assert status("--version", "1.35", "--date", "2026-11-26")["next_deadline"] == "2027-04-01"
    # 1.32 is not in the user calendar: the packaged row still counts.
    data = status("--version", "1.32", "--date", "2026-11-26")
    assert (data["support"], data["next_deadline"]) == ("extended", "2027-03-23")
    shown = json.loads(runner.invoke(app, ["calendar", "--json"]).stdout)
    assert shown["lookup"] == "user"
    assert len(shown["versions"]) == len(load_calendar().versions)


def test_estimated_dates_are_said_to_be_estimates_everywhere(tmp_path: Path) -> None:
    own = tmp_path / "guess.yaml"
    own.write_text(
        'versions:\n  "1.35": {released: 2026-01-28, end_of_standard: 2027-03-27, end_of_extended: 2028-03-27}\n'
        '  "1.36": {released: 2026-06-01, end_of_standard: 2027-08-01, end_of_extended: 2028-08-01, '
        "estimated: true}\n",
        encoding="utf-8",
    )
    on_136 = status("--version", "1.36", "--date", "2026-11-26", "--calendar", str(own))
    assert on_136["estimated_dates"] == ["1.36"]
    assert "dates for 1.36 are ESTIMATED" in on_136["message"]
    assert "not AWS's" in on_136["message"]
    on_135 = status("--version", "1.35", "--date", "2026-11-26", "--calendar", str(own))
    assert on_135["recommended_version"] == "1.36"
    assert on_135["estimated_dates"] == ["1.36"], "the recommendation rests on 1.36's estimated dates"
    plain = status("--version", "1.35", "--date", "2026-11-26")
    assert plain["estimated_dates"] == []
    assert "ESTIMATED" not in plain["message"]
    human = runner.invoke(app, ["calendar", "--calendar", str(own)], env={"COLUMNS": "250"})
    assert "ESTIMATED" in human.stdout
    assert json.loads(runner.invoke(app, ["calendar", "--calendar", str(own), "--json"]).stdout)["versions"][1][
        "estimated"
    ]


def test_aws_dates_replace_an_estimate() -> None:
    dates = {"released": date(2026, 6, 1), "end_of_standard": date(2027, 8, 1), "end_of_extended": date(2028, 8, 1)}
    base = Calendar(versions={"1.36": VersionDates(**dates, estimated=True)})
    aws = AwsVersion(version="1.36", **dates)
    result = merge(base, [aws], "aws eks describe-cluster-versions, eu-west-2, 2026-11-26")
    assert result.calendar.versions["1.36"].estimated is False
    assert result.changes[0].change == "changed"
    assert result.changes[0].fields == {"estimated": ["true", "false"]}


def test_merge_never_drops_a_row() -> None:
    base = load_calendar()
    result = merge(base, [], "nothing")
    assert result.calendar == base
    assert {c.change for c in result.changes} == {"kept"}


def test_an_invalid_calendar_is_bad_input_for_both_commands(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('versions:\n  "1.36": {end_of_standard: 2027-07-28, end_of_extended: 2026-07-28}\n')
    for args in (["calendar"], ["calendar", "--refresh", "--region", "eu-west-2"]):
        result = runner.invoke(app, [*args, "--calendar", str(bad)])
        assert result.exit_code == exits.BAD_INPUT
        assert "end_of_extended must be after end_of_standard" in flat(result.stderr)


def test_a_row_aws_leaves_undated_or_inconsistent_keeps_the_calendars_row() -> None:
    base = load_calendar()
    undated = AwsVersion(version="1.35", end_of_standard=date(2027, 3, 27))
    backwards = AwsVersion(version="1.34", end_of_standard=date(2027, 12, 2), end_of_extended=date(2026, 12, 2))
    result = merge(base, [undated, backwards], "aws eks describe-cluster-versions, eu-west-2, 2026-11-26")
    assert result.calendar.versions["1.35"] == base.versions["1.35"]
    assert result.calendar.versions["1.34"] == base.versions["1.34"]
    notes = {c.version: (c.change, c.note) for c in result.changes if c.change == "skipped"}
    assert notes["1.35"] == ("skipped", "AWS gave no end-of-support dates for it yet; the calendar's row is kept")
    assert "do not fit together" in notes["1.34"][1]
    assert "end_of_extended must be after end_of_standard" in notes["1.34"][1]
