"""`load-harness drive`'s options: the one definition that the CLI (cli/drive.py) and the Flagger webhook
(runs/cmdline.py) both parse command lines with, so the two cannot drift.

`drive_options` is a typer signature that only collects its values into `DriveOptions`; the CLI wraps it
(functools.wraps keeps the signature typer reads) and does the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from load_harness.driver.launcher import STREAM_FLAG


@dataclass(frozen=True)
class DriveOptions:
    url: str | None
    rate: float | None
    concurrency: int | None
    duration: str | None
    requests: int | None
    stages: str | None
    method: str | None
    body: str | None
    header: list[str] | None
    timeout: str
    shards: int
    threshold: list[str] | None
    json_output: bool
    report: Path | None
    max_in_flight: int
    max_burst: int | None
    cpu_ms: float | None
    iterations: int | None
    insecure: bool
    save: bool
    pushgateway: str | None
    run_id: str | None
    shard_index: int | None
    stream: bool


def drive_options(
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
    pushgateway: Annotated[
        str | None,
        typer.Option(help="Push the run's summary to this Pushgateway when it ends (default: PUSHGATEWAY_URL)"),
    ] = None,
    run_id: Annotated[str | None, typer.Option(hidden=True)] = None,
    shard_index: Annotated[int | None, typer.Option(hidden=True)] = None,
    stream: Annotated[bool, typer.Option(STREAM_FLAG, hidden=True)] = False,
) -> DriveOptions:
    """Drive load at a URL: open loop (--rate) or closed loop (--concurrency), with live progress and a summary."""
    return DriveOptions(
        url=url,
        rate=rate,
        concurrency=concurrency,
        duration=duration,
        requests=requests,
        stages=stages,
        method=method,
        body=body,
        header=header,
        timeout=timeout,
        shards=shards,
        threshold=threshold,
        json_output=json_output,
        report=report,
        max_in_flight=max_in_flight,
        max_burst=max_burst,
        cpu_ms=cpu_ms,
        iterations=iterations,
        insecure=insecure,
        save=save,
        pushgateway=pushgateway,
        run_id=run_id,
        shard_index=shard_index,
        stream=stream,
    )
