"""`fleet cleanup`: find (and with --apply delete) what a destroyed EKS cluster left behind."""

from __future__ import annotations

import re

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.cleanup.aws import Aws, AwsError, RetryPolicy
from fleet.cleanup.cluster import cluster_status
from fleet.cleanup.deleters import apply
from fleet.cleanup.finders import discover
from fleet.cleanup.model import Report
from fleet.output import emit, err_console

# The fleet-wide codes (fleet/exits.py) this command uses, under the names its logic reads best with.
EXIT_CLEAN = exits.OK
EXIT_ORPHANS_FOUND = exits.FINDINGS
EXIT_BAD_INPUT = exits.BAD_INPUT
EXIT_AWS_ERROR = exits.REMOTE_ERROR
EXIT_INCOMPLETE = exits.INCOMPLETE
EXIT_CLUSTER_EXISTS = exits.REFUSED

# EKS cluster names: 1-100 characters, letters, digits, hyphens and underscores, starting alphanumeric.
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")

HELP = """Find the AWS resources a destroyed EKS cluster left behind, and delete them with --apply.

Looks at ALBs/NLBs with their listeners and target groups, ENIs, security groups, EBS volumes and
Elastic IPs whose tags tie them to the cluster (exact key and value match; docs/fleet.md lists the tag
rules). Dry run by default. Never touches an untagged resource or one tagged for another cluster.

Asks EKS first (eks:DescribeCluster): while the cluster exists, in any state, --apply deletes nothing and
exits 8. A dry run still lists what is tagged, and says that --apply would be refused.

Exit codes: 0 nothing left (or everything deleted with --apply); 1 orphans found (dry run); 2 usage error;
3 invalid cluster name; 6 AWS error (credentials, permissions, throttling after retries, unreachable
endpoint): nothing can be concluded; 7 --apply finished but something is left (blocked, or found again by the
re-scan after deleting); 8 --apply refused because the EKS cluster still exists.
"""


def cleanup_command(
    cluster: str = typer.Option(..., "--cluster", help="EKS cluster name, matched exactly."),
    region: str = typer.Option(..., "--region", help="AWS region (required: a wrong region finds nothing)."),
    do_apply: bool = typer.Option(False, "--apply", help="Delete the orphans (default: dry run)."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", help="AWS endpoint, e.g. a moto_server."),
    retry_attempts: int = typer.Option(8, "--retry-attempts", min=1, help="Tries per AWS call (throttling)."),
    retry_delay: float = typer.Option(1.0, "--retry-base-delay", min=0.0, help="First backoff, in seconds."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    if not CLUSTER_NAME.match(cluster):
        err_console.print(f"[bold red]error:[/] --cluster {cluster!r} is not a valid EKS cluster name")
        raise typer.Exit(EXIT_BAD_INPUT)
    policy = RetryPolicy(attempts=retry_attempts, base_delay=retry_delay, max_delay=max(20.0, retry_delay))
    report = Report(cluster=cluster, region=region, applied=do_apply)
    try:
        aws = Aws(region, endpoint_url, policy)
        # Asked before anything else: the answer decides whether --apply may delete at all.
        status = cluster_status(aws, cluster)
        report = discover(aws, cluster, region)
        report.cluster_status = status
        if do_apply and status is not None:
            report.applied = True
            report.refused = refusal(cluster, region, status)
        elif do_apply:
            apply(aws, report)
            # Trust what AWS shows afterwards, not what the delete calls answered: a controller that is still
            # running recreates what it owns, and a delete can be accepted yet not happen.
            report.remaining = discover(aws, cluster, region).orphans
    except AwsError as exc:
        report.error = str(exc)
    code = exit_code(report)
    emit(report.to_json(code), lambda console: render(console, report), as_json)
    if report.error:
        err_console.print(f"[bold red]error:[/] {report.error}")
    elif report.refused:
        err_console.print(f"[bold red]error:[/] {report.refused}")
    raise typer.Exit(code)


def refusal(cluster: str, region: str, status: str) -> str:
    return (
        f"EKS cluster {cluster} still exists in {region} (status {status}): the resources tagged for it are live,"
        " so --apply deleted nothing. Delete the cluster first (terraform destroy), then run cleanup again."
    )


cleanup_command.__doc__ = HELP


def exit_code(report: Report) -> int:
    if report.error:
        return EXIT_AWS_ERROR
    if report.refused:
        return EXIT_CLUSTER_EXISTS
    if report.applied:
        return EXIT_INCOMPLETE if report.blocked or report.remaining else EXIT_CLEAN
    return EXIT_ORPHANS_FOUND if report.orphans else EXIT_CLEAN


def _short(resource_id: str) -> str:
    """An ARN without its arn:aws:service:region:account: prefix (the table is per region; --json keeps it)."""
    parts = resource_id.split(":", 5)
    return parts[5] if resource_id.startswith("arn:") and len(parts) == 6 else resource_id


def _columns(table: Table, *names: str) -> None:
    # Ids stay on one line so they can be copied; the free-text columns wrap instead.
    for name in names:
        table.add_column(name, no_wrap=name in ("kind", "id"), overflow="fold")


def render(console: Console, report: Report) -> None:
    where = f"cluster [bold]{report.cluster}[/] in {report.region}"
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
        table = Table(title=title, title_justify="left")
        _columns(table, "kind", "id", "name", "matched")
        for orphan in report.orphans:
            table.add_row(orphan.kind, _short(orphan.id), orphan.name, orphan.reason)
        console.print(table)
    elif not report.error:
        console.print(f"No orphans of {where}.")
    if report.skipped:
        table = Table(title="Tagged for the cluster but left alone", title_justify="left", style="dim")
        _columns(table, "kind", "id", "name", "why")
        for s in report.skipped:
            table.add_row(s.kind, s.id, s.name, s.why)
        console.print(table)
    if report.applied and report.outcomes:
        table = Table(title="--apply", title_justify="left")
        _columns(table, "kind", "id", "result", "detail")
        for outcome in report.outcomes:
            table.add_row(outcome.kind, _short(outcome.id), outcome.result, outcome.detail)
        console.print(table)
    if report.remaining:
        table = Table(title="Still there after --apply (re-scan)", title_justify="left")
        _columns(table, "kind", "id", "name", "matched")
        for orphan in report.remaining:
            table.add_row(orphan.kind, _short(orphan.id), orphan.name, orphan.reason)
        console.print(table)
    elif report.applied and not report.refused and not report.error:
        console.print("Re-scan after --apply: no orphans left.")
    if report.refused:
        console.print(f"{len(report.orphans)} tagged resource(s); refused: nothing deleted.")
    elif report.orphans and not report.applied and not report.error:
        count = len(report.orphans)
        if report.cluster_exists:
            console.print(f"{count} tagged resource(s). Dry run: nothing deleted; --apply would be refused.")
        else:
            console.print(f"{count} orphan(s). Dry run: nothing deleted; rerun with --apply to delete them.")
