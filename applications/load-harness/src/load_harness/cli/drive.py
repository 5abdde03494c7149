"""`load-harness drive`: run the load driver from the command line (see docs/driver.md).

Exit codes: 0 ok, 99 a threshold failed (like k6), 2 usage error, 1 the run could not happen or was aborted
(unreachable target, unknown host), 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sys
from typing import TYPE_CHECKING, Any

import typer

from load_harness.driver import eventloop
from load_harness.driver.client import DriverError
from load_harness.driver.command import DriveOptions, drive_options
from load_harness.driver.launcher import ShardProcesses, StreamSink, await_go, live_from_state
from load_harness.driver.options import OptionsError, spec_from_cli
from load_harness.driver.options import build_plan as options_build_plan
from load_harness.driver.plan import Plan
from load_harness.driver.runner import Runner
from load_harness.driver.sink import NullSink, RunSink, TeeSink
from load_harness.driver.state import DriverState, StopReason, Summary
from load_harness.driver.summary import summarize
from load_harness.driver.thresholds import Threshold, ThresholdError, ThresholdResult, evaluate, parse_threshold
from load_harness.settings import check_pushgateway_url, get_settings

if TYPE_CHECKING:
    from load_harness.driver.progress import LiveView
    from load_harness.driver.push_sink import PushSink

EXIT_ABORTED = 1
EXIT_THRESHOLDS = 99
EXIT_INTERRUPTED = 130
CLI_ORIGIN = "cli"  # the origin label of runs pushed from the command line (runs.model.RunOrigin.CLI)


def _say(text: str) -> None:
    """A line on stderr, styled by rich, which loads only when something is said: a --json run or a shard never
    needs it (a few MB of each shard's RSS)."""
    from rich.console import Console

    Console(stderr=True).print(text)


def _usage(message: str, param: str | None = None) -> typer.BadParameter:
    return typer.BadParameter(message, param_hint=param)


def build_plan(url: str | None, **options: Any) -> Plan:
    """The flags (driver.options.spec_from_cli) → a RunSpec → a Plan, held to the same bounds as a run started
    through the API; every error is a usage error (exit 2) naming the flag."""
    try:
        return options_build_plan(spec_from_cli(url, **options))
    except OptionsError as exc:
        param = "URL" if exc.field == "url" else f"--{exc.field}"
        raise _usage(str(exc), param) from None


def stored_run(run_id: str) -> tuple[Plan, list[str]]:
    """The plan and thresholds of a run created through the API: what an Indexed Job's shard drives."""
    from load_harness.runs.store_sink import stored_plan  # the store is imported only by runs that use it

    found = stored_plan(run_id)
    if found is None:
        raise _usage(f"no run {run_id!r} in the store; create it with POST /runs first", "--run-id")
    return found


def _traced(sink: RunSink, plan: Plan) -> RunSink:
    """The run's sink, plus its spans when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT): otherwise nothing from
    opentelemetry is imported, which keeps a shard's RSS and start time as they were."""
    from load_harness.telemetry import tracing

    if not tracing.enabled():
        return sink
    from load_harness.driver.trace_sink import TracingSink
    from load_harness.settings import get_settings

    tracing.start(get_settings(), component="driver")
    active = tracing.tracer()
    assert active is not None  # started just above
    return TeeSink(sink, TracingSink(active, plan))


def _store_sink(run_id: str, shard_index: int, shards: int) -> RunSink:
    from load_harness.runs.store_sink import StoreSink

    return StoreSink.for_run(run_id, shard_index, shards)


def _push_sink(gateway: str, origin: str) -> PushSink:
    # Loaded only when a gateway is set: prometheus_client's push machinery is no shard's business otherwise.
    from load_harness.driver.push_sink import PushSink, PushTarget

    return PushSink(PushTarget(gateway, origin))


def _push_stored_run(run_id: str, gateway: str) -> None:
    """After a stored run's shard: once the last shard has finished, the store holds the whole run's summary;
    push that (a shard's own state is only its share). Two shards finishing together may both push it: the same
    figures to the same group, so the second push changes nothing. Reading the store may fail too; it only warns."""
    from sqlalchemy.exc import SQLAlchemyError

    from load_harness.driver.push_sink import warn
    from load_harness.runs import repository as run_store
    from load_harness.store.engine import get_engine

    try:
        run = run_store.get(get_engine(), run_id)
    except SQLAlchemyError as exc:
        warn(f"no push to {gateway}: reading run {run_id} failed: {exc.__class__.__name__}")
        return
    if run is not None and not run.active and run.summary is not None:
        _push_sink(gateway, str(run.source)).push(run.summary)


async def _run_in_process(
    plan: Plan, sink: RunSink, run_id: str | None, live: LiveView | None, start_at: float | None = None
) -> DriverState:
    on_second = live.update if live is not None else None
    runner = Runner(plan, sink=sink, run_id=run_id, on_second=on_second, start_at=start_at)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not possible outside the main thread (e.g. under a test runner's thread): then no signal handling.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, runner.request_stop, StopReason.INTERRUPTED, "interrupted by a signal")
    return await runner.run()


def _run_shard(plan: Plan, shard_index: int, shards: int, run_id: str | None, stream: bool) -> DriverState:
    """One share of a bigger run, launched by driver.launcher (stream) or run by an Indexed Job's pod."""
    sinks: list[RunSink] = []
    start_at = None
    channel = StreamSink() if stream else None
    try:
        if channel is not None:
            go = await_go(channel)  # the launcher sends the plan and the common start
            plan, start_at = Plan.from_record(go.plan), go.start_at
            sinks.append(channel)
        if run_id is not None:
            sinks.append(_store_sink(run_id, shard_index, shards))
        sink = TeeSink(*sinks) if len(sinks) > 1 else sinks[0] if sinks else NullSink()
        share = plan.for_shard(shard_index, shards)
        return eventloop.run(_run_in_process(share, _traced(sink, share), run_id, None, start_at))
    except (DriverError, LookupError) as exc:
        if channel is not None:
            channel.send_error(str(exc))
        raise


def execute(
    plan: Plan,
    *,
    shards: int = 1,
    shard_index: int | None = None,
    run_id: str | None = None,
    stream: bool = False,
    live: LiveView | None = None,
    pushgateway: str | None = None,
) -> DriverState:
    """Run a plan: one share of a bigger run, N local shard processes, or the whole run in this process. With a
    `pushgateway`, the whole run's summary is pushed once at the end, by whichever process knows the whole run:
    this one, the launcher of local shards, or the last shard of a stored run; never a launched (stream) shard."""
    if shard_index is not None:
        state = _run_shard(plan, shard_index, shards, run_id, stream)
        if pushgateway and run_id is not None and not stream:
            _push_stored_run(run_id, pushgateway)
        return state
    if shards > 1:
        on_state = (lambda state: live.update(live_from_state(state))) if live is not None else None
        merged = ShardProcesses(shards, run_id=run_id, stream=True).run(plan, on_state)
        if pushgateway:
            _push_sink(pushgateway, CLI_ORIGIN).finish(merged)
        return merged
    sinks: list[RunSink] = [_store_sink(run_id, 0, 1)] if run_id else []
    if pushgateway:
        sinks.append(_push_sink(pushgateway, CLI_ORIGIN))
    sink = TeeSink(*sinks) if len(sinks) > 1 else sinks[0] if sinks else NullSink()
    return eventloop.run(_run_in_process(plan, _traced(sink, plan), run_id, live))


@functools.wraps(drive_options)  # typer reads drive_options' signature: the one definition of the flags
def drive_command(*args: Any, **kwargs: Any) -> None:
    run_command(drive_options(*args, **kwargs))


def run_command(options: DriveOptions) -> None:
    """`load-harness drive` with its options parsed."""
    run_id, threshold = options.run_id, list(options.threshold or [])
    targetless = options.url is None and options.rate is None and options.concurrency is None and not options.stages
    if run_id is not None and targetless:  # a shard of a stored run: the plan is in the store
        plan, stored_thresholds = stored_run(run_id)
        threshold = [*threshold, *stored_thresholds]
    else:
        plan = build_plan(
            options.url,
            rate=options.rate,
            concurrency=options.concurrency,
            duration=options.duration,
            requests=options.requests,
            stages=options.stages,
            method=options.method,
            body=options.body,
            headers=options.header,
            timeout=options.timeout,
            max_in_flight=options.max_in_flight,
            max_burst=options.max_burst,
            cpu_ms=options.cpu_ms,
            iterations=options.iterations,
            insecure=options.insecure,
            shards=options.shards,
            thresholds=threshold,
        )
    if options.shards < 1 or (options.shard_index is not None and not 0 <= options.shard_index < options.shards):
        raise _usage("--shards must be >= 1 and --shard-index in [0, shards)", "--shards")
    try:
        checks_spec: list[Threshold] = [parse_threshold(t) for t in threshold]
    except ThresholdError as exc:
        raise _usage(str(exc), "--threshold") from None
    pushgateway = _pushgateway(options.pushgateway)
    if options.save and run_id is None:
        from load_harness.runs.store_sink import create_cli_run

        run_id = create_cli_run(plan, options.shards, threshold)
        _say(f"run {run_id} recorded in the store")
    if options.stream:  # a launched shard: its states go to the launcher, which prints the run's summary
        try:
            execute(plan, shards=options.shards, shard_index=options.shard_index, run_id=run_id, stream=True)
        except (DriverError, LookupError):
            raise typer.Exit(EXIT_ABORTED) from None
        return
    title = f"{plan.method} {plan.url} ({'options.rate' if plan.mode == 'open' else 'options.concurrency'})"
    live = None
    if not options.json_output:
        from rich.console import Console

        from load_harness.driver.progress import LiveView

        live = LiveView(title, Console(stderr=True))
    where: dict[str, Any] = {"shards": options.shards, "shard_index": options.shard_index, "run_id": run_id}
    try:
        if live is not None:
            with live:
                state = execute(plan, live=live, pushgateway=pushgateway, **where)
        else:
            state = execute(plan, pushgateway=pushgateway, **where)
    except (DriverError, LookupError) as exc:
        _say(f"[bold red]error:[/] {exc}")
        raise typer.Exit(EXIT_ABORTED) from None
    summary = summarize(state)
    checks = evaluate(checks_spec, summary)
    code = exit_code(summary, checks)
    if options.json_output:
        document = {
            **summary.model_dump(mode="json"),
            "thresholds": [check.model_dump(mode="json") for check in checks],
            "exit_code": code,
        }
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        from rich.console import Console

        from load_harness.driver.progress import render_summary

        Console().print(render_summary(summary, checks))
    if options.report is not None:
        from load_harness.driver.report import write_report  # Jinja2 costs ~7 MB of RSS: only for --report

        write_report(options.report, summary, checks)
    if summary.stop_reason is StopReason.ABORTED:
        _say(f"[bold red]aborted:[/] {summary.message}")
    if code:
        raise typer.Exit(code)


def _pushgateway(flag: str | None) -> str | None:
    """--pushgateway, else PUSHGATEWAY_URL (checked when the settings load), else None: no push."""
    if flag is None:
        return get_settings().pushgateway_url or None
    try:
        return check_pushgateway_url(flag)
    except ValueError as exc:
        raise _usage(str(exc), "--pushgateway") from None


def exit_code(summary: Summary, checks: list[ThresholdResult]) -> int:
    if summary.stop_reason is StopReason.ABORTED:
        return EXIT_ABORTED
    if any(not check.passed for check in checks):
        return EXIT_THRESHOLDS
    if summary.stop_reason is StopReason.INTERRUPTED:
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    standalone.command()(drive_command)
    standalone()
