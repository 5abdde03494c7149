"""`fleet eks calendar`: show the EKS version calendar, or refresh it from AWS (`--refresh`).

Exit codes (fleet/exits.py):
  0  shown, or refreshed (also when nothing changed)
  3  bad input: an unreadable or invalid calendar, an --output that cannot be written, no region for
     --refresh, or a refresh option without --refresh
  6  AWS failed or refused (credentials, permission, unreachable endpoint, throttling after the retries);
     nothing was written
  2  usage error from the command-line parser, and only that
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.datafiles import DataFileError
from fleet.eks.calendar import Calendar
from fleet.eks.calendar_file import (
    CALENDAR_HELP,
    LoadedCalendar,
    header_comments,
    load_effective,
    render,
    user_calendar_path,
    write_calendar,
)
from fleet.eks.refresh import Refresh, RefreshError, fetch_versions, merge, source_for
from fleet.exits import die
from fleet.output import emit


def rows_json(calendar: Calendar) -> list[dict[str, Any]]:
    return [
        {
            "version": v,
            "released": d.released.isoformat() if d.released else None,
            "end_of_standard": d.end_of_standard.isoformat(),
            "end_of_extended": d.end_of_extended.isoformat(),
            "source": d.source,
            "estimated": d.estimated,
        }
        for v, d in ((v, calendar.versions[v]) for v in calendar.ordered())
    ]


def calendar_table(calendar: Calendar, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("version", "released on EKS", "end of standard", "end of extended", "source"):
        table.add_column(column, overflow="fold")
    for row in rows_json(calendar):
        source = row["source"] or "-"
        if row["estimated"]:
            source = f"ESTIMATED (14 + 12 months from the release, not AWS's dates); {source}"
        table.add_row(row["version"], row["released"] or "-", row["end_of_standard"], row["end_of_extended"], source)
    return table


def _load(calendar_file: Path | None, refresh: bool) -> LoadedCalendar:
    try:
        return load_effective(calendar_file, to_create=refresh)
    except DataFileError as exc:
        die(str(exc), exits.BAD_INPUT)


def _region(region: str | None) -> str:
    found = region or boto3.session.Session().region_name
    if not found:
        die(
            "--region: no region given and none configured (AWS_REGION or the profile's region); the calendar is "
            "the same in every region, e.g. --region eu-west-2",
            exits.BAD_INPUT,
        )
    return found


def _change_line(change: dict[str, Any]) -> str:
    if change["change"] == "added":
        dates = ", ".join(f"{k} {v[1]}" for k, v in change["fields"].items() if v[1])
        return f"[green]added[/]     {change['version']}: {dates}"
    if change["change"] == "changed":
        diffs = ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in change["fields"].items())
        return f"[yellow]changed[/]   {change['version']}: {diffs}"
    colour = "red" if change["change"] == "skipped" else "dim"
    return f"[{colour}]{change['change']:<9}[/] {change['version']}: {change['note']}"


def refresh_json(result: Refresh, written: Path | None, dry_run: bool) -> dict[str, Any]:
    return {
        "source": result.source,
        "returned_by_aws": result.returned,
        "written_to": str(written) if written else None,
        "dry_run": dry_run,
        "summary": {k: result.count(k) for k in ("added", "changed", "confirmed", "kept", "skipped")},
        "changes": [c.model_dump() for c in result.changes],
        "versions": rows_json(result.calendar),
    }


def _refresh(
    loaded: LoadedCalendar, region: str, endpoint_url: str | None, output: Path | None, dry_run: bool, as_json: bool
) -> None:
    try:
        fetched = fetch_versions(region, endpoint_url)
    except RefreshError as exc:
        die(f"{exc}; the calendar is unchanged", exits.REMOTE_ERROR)
    result = merge(loaded.calendar, fetched, source_for(region, datetime.now(UTC).date()))
    # The file the lookup order read is the one to update (a --calendar or $FLEET_EKS_CALENDAR file in
    # place); the packaged one may be read-only, so it is never overwritten: the user calendar is.
    target = output or (user_calendar_path() if loaded.origin in ("packaged", "user") else loaded.path)
    if not dry_run:
        try:
            write_calendar(target, render(result.calendar, header_comments(loaded.path), result.source))
        except DataFileError as exc:
            die(f"{'--output ' if output else ''}{exc}", exits.BAD_INPUT)
    data = refresh_json(result, None if dry_run else target, dry_run)

    def show(console: Console) -> None:
        console.print(f"Asked {result.source}: {result.returned} versions returned.")
        confirmed = [c["version"] for c in data["changes"] if c["change"] == "confirmed"]
        for change in data["changes"]:
            if change["change"] != "confirmed":
                console.print(_change_line(change))
        if confirmed:
            console.print(f"[dim]unchanged (dates confirmed by AWS): {', '.join(confirmed)}[/]")
        if dry_run:
            console.print("--dry-run: nothing written.")
        else:
            console.print(f"Wrote {target}.")
            if target == user_calendar_path():
                console.print("`fleet eks status` reads it ahead of the packaged calendar.")

    emit(data, show, as_json)


def calendar_command(
    refresh: Annotated[bool, typer.Option("--refresh", help="Update the calendar from AWS.")] = False,
    region: Annotated[str | None, typer.Option(help="AWS region to ask (with --refresh).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="EKS endpoint (with --refresh).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the refreshed calendar here (default: the user calendar).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --refresh: show changes, write nothing.")] = False,
    calendar_file: Annotated[Path | None, typer.Option("--calendar", help=CALENDAR_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The version calendar fleet uses (release, end of standard, end of extended, source), or --refresh it."""
    given = {"--region": region, "--endpoint-url": endpoint_url, "--output": output, "--dry-run": dry_run}
    misplaced = [flag for flag, value in given.items() if value]
    if misplaced and not refresh:
        die(f"{', '.join(misplaced)} only applies with --refresh", exits.BAD_INPUT)
    loaded = _load(calendar_file, refresh)
    if refresh:
        _refresh(loaded, _region(region), endpoint_url, output, dry_run, as_json)
        return
    data = {"calendar_file": str(loaded.path), "lookup": loaded.origin, "versions": rows_json(loaded.calendar)}
    title = f"EKS calendar: {loaded.describe()}"
    emit(data, lambda console: console.print(calendar_table(loaded.calendar, title)), as_json)
