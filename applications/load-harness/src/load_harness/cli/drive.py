"""`load-harness drive`: run the load driver from the command line (see docs/driver.md).

Exit codes: 0 ok, 99 a threshold failed (like k6), 2 usage error, 1 the run could not happen or was aborted
(unreachable target, unknown host), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from load_harness.driver.client import DriverError
from load_harness.driver.plan import Mode, Plan, PlanError, Stage, parse_duration, parse_stages
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
DEFAULT_PATH = "/load/cpu/work"


def default_url() -> str:
    """This service's CPU-work endpoint: $LOAD_HARNESS_SERVICE_URL, else http://127.0.0.1:$PORT (8080)."""
    base = os.environ.get("LOAD_HARNESS_SERVICE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"
    return base.rstrip("/") + DEFAULT_PATH


def _usage(message: str, param: str | None = None) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=param)


def _parse_headers(items: list[str]) -> list[tuple[str, str]]:
    headers = []
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c in item for c in "\r\n"):
            raise _usage(f"bad header {item!r}: use NAME:VALUE", "--header")
        headers.append((name.strip(), value.strip()))
    return headers


def build_plan(
    url: str | None,
    *,
    rate: float | None = None,
    concurrency: int | None = None,
    duration: str | None = None,
    requests: int | None = None,
    stages: str | None = None,
    method: str | None = None,
    body: str | None = None,
    headers: list[str] | None = None,
    timeout: str = "5s",
    max_in_flight: int = 1000,
    max_burst: int | None = None,
    cpu_ms: float | None = None,
    iterations: int | None = None,
    insecure: bool = False,
) -> Plan:
    """Validate the CLI options into a Plan; raises typer.BadParameter (exit 2) with a clear message."""
    if rate is not None and concurrency is not None:
        raise _usage("give either --rate (open loop) or --concurrency (closed loop), not both")
    floor = 0 if stages else 1e-9  # with --stages the flag only gives the starting target, which may be 0
    if rate is not None and (not math.isfinite(rate) or rate < floor):
        raise _usage(f"--rate must be > 0, got {rate}", "--rate")
    if concurrency is not None and concurrency < (0 if stages else 1):
        raise _usage(f"--concurrency must be >= 1, got {concurrency}", "--concurrency")
    if requests is not None and requests < 1:
        raise _usage("--requests must be >= 1", "--requests")
    if max_in_flight < 1:
        raise _usage("--max-in-flight must be >= 1", "--max-in-flight")
    if stages and duration:
        raise _usage("--stages already sets the duration; drop --duration", "--duration")
    try:
        timeout_s = parse_duration(timeout)
        stage_list: tuple[Stage, ...] = parse_stages(stages) if stages else ()
        duration_s = parse_duration(duration) if duration else (math.inf if requests else 30.0)
    except PlanError as exc:
        raise _usage(str(exc)) from None
    mode: Mode = "closed" if concurrency is not None or (rate is None and not stages) else "open"
    start = float(rate if rate is not None else concurrency if concurrency is not None else (0 if stages else 1))
    if not stage_list:
        stage_list = (Stage(duration_s, start),)
    if mode == "open" and math.isinf(sum(s.duration_s for s in stage_list)) and start <= 0:
        raise _usage("--rate must be > 0", "--rate")

    header_pairs = _parse_headers(headers or [])
    if sum(x is not None for x in (body, cpu_ms, iterations)) > 1:
        raise _usage("give only one of --body, --cpu-ms, --iterations")
    if cpu_ms is not None:
        body = json.dumps({"cpu_ms": cpu_ms})
    elif iterations is not None:
        body = json.dumps({"iterations": iterations})
    if url is None:
        url = default_url()
        if body is None:
            body = "{}"  # the endpoint's own defaults
    has_type = any(name.lower() == "content-type" for name, _ in header_pairs)
    if body is not None and not has_type:
        try:
            json.loads(body)
        except ValueError as exc:
            raise _usage(f"--body is not valid JSON ({exc}); set a Content-Type header to send other data") from None
        header_pairs.append(("Content-Type", "application/json"))
    if not url.startswith(("http://", "https://")):
        raise _usage(f"URL must start with http:// or https://: {url!r}", "URL")
    verb = (method or ("POST" if body is not None else "GET")).upper()
    return Plan(
        url=url,
        mode=mode,
        start_target=start,
        stages=stage_list,
        requests=requests,
        method=verb,
        headers=tuple(header_pairs),
        body=(body or "").encode(),
        timeout_s=timeout_s,
        max_in_flight=max_in_flight,
        max_burst=max_burst,
        insecure=insecure,
    )


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
    run_id: Annotated[str | None, typer.Option(hidden=True)] = None,
    shard_index: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Drive load at a URL: open loop (--rate) or closed loop (--concurrency), with live progress and a summary."""
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
