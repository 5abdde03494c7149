"""Driver runs as a service: check, create, stop, read and list them. POST /runs, the dashboard and the Flagger
webhook all start runs here, so each is held to the same checks: the SSRF guard on the target, the headers the
driver can send, the thresholds, the run bounds (driver.options.build_plan, the CLI's own validator) and what this
pod could ever run; then admission within the pod's budget, in the same transaction as the insert.

Errors are `ProblemError`s naming the POST /runs field (`duration_seconds`, `headers.X-Team`, `thresholds.0`):
the API answers them as they are, the dashboard maps them to its form fields, Flagger to `metadata.<key>`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from load_harness import limits as L
from load_harness.context import ctx
from load_harness.driver.options import build_plan, header_problem
from load_harness.driver.plan import Plan
from load_harness.driver.spec import OptionsError, RunSpec, bound_value, check_bound, default_target
from load_harness.driver.thresholds import ThresholdError, parse_threshold
from load_harness.problems import ProblemError, field_error, invalid
from load_harness.runs import repository as run_store
from load_harness.runs.guard import TargetRefused, check_target
from load_harness.runs.model import RunOptions, RunOrigin, RunStatus
from load_harness.wakeup import wake

Placement = Literal["local", "external"]
# OptionsError names options as the CLI's flags; these are the POST /runs fields they come from.
API_FIELDS = {
    "duration": "duration_seconds",
    "timeout": "timeout_seconds",
    "header": "headers",
    "threshold": "thresholds",
    "cpu-ms": "cpu_ms",
}


@dataclass(frozen=True)
class RunBounds:
    """What a run started here may ask for, as of now (the dashboard's form shows and checks these)."""

    rate_max: float
    concurrency_max: int
    duration_max_s: float
    duration_default_s: float
    shards_max: int  # for placement "local": the lower of DRIVER_SHARDS_MAX and this pod's MAX_SHARD_PROCESSES


def bounds() -> RunBounds:
    """Read now, from limits.py and this pod's limits."""
    return RunBounds(
        rate_max=bound_value("rate"),
        concurrency_max=int(bound_value("concurrency")),
        duration_max_s=bound_value("duration"),
        duration_default_s=float(L.DRIVER_DURATION_DEFAULT_S),
        shards_max=min(int(bound_value("shards")), ctx().limits.max_shard_processes),
    )


def problem(exc: OptionsError) -> ProblemError:
    """An OptionsError as the 422 POST /runs answers: the field, the message, the value and the bound broken."""
    field = API_FIELDS.get(exc.field, exc.field)
    return invalid([field_error(field, str(exc), exc.value, exc.limit)])


def default_url() -> str:
    """This service's own /load/cpu/work: through its Service in a cluster (SERVICE_URL), on loopback otherwise."""
    settings = ctx().settings
    return default_target(settings.service_url or None, settings.port)


def check(spec: RunSpec, placement: Placement = "local") -> Plan:
    """Everything but admission; returns the plan as the driver will run it. Raises a 422 naming the field."""
    context = ctx()
    try:
        check_bound("url", spec.url)  # before the guard reads it
    except OptionsError as exc:
        raise problem(exc) from exc
    try:
        check_target(spec.url, context.settings)
    except TargetRefused as exc:
        raise invalid([field_error("url", str(exc), spec.url[:200])]) from exc
    for name, value in spec.headers:
        # Checked here, not by build_plan, so that the error names the header (`headers.X-Team`).
        reason = header_problem(name, value)
        if reason:
            raise invalid([field_error(f"headers.{name[:64]}", reason, value[:80])])
    for index, text in enumerate(spec.thresholds):
        try:
            parse_threshold(text)  # capped at limits.THRESHOLD_TEXT_MAX before it reads anything
        except ThresholdError as exc:
            raise invalid([field_error(f"thresholds.{index}", str(exc), text[:80])]) from exc
    cap = context.limits.max_shard_processes
    if placement == "local" and spec.shards > cap:
        message = f"this pod runs at most {cap} driver shard processes (MAX_SHARD_PROCESSES)"
        raise invalid([field_error("shards", message, spec.shards, {"le": cap})])
    try:
        plan = build_plan(spec)
    except OptionsError as exc:
        raise problem(exc) from exc
    if math.isinf(plan.duration_s):  # only a RunSpec made by hand can get here; spec_of always sets a length
        field = "stages" if spec.stages else "duration_seconds"
        raise invalid([field_error(field, "a run started here must end: give it a duration", None)])
    return plan


def create(
    spec: RunSpec,
    *,
    source: RunOrigin,
    placement: Placement = "local",
    labels: Mapping[str, str | None] | None = None,
    dedupe_key: str | None = None,
) -> run_store.Run:
    """Check the run, admit it within this pod's budget and store it; the supervisor is woken to start it.

    `labels` are kept with the run's options (a dashboard name and preset, a Flagger canary). With `dedupe_key`,
    an active run holding the same key is not repeated: run_store.DuplicateRun carries it."""
    context = ctx()
    plan = check(spec, placement)
    local = placement == "local"
    # Only runs this pod's supervisor launches count against its budget; an Indexed Job's pods have their own.
    budget = run_store.RunBudget(context.limits.max_concurrent_runs, context.limits.max_shard_processes)
    try:
        run = run_store.create(
            context.engine,
            target=plan.url,  # as the driver sends it (percent-encoded)
            plan=plan.to_record(),
            options=RunOptions(thresholds=list(spec.thresholds), placement=placement, **(labels or {})),
            shards=spec.shards,
            source=source,
            pod=context.settings.pod_name if local else None,
            budget=budget if local else None,
            dedupe_key=dedupe_key,
        )
    except run_store.RunAdmissionError as exc:
        raise ProblemError(409, "Not enough room on this pod", str(exc), kind="run-admission") from exc
    wake()
    return run


def get(run_id: str) -> run_store.Run:
    run = run_store.get(ctx().engine, run_id)
    if run is None:
        raise ProblemError(404, "Not Found", f"no run with id {run_id!r}", kind="not-found")
    return run


def stop(run_id: str) -> run_store.Run:
    """Ask an active run to stop (every shard, wherever it runs, sees the flag within a second); 404 for an
    unknown run, 409 for one that has already ended."""
    run = get(run_id)
    if not run_store.request_stop(ctx().engine, run.id):
        raise ProblemError(409, "Run not active", f"run {run_id} is already {run.status}", kind="run-not-active")
    wake()  # a supervisor waiting between polls stops its shards at once
    return get(run_id)


def list_runs(
    *,
    limit: int,
    status: RunStatus | None = None,
    source: RunOrigin | None = None,
    target: str | None = None,
) -> list[run_store.Run]:
    """Runs, newest first; `target` keeps those whose target URL contains the text."""
    return run_store.list_runs(
        ctx().engine, limit=limit, statuses=[status] if status else None, source=source, target_contains=target
    )
