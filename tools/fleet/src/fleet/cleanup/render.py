"""The human rendering of a cleanup report (`--json` prints `Report.to_json` instead)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fleet.cleanup.model import Orphan, Report


def _short(resource_id: str) -> str:
    """An ARN without its arn:aws:service:region:account: prefix (the header names both; --json keeps it)."""
    parts = resource_id.split(":", 5)
    return parts[5] if resource_id.startswith("arn:") and len(parts) == 6 else resource_id


def _columns(table: Table, *names: str) -> None:
    # Ids stay on one line so they can be copied; the free-text columns wrap instead.
    for name in names:
        table.add_column(name, no_wrap=name in ("kind", "id"), overflow="fold")


def _orphan_table(console: Console, title: str, orphans: list[Orphan]) -> None:
    table = Table(title=title, title_justify="left")
    _columns(table, "kind", "id", "name", "matched")
    for orphan in orphans:
        table.add_row(orphan.kind, _short(orphan.id), orphan.name, orphan.reason)
    console.print(table)


def render(console: Console, report: Report) -> None:
    where = f"cluster [bold]{report.cluster}[/] in {report.region}"
    if report.account:
        checked = " (matches --account-id)" if report.expected_account == report.account else ""
        console.print(f"AWS account {report.account}{checked}, region {report.region}")
    if report.account_mismatch:
        console.print(f"[bold red]Refused:[/] {report.refused}")
        return
    if report.error and (report.orphans or report.skipped or report.outcomes):
        console.print("[red]Stopped by an AWS error (on stderr): what is listed below is incomplete.[/]")
    if report.cluster_exists:
        # Said first and plainly: what follows belongs to a live cluster, not to a destroyed one.
        console.print(
            f"[bold red]EKS cluster {report.cluster} still exists (status {report.cluster_status}):[/] "
            "the resources below are in use by it, and --apply is refused until the cluster is deleted."
        )
    if report.orphans:
        title = f"Tagged for live {where}" if report.cluster_exists else f"Orphans of {where}"
        _orphan_table(console, title, report.orphans)
    elif not report.error:
        console.print(f"No orphans of {where}.")
    if report.skipped:
        table = Table(title="Tagged for the cluster but left alone", title_justify="left", style="dim")
        _columns(table, "kind", "id", "name", "why")
        for s in report.skipped:
            table.add_row(s.kind, _short(s.id), s.name, s.why)
        console.print(table)
    if report.applied and report.outcomes:
        table = Table(title="--apply", title_justify="left")
        _columns(table, "kind", "id", "result", "detail")
        for outcome in report.outcomes:
            table.add_row(outcome.kind, _short(outcome.id), outcome.result, outcome.detail)
        console.print(table)
    if report.remaining:
        _orphan_table(console, "Still there after --apply (re-scan)", report.remaining)
    elif report.applied and not report.refused and not report.error:
        console.print("Re-scan after --apply: no orphans left.")
    _summary(console, report)


def _summary(console: Console, report: Report) -> None:
    count = len(report.orphans)
    if report.refused:
        console.print(f"{count} tagged resource(s); refused: nothing deleted.")
    elif report.orphans and not report.applied and not report.error:
        if report.cluster_exists:
            console.print(f"{count} tagged resource(s). Dry run: nothing deleted; --apply would be refused.")
        else:
            console.print(f"{count} orphan(s). Dry run: nothing deleted; rerun with --apply to delete them.")
