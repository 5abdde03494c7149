"""Driver runs: start, list, read and stop them; plus Flagger's load-test webhook. Every target passes the SSRF
guard, every bound comes from limits.DRIVER_*, and the plan is built by the CLI's own option parser. Runs this
pod's supervisor runs (placement "local") are admitted within MAX_CONCURRENT_RUNS and MAX_SHARD_PROCESSES."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, jsonify

from load_harness import limits as L
from load_harness.api.models import Problem
from load_harness.api.problems import ProblemError, field_error, invalid
from load_harness.api.run_models import RunQuery, RunRequest
from load_harness.api.validation import documented, parse_body, parse_query
from load_harness.context import ctx
from load_harness.driver.options import OptionsError, build_plan, header_problem
from load_harness.driver.plan import Plan
from load_harness.driver.thresholds import ThresholdError, parse_threshold
from load_harness.runs.guard import TargetRefused, check_target
from load_harness.runs.view import run_view
from load_harness.store import runs as run_store
from load_harness.supervisor.wakeup import wake

bp = Blueprint("runs", __name__)
ERRORS: dict[int, type[Problem] | str] = {400: Problem, 409: Problem, 422: Problem}


def default_target() -> str:
    """This service's own /load/cpu/work: through its Service in a cluster, on loopback otherwise."""
    settings = ctx().settings
    base = settings.service_url.rstrip("/") if settings.service_url else f"http://127.0.0.1:{settings.port}"
    return base + "/load/cpu/work"


def check_request(req: RunRequest) -> str:
    """What can be checked before building the plan: the target against the SSRF guard, the headers, the
    thresholds and the shard count. Returns the target URL (the default one when the request names none)."""
    url = req.url or default_target()
    try:
        check_target(url, ctx().settings)
    except TargetRefused as exc:
        raise invalid([field_error("url", str(exc), url[:200])]) from exc
    for name, value in req.headers.items():
        # Checked here, not by build_plan, so that the error names the header (`headers.X-Team`).
        problem = header_problem(name, value)
        if problem:
            raise invalid([field_error(f"headers.{name[:64]}", problem, value[:80])])
    for index, text in enumerate(req.thresholds):
        try:
            parse_threshold(text)
        except ThresholdError as exc:
            raise invalid([field_error(f"thresholds.{index}", str(exc), text[:80])]) from exc
    cap = ctx().limits.max_shard_processes
    if req.placement == "local" and req.shards > cap:
        message = f"this pod runs at most {cap} driver shard processes (MAX_SHARD_PROCESSES)"
        raise invalid([field_error("shards", message, req.shards, {"le": cap})])
    return url


def create_run(
    req: RunRequest, source: str, extra_options: dict[str, Any] | None = None, dedupe_key: str | None = None
) -> run_store.Run:
    """Validate a run request completely (target, plan, thresholds), admit it and store it; shared by the API,
    the dashboard and the Flagger webhook. With `dedupe_key`, an active run holding the same key is not repeated:
    run_store.DuplicateRun carries it."""
    context = ctx()
    settings = context.settings
    url = check_request(req)
    rate = req.rate
    concurrency = req.concurrency
    if req.stages and rate is None and concurrency is None:
        rate, concurrency = (0.0, None) if req.mode == "rate" else (None, 0)
    body = req.body
    if req.url is None and body is None and req.cpu_ms is None and req.iterations is None:
        body = "{}"  # the work endpoint's own defaults
    try:
        plan = build_plan(
            url,
            rate=rate,
            concurrency=concurrency,
            # A run started remotely always ends: requests alone would not bound it if the target slows down.
            duration=None if req.stages else f"{req.duration_seconds or L.DRIVER_DURATION_DEFAULT_S}s",
            requests=req.requests,
            stages=req.stages,
            method=req.method,
            body=body,
            headers=[f"{k}:{v}" for k, v in req.headers.items()],
            timeout=f"{req.timeout_seconds}s",
            cpu_ms=req.cpu_ms,
            iterations=req.iterations,
        )
    except OptionsError as exc:
        raise invalid([field_error(exc.field, str(exc), exc.value)]) from exc
    _check_plan_bounds(plan)
    local = req.placement == "local"
    # Only runs this pod's supervisor launches count against its budget; an Indexed Job's pods have their own.
    budget = run_store.RunBudget(context.limits.max_concurrent_runs, context.limits.max_shard_processes)
    try:
        run = run_store.create(
            context.engine,
            target=plan.url,  # as the driver sends it (percent-encoded)
            plan=plan.to_dict(),
            options={"thresholds": req.thresholds, "placement": req.placement, **(extra_options or {})},
            shards=req.shards,
            source=source,
            pod=settings.pod_name if local else None,
            budget=budget if local else None,
            dedupe_key=dedupe_key,
        )
    except run_store.RunAdmissionError as exc:
        raise ProblemError(409, "Not enough room on this pod", str(exc), kind="run-admission") from exc
    wake()
    return run


def started(run: run_store.Run) -> tuple[Response, int]:
    body: dict[str, Any] = run_view(ctx().engine, run)
    if run.pod is None:
        body["launch"] = (
            f"load-harness drive --run-id {run.id} --shard-index $JOB_COMPLETION_INDEX --shards {run.shards}"
        )
    return jsonify(body), 202


@bp.post("/runs")
@documented("Start a driver run", body=RunRequest, responses={202: "Started", **ERRORS}, tags=["runs"])
def start_run() -> tuple[Response, int]:
    return started(create_run(parse_body(RunRequest), source="api"))


@bp.get("/runs")
@documented("Runs, newest first", query=RunQuery, tags=["runs"])
def list_runs() -> Response:
    query = parse_query(RunQuery)
    engine = ctx().engine
    found = run_store.list_runs(
        engine,
        limit=query.limit,
        statuses=[query.status] if query.status else None,
        source=query.source,
        target_contains=query.target,
    )
    return jsonify(runs=[run_view(engine, run) for run in found], count=len(found))


def _run_or_404(run_id: str) -> run_store.Run:
    run = run_store.get(ctx().engine, run_id)
    if run is None:
        raise ProblemError(404, "Not Found", f"no run with id {run_id!r}", kind="not-found")
    return run


@bp.get("/runs/<run_id>")
@documented("One run: merged figures, time series, per-pod table, thresholds", responses={404: Problem}, tags=["runs"])
def get_run(run_id: str) -> Response:
    return jsonify(run_view(ctx().engine, _run_or_404(run_id), detail=True))


@bp.post("/runs/<run_id>/stop")
@documented("Stop a run (every shard, wherever it runs)", responses={404: Problem, 409: Problem}, tags=["runs"])
def stop_run(run_id: str) -> Response:
    run = _run_or_404(run_id)
    if not run_store.request_stop(ctx().engine, run.id):
        raise ProblemError(409, "Run not active", f"run {run_id} is already {run.status}", kind="run-not-active")
    return jsonify(run_view(ctx().engine, _run_or_404(run_id)))


def _check_plan_bounds(plan: Plan) -> None:
    """Stages can ramp past what the single-value fields allow; hold them to the same limits."""
    if math.isinf(plan.duration_s) or plan.duration_s > L.DRIVER_DURATION_MAX_S:
        raise invalid(
            [
                field_error(
                    "stages",
                    f"the run must end within {L.DRIVER_DURATION_MAX_S} s",
                    plan.duration_s,
                    {"le": L.DRIVER_DURATION_MAX_S},
                )
            ]
        )
    highest = max([plan.start_target, *(stage.target for stage in plan.stages)])
    bound = L.DRIVER_RATE_MAX if plan.mode == "open" else L.DRIVER_CONCURRENCY_MAX
    if highest > bound:
        raise invalid([field_error("stages", f"targets must be ≤ {bound:g}", highest, {"le": bound})])
