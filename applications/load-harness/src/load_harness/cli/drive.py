"""`load-harness drive`: run the load driver from the command line (see docs/driver.md).

Exit codes: 0 ok, 99 a threshold failed (like k6), 2 usage error, 1 the run could not happen or was aborted
(unreachable target, unknown host), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from load_harness.driver.client import DriverError
from load_harness.driver.options import OptionsError
from load_harness.driver.options import build_plan as options_build_plan
from load_harness.driver.plan import Plan, plan_from_dict
from load_harness.driver.progress import LiveView, render_summary
from load_harness.driver.report import write_report
from load_harness.driver.runner import Runner
from load_harness.driver.shards import live_from_state, run_local_shards
from load_harness.driver.sink import NullSink, RunSink, sink_for_run
from load_harness.driver.summary import summarize
from load_harness.driver.thresholds import Threshold, ThresholdError, evaluate, parse_threshold

EXIT_ABORTED = 1
EXIT_THRESHOLDS = 99
EXIT_INTERRUPTED = 130


def _usage(message: str, param: str | None = None) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=param)


def build_plan(url: str | None, **options: Any) -> Plan:
    """driver.options.build_plan, with its errors as usage errors (exit 2) naming the flag."""
    try:
        return options_build_plan(url, **options)
    except OptionsError as exc:
        param = "URL" if exc.field == "url" else f"--{exc.field}"
        raise _usage(str(exc), param) from None


def stored_run(run_id: str) -> tuple[Plan, list[str]]:
    """The plan and thresholds of a run created through the API: what an Indexed Job's shard drives."""
    from load_harness.runs import sink  # noqa: F401 - registers the store-backed sink with the engine
    from load_harness.store import runs as run_store
    from load_harness.store.engine import get_engine

    run = run_store.get(get_engine(), run_id)
    if run is None:
        raise _usage(f"no run {run_id!r} in the store; create it with POST /runs first", "--run-id")
    return plan_from_dict(run.plan), list(run.options.get("thresholds", []))


async def _run_in_process(plan: Plan, sink: RunSink, run_id: str | None, live: LiveView | None) -> dict[str, Any]:
    on_second = live.update if live is not None else None
    runner = Runner(plan, sink=sink, run_id=run_id, on_second=on_second)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not possible outside the main thread (e.g. under a test runner's thread): then no signal handling.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, runner.request_stop, "interrupted", "interrupted by a signal")
    return await runner.run()


def execute(
    plan: Plan,
    *,
    shards: int = 1,
    shard_index: int | None = None,
    run_id: str | None = None,
    live: LiveView | None = None,
) -> dict[str, Any]:
    """Run a plan: one shard in this process (optionally one share of a bigger run), or N local processes."""
    if shard_index is not None:
        sink: RunSink = sink_for_run(run_id, shard_index, shards) if run_id else NullSink()
        return asyncio.run(_run_in_process(plan.for_shard(shard_index, shards), sink, run_id, live))
    if run_id and shards > 1:
        from load_harness.runs.local import drive_shards

        on_state = (lambda state: live.update(live_from_state(state))) if live is not None else None
        return drive_shards(run_id, shards, on_state)
    sink = sink_for_run(run_id, 0, 1) if run_id else NullSink()
    if shards > 1:
        on_progress = (lambda state: live.update(live_from_state(state))) if live is not None else None
        return run_local_shards(plan, shards, run_id=run_id, sink=sink, on_progress=on_progress)
    return asyncio.run(_run_in_process(plan, sink, run_id, live))


def drive_command(
    url: Annotated[str | None, typer.Argument(help="Target URL (default: this service's /load/cpu/work)")] = None,
    rate: Annotated[float | None, typer.Option(help="Open loop: requests per second (arrival rate)")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Closed loop: requests in flight")] = None,
    duration: Annotated[str | None, typer.Option(help="Run length, e.g. 30s, 2m (default 30s)")] = None,
    requests: Annotated[int | None, typer.Option(help="Stop after this many requests")] = None,
    stages: Annotated[str | None, typer.Option(help="Ramps, e.g. '30s:100,60s:500,30s:0'")] = None,
    method: Annotated[str | None, typer.Option(help="HTTP method (default GET, POST with a body)")] = None,
    body: Annotated[str | None, typer.Option(help="JSON request body")] = None,
    header: Annotated[list[str] | None, typer.Option(help="Extra header NAME:VALUE (repeatable)")] = None,
    timeout: Annotated[str, typer.Option(help="Per-request timeout")] = "5s",
    shards: Annotated[int, typer.Option(help="Split the run across N local processes")] = 1,
    threshold: Annotated[list[str] | None, typer.Option(help="e.g. 'p99<500ms', 'errors<1%' (repeatable)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout")] = False,
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report")] = None,
    max_in_flight: Annotated[int, typer.Option(help="Open loop: cap on requests in flight")] = 1000,
    max_burst: Annotated[
        int | None, typer.Option(help="Open loop: catch-up burst cap (default max(10, 1% rate))")
    ] = None,
    cpu_ms: Annotated[float | None, typer.Option(help="Body {'cpu_ms': X} for /load/cpu/work")] = None,
    iterations: Annotated[int | None, typer.Option(help="Body {'iterations': N} for /load/cpu/work")] = None,
    insecure: Annotated[bool, typer.Option(help="Skip TLS certificate verification")] = False,
    save: Annotated[
        bool, typer.Option("--save", help="Record the run in the store (DATABASE_URL) so the dashboard shows it")
    ] = False,
    run_id: Annotated[str | None, typer.Option(hidden=True)] = None,
    shard_index: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Drive load at a URL: open loop (--rate) or closed loop (--concurrency), with live progress and a summary."""
    if run_id is not None:
        # Registers the store-backed sink, so this shard's figures merge with the others in the store.
        from load_harness.runs import sink as _store_sink  # noqa: F401
    if run_id is not None and url is None and rate is None and concurrency is None and stages is None:
        plan, stored_thresholds = stored_run(run_id)
        threshold = [*(threshold or []), *stored_thresholds]
    else:
        plan = build_plan(
            url,
            rate=rate,
            concurrency=concurrency,
            duration=duration,
            requests=requests,
            stages=stages,
            method=method,
            body=body,
            headers=header,
            timeout=timeout,
            max_in_flight=max_in_flight,
            max_burst=max_burst,
            cpu_ms=cpu_ms,
            iterations=iterations,
            insecure=insecure,
        )
    if shards < 1 or (shard_index is not None and not 0 <= shard_index < shards):
        raise _usage("--shards must be >= 1 and --shard-index in [0, shards)", "--shards")
    try:
        checks_spec: list[Threshold] = [parse_threshold(t) for t in threshold or []]
    except ThresholdError as exc:
        raise _usage(str(exc), "--threshold") from None
    err = Console(stderr=True)
    if save and run_id is None:
        from load_harness.runs.local import create_cli_run

        run_id = create_cli_run(plan, shards, threshold or [])
        err.print(f"run {run_id} recorded in the store")
    title = f"{plan.method} {plan.url} ({'rate' if plan.mode == 'open' else 'concurrency'})"
    live = None if json_output else LiveView(title, err)
    try:
        if live is not None:
            with live:
                state = execute(plan, shards=shards, shard_index=shard_index, run_id=run_id, live=live)
        else:
            state = execute(plan, shards=shards, shard_index=shard_index, run_id=run_id)
    except (DriverError, LookupError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(EXIT_ABORTED) from None
    summary = summarize(state)
    checks = evaluate(checks_spec, summary)
    code = exit_code(summary, checks)
    if json_output:
        sys.stdout.write(json.dumps({**summary, "thresholds": checks, "exit_code": code}) + "\n")
    else:
        Console().print(render_summary(summary, checks))
    if report is not None:
        write_report(report, summary, checks)
    if summary["stop_reason"] == "aborted":
        err.print(f"[bold red]aborted:[/] {summary['message']}")
    if code:
        raise typer.Exit(code)


def exit_code(summary: dict[str, Any], checks: list[dict[str, Any]]) -> int:
    if summary["stop_reason"] == "aborted":
        return EXIT_ABORTED
    if any(not check["passed"] for check in checks):
        return EXIT_THRESHOLDS
    if summary["stop_reason"] == "interrupted":
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    standalone.command()(drive_command)
    standalone()
