"""`fleet dora`: compute the four keys from an event file, push them, and build event files from GitHub/Flagger."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.dora.events import EventLog, EventsError, dump_events, json_schema, load_events
from fleet.dora.flagger import from_kubectl_events
from fleet.dora.github import Conversion, from_commits, from_deployments, from_workflow_runs
from fleet.dora.metrics import DoraReport, EnvironmentMetrics, compute, parse_window
from fleet.dora.push import PushError, push
from fleet.output import emit, err_console

EXIT_OK = exits.OK
EXIT_BAD_INPUT = exits.BAD_INPUT
EXIT_PUSH_FAILED = exits.REMOTE_ERROR

app = typer.Typer(
    help=(
        "DORA four keys (deployment frequency, lead time, change failure rate, time to restore) from a "
        "documented event file (docs/fleet.md). Exit codes: 0 ok; 2 usage; 3 invalid input (the message names "
        "the file and field); 6 the Pushgateway push failed."
    ),
    no_args_is_help=True,
)

Events = Annotated[list[Path], typer.Option("--events", help="Event file (repeat to merge, e.g. GitHub + Flagger).")]
Window = Annotated[str, typer.Option("--window", help="Window ending at --now: N h, d or w, e.g. 30d.")]
Now = Annotated[str | None, typer.Option("--now", help="End of the window, ISO 8601 with timezone (default: now).")]
Env = Annotated[str | None, typer.Option("--environment", help="Only this environment (default: every one found).")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Out = Annotated[Path | None, typer.Option("--out", help="Write the events here instead of stdout.")]


def _bad_input(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(EXIT_BAD_INPUT)


def _report(events: list[Path], window: str, now: str | None, environment: str | None) -> DoraReport:
    try:
        span = parse_window(window)
        end = datetime.fromisoformat(now) if now else datetime.now(UTC)
        if end.tzinfo is None:
            raise ValueError(f"--now {now!r} has no timezone (add Z or +00:00)")
        log: EventLog = load_events(events)
    except (ValueError, EventsError) as exc:
        raise _bad_input(str(exc)) from None
    return compute(log, end, span, environment)


@app.command("compute")
def compute_command(
    events: Events,
    window: Window = "30d",
    now: Now = None,
    environment: Env = None,
    as_json: AsJson = False,
) -> None:
    """Compute the four keys and their DORA 2023 performance bands, per environment."""
    report = _report(events, window, now, environment)
    emit(report.to_json(), lambda console: render(console, report), as_json)


@app.command("push")
def push_command(
    events: Events,
    pushgateway: Annotated[str, typer.Option(help="Pushgateway URL, e.g. http://127.0.0.1:9091.")],
    job: Annotated[str, typer.Option(help="Pushgateway job label (the group replaced on each push).")] = "dora",
    window: Window = "30d",
    now: Now = None,
    environment: Env = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the Pushgateway.")] = 10.0,
    as_json: AsJson = False,
) -> None:
    """Compute the four keys and push them to a Prometheus Pushgateway."""
    report = _report(events, window, now, environment)
    try:
        push(report, pushgateway, job, timeout)
    except PushError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(EXIT_PUSH_FAILED) from None
    data = {"pushed": {"gateway": pushgateway, "job": job}, **report.to_json()}

    def human(console: Console) -> None:
        render(console, report)
        console.print(f"Pushed to {pushgateway} (job {job}).")

    emit(data, human, as_json)


@app.command("from-gh")
def from_gh_command(
    deployments: Annotated[Path | None, typer.Option(help="`gh api repos/O/R/deployments` output.")] = None,
    statuses_dir: Annotated[Path | None, typer.Option(help="Directory of ID.json files, one per deployment.")] = None,
    workflow_runs: Annotated[Path | None, typer.Option(help="`gh api repos/O/R/actions/runs` output.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow (name, path or file).")] = None,
    branch: Annotated[str | None, typer.Option(help="Only runs on this branch.")] = None,
    commits: Annotated[Path | None, typer.Option(help="`gh api repos/O/R/commits` output (commit times).")] = None,
    environment: Annotated[
        str | None,
        typer.Option(help="Deployments: only this environment. Workflow runs: the environment they deploy to."),
    ] = None,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Convert `gh api` output (deployments + statuses, or workflow runs; plus commits) into DORA events."""
    if (deployments is None) == (workflow_runs is None):
        raise _bad_input("give either --deployments (with --statuses-dir) or --workflow-runs")
    if deployments is not None and statuses_dir is None:
        raise _bad_input("--deployments needs --statuses-dir (the per-deployment statuses)")
    try:
        if deployments is not None and statuses_dir is not None:
            result = from_deployments(deployments, statuses_dir, environment)
        else:
            assert workflow_runs is not None
            result = from_workflow_runs(workflow_runs, environment or "production", workflow, branch)
        if commits is not None:
            extra = from_commits(commits)
            result.events += extra.events
            result.skipped += extra.skipped
    except EventsError as exc:
        raise _bad_input(str(exc)) from None
    _write(result, out, as_json)


@app.command("from-flagger")
def from_flagger_command(
    events: Annotated[Path, typer.Option(help="`kubectl get events -A -o json` output.")],
    environment: Annotated[str, typer.Option(help="The environment the cluster serves.")] = "production",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Convert Flagger canary events ("Canary failed! ...") into DORA rollback events."""
    try:
        result = from_kubectl_events(events, environment)
    except EventsError as exc:
        raise _bad_input(str(exc)) from None
    _write(result, out, as_json)


@app.command("schema")
def schema_command(as_json: AsJson = False) -> None:
    """Print the JSON Schema of the event file format (always JSON; --json is accepted for uniformity)."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def _write(result: Conversion, out: Path | None, as_json: bool) -> None:
    """Events go to --out, or to stdout (then the summary goes to stderr so the JSON stays clean)."""
    text = dump_events(result.events)
    counts: dict[str, int] = {}
    for event in result.events:
        counts[event.type] = counts.get(event.type, 0) + 1
    summary: dict[str, Any] = {"written": str(out) if out else None, "counts": counts, "skipped": result.skipped}
    if out is None:
        sys.stdout.write(text)
        for line in result.skipped:
            err_console.print(f"skipped: {line}")
        return
    out.write_text(text)

    def human(console: Console) -> None:
        described = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no events"
        console.print(f"Wrote {described} to {out}.")
        for line in result.skipped:
            console.print(f"[dim]skipped: {line}[/]")

    emit(summary, human, as_json)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins or not minutes else ""]
    return " ".join(p for p in parts if p)


def _rows(env: EnvironmentMetrics) -> list[tuple[str, str, str, str]]:
    lead, restore = env.lead_time, env.time_to_restore
    cfr = "-" if env.change_failure_rate is None else f"{env.change_failure_rate:.1%}"
    return [
        (
            "deployment frequency",
            f"{env.deployment_frequency_per_day:.2f}/day",
            f"{env.successful} successful",
            env.bands["deployment_frequency"] or "-",
        ),
        (
            "lead time (median, p90)",
            f"{_duration(lead.median)}, {_duration(lead.p90)}",
            f"{lead.samples} deploys, {env.lead_time_unknown} without commit time",
            env.bands["lead_time"] or "-",
        ),
        (
            "change failure rate",
            cfr,
            f"{env.failed} of {env.deployments} ({env.rollbacks} rollbacks)",
            env.bands["change_failure_rate"] or "-",
        ),
        (
            "time to restore (median, p90)",
            f"{_duration(restore.median)}, {_duration(restore.p90)}",
            f"{restore.samples} restored, {env.unrestored} not yet",
            env.bands["time_to_restore"] or "-",
        ),
    ]


def render(console: Console, report: DoraReport) -> None:
    window = report.window
    span = f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC ({window.days:g} days)"
    if not report.environments:
        console.print(f"No deployments between {span}.")
        return
    for env in report.environments:
        table = Table(title=f"DORA · {env.environment} · {span}", title_justify="left")
        for column in ("metric", "value", "from", "band (DORA 2023)"):
            table.add_column(column)
        for row in _rows(env):
            table.add_row(*row)
        console.print(table)
