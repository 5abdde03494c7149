"""One exit-code table for the whole CLI: distinct codes, the same in exits.py and docs/fleet.md, and a wrong
flag (click's usage error) never mistaken for bad input, a finding or a deadline."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from fleet import exits
from fleet.cli import app
from typer.testing import CliRunner

DOCS = Path(__file__).resolve().parents[3] / "docs" / "fleet.md"
runner = CliRunner()


def test_codes_are_distinct_and_usage_is_clicks() -> None:
    codes = [code for code, _, _ in exits.TABLE]
    assert codes == sorted(set(codes)) == list(range(len(codes)))
    assert click.UsageError("x").exit_code == exits.USAGE, "click owns 2; fleet must not reuse it"
    named = {name: getattr(exits, name) for _, name, _ in exits.TABLE}
    assert named == {name: code for code, name, _ in exits.TABLE}


def test_the_docs_table_is_the_code_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Exit codes") : text.index("<!-- section: cost -->")]
    rows = re.findall(r"^\| (\d+) \| ([A-Z_]+) \| ([^|]+) \|", section, re.M)
    assert [(int(code), name) for code, name, _ in rows] == [(code, name) for code, name, _ in exits.TABLE]


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "estimate", "--nodez", "1"],
        ["capacity", "max-pods", "t3.large", "--jsn"],
        ["eks", "status", "--version", "1.35", "--warn-dayz", "3"],
        ["cleanup", "--cluster", "staging", "--region", "eu-west-2", "--aply"],
        ["validate", "--chek", "x"],
        ["new-app", "shop", "--prot", "9000"],
        ["dora", "compute", "--evnts", "x.json"],
    ],
)
def test_a_wrong_flag_is_a_usage_error_on_every_command(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == exits.USAGE


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "estimate", "--hours", "5000"],
        ["cost", "estimate", "--days", "0"],
        ["capacity", "max-pods", "t9.giant"],
        ["eks", "status", "--version", "abc"],
        ["cleanup", "--cluster", "bad name!", "--region", "eu-west-2"],
        [
            "new-app",
            "--image",
            "nginx:latest",
            "--owner",
            "t",
            "--tier",
            "standard",
            "--runbook",
            "https://r.x",
            "--repo",
            "https://g.x",
            "--apps-dir",
            "/nonexistent/apps",
            "shop",
        ],
        ["dora", "compute", "--events", "/nonexistent/events.json"],
    ],
)
def test_bad_input_is_its_own_code_on_every_command(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == exits.BAD_INPUT
