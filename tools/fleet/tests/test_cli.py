"""Fleet-wide CLI behaviour (finding 10): `fleet --version`, and output to a file or pipe that is not wrapped at 80
columns mid-message."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from fleet import exits
from fleet.capacity import app as capacity_app
from fleet.output import NOT_A_TERMINAL_WIDTH, FleetConsole
from rich.table import Table
from typer.testing import CliRunner

runner = CliRunner()
LONG = "a message that is longer than eighty columns, so that a console wrapping at 80 would break it in two " * 2


def run_fleet(*args: str, columns: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, its stdout and stderr pipes (not a terminal)."""
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"}}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-c", "from fleet.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_version_flag_prints_the_installed_version() -> None:
    from fleet.cli import app

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == exits.OK
    assert result.stdout == f"fleet {version('fleet')}\n"


def test_error_to_a_pipe_arrives_on_one_line() -> None:
    # The known-types list makes this message over 300 characters: wider than 80 and than the table width.
    result = run_fleet("capacity", "max-pods", "t2.micro")
    assert result.returncode == exits.BAD_INPUT
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert len(lines[0]) > NOT_A_TERMINAL_WIDTH
    assert lines[0].startswith("error: unknown instance type 't2.micro'; known: c5.large")
    assert lines[0].endswith("(add it to the table)")


def test_cli_runner_output_is_not_wrapped_either() -> None:
    result = runner.invoke(capacity_app, ["max-pods", "t2.micro"])
    assert result.exit_code == exits.BAD_INPUT
    assert len(result.stderr.splitlines()) == 1


def test_console_to_a_file_soft_wraps_prose_and_widens_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    console = FleetConsole(file=out)
    console.print(LONG)
    assert out.getvalue().rstrip() == LONG.rstrip()  # one line
    assert console.width == NOT_A_TERMINAL_WIDTH

    monkeypatch.setenv("COLUMNS", "60")
    out = io.StringIO()
    console = FleetConsole(file=out)
    table = Table("column")
    table.add_row("cell " * 30)
    console.print(table)
    console.print(LONG)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines[:-1]) == 60  # $COLUMNS sizes the table
    assert lines[-1].rstrip() == LONG.rstrip()  # and prose still is not wrapped


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_on_a_terminal_wraps_as_rich_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    out = _Terminal()
    console = FleetConsole(file=out, color_system=None)  # no escape codes in the measured lines
    console.print(LONG)
    assert console.soft_wrap is False
    assert console.width == 50
    assert all(len(line) <= 50 for line in out.getvalue().splitlines())
    assert len(out.getvalue().splitlines()) > 1
