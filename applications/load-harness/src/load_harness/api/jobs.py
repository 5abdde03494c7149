"""CPU and memory jobs. Handlers validate, apply the pod's bounds, write a row, and wake the supervisor; the
supervisor starts the processes. Status comes from the store, so every worker and replica gives one answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from load_harness.api.models import (
    CpuJobRequest,
    JobList,
    JobStarted,
    ListQuery,
    MemoryJobRequest,
    MemorySyncRequest,
    Problem,
    Stopped,
    StopRequest,
    intensity_for,
)
from load_harness.api.validation import documented, parse_body, parse_query
from load_harness.context import ctx, iso, now_iso
from load_harness.limits import MIB
from load_harness.problems import ProblemError, field_error, invalid
from load_harness.store import jobs as job_store
from load_harness.wakeup import wake

bp = Blueprint("jobs", __name__)
ERRORS: dict[int, type[Problem] | str] = {409: Problem, 422: Problem, 400: Problem}


def job_view(job: job_store.Job) -> dict[str, Any]:
    params = job.params
    view: dict[str, Any] = {
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status,
        "pod": job.pod,
        "duration_seconds": params.get("duration_seconds"),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at or job.created_at),
        "completed_at": iso(job.finished_at) if job.status == "completed" else None,
        "stopped_at": iso(job.finished_at) if job.status in ("stopped", "lost", "failed") else None,
        "expires_at": iso(job.deadline_at),
        "cpu_seconds": job.cpu_seconds,
        "peak_rss_bytes": job.peak_rss_bytes,
        "error": job.error,
    }
    if job.kind == "cpu":
        utilization = params.get("utilization")
        view.update(
            cores_requested=params.get("cores"),
            cores_active=params.get("cores") if job.status == "running" else 0,
            utilization=utilization,
            # The original's field, as the level in force (not only when the request named one).
            intensity=intensity_for(utilization) if utilization is not None else params.get("intensity"),
            cpu_cores_target=job.cpu_cores,
        )
    else:
        view.update(size_mb=params.get("size_mb"), memory_bytes=job.memory_bytes)
    return view


def _admit(new: job_store.NewJob) -> job_store.Job:
    context = ctx()
    budget = job_store.Budget(
        cpu_cores=context.limits.cpu_budget_cores,
        max_jobs=context.limits.max_concurrent_jobs,
        memory_bytes=context.limits.memory_max_mb * MIB,
    )
    try:
        job = job_store.create(context.engine, new, budget)
    except job_store.AdmissionError as exc:
        raise ProblemError(409, "Not enough room on this pod", str(exc), kind="admission") from exc
    wake()
    return job


def _started(job: job_store.Job, kind_path: str, extra: dict[str, Any]) -> tuple[Response, int]:
    body = {
        "status": "started",
        "job_id": job.id,
        "duration_seconds": job.params["duration_seconds"],
        "pod": job.pod,
        "message": f"{kind_path} job started on {job.pod}",
        "check_status": f"/load/{kind_path}/status",
        "stop_endpoint": f"/load/{kind_path}/stop",
        "timestamp": now_iso(),
        **extra,
    }
    return jsonify(body), 200


def check_cpu_request(req: CpuJobRequest) -> None:
    """The pod-dependent bound on a valid request; raises a 422 problem. Shared with the dashboard's validation."""
    limits = ctx().limits
    if req.cores > limits.cores_max:
        raise invalid(
            [
                field_error(
                    "cores",
                    f"must be ≤ {limits.cores_max} (available cores {limits.available_cores:g} × overcommit)",
                    req.cores,
                    {"le": limits.cores_max},
                )
            ]
        )


def start_cpu_job(req: CpuJobRequest) -> job_store.Job:
    """Check, admit and record a CPU job; the API and the dashboard both start jobs through here."""
    check_cpu_request(req)
    limits = ctx().limits
    utilization = req.effective_utilization
    # P % means P % of what this container may use: a 0.5-core quota at 100 % burns 0.5 cores, not 1.
    target = min(req.cores, limits.available_cores) * utilization / 100
    params = {
        "cores": req.cores,
        "duration_seconds": req.duration_seconds,
        "utilization": utilization,
        "intensity": req.intensity,
    }
    new = job_store.NewJob("cpu", params, ctx().settings.pod_name, req.duration_seconds, cpu_cores=round(target, 4))
    return _admit(new)


def check_memory_request(req: MemoryJobRequest | MemorySyncRequest) -> None:
    """The container-dependent bound on a memory size, for jobs and for /load/memory/sync alike."""
    limits = ctx().limits
    if req.size_mb > limits.memory_max_mb:
        raise invalid(
            [
                field_error(
                    "size_mb",
                    f"must be ≤ {limits.memory_max_mb} MiB (the container memory limit "
                    f"{limits.memory_limit_mb or 'of the host'} minus a safety margin)",
                    req.size_mb,
                    {"le": limits.memory_max_mb},
                )
            ]
        )


def start_memory_job(req: MemoryJobRequest) -> job_store.Job:
    check_memory_request(req)
    params = {"size_mb": req.size_mb, "duration_seconds": req.duration_seconds}
    new = job_store.NewJob(
        "memory", params, ctx().settings.pod_name, req.duration_seconds, memory_bytes=req.size_mb * MIB
    )
    return _admit(new)


@bp.post("/load/cpu")
@documented("Start a CPU job", body=CpuJobRequest, responses={200: JobStarted, **ERRORS}, tags=["jobs"])
def start_cpu() -> tuple[Response, int]:
    req = parse_body(CpuJobRequest)
    job = start_cpu_job(req)
    return _started(
        job,
        "cpu",
        {
            "cores": req.cores,
            "utilization": req.effective_utilization,
            "intensity": intensity_for(req.effective_utilization),
            "cpu_cores_target": job.cpu_cores,
        },
    )


@bp.post("/load/memory")
@documented("Start a memory job", body=MemoryJobRequest, responses={200: JobStarted, **ERRORS}, tags=["jobs"])
def start_memory() -> tuple[Response, int]:
    req = parse_body(MemoryJobRequest)
    return _started(start_memory_job(req), "memory", {"size_mb": req.size_mb})


def _status(kind: str) -> Response:
    query = parse_query(ListQuery)
    engine = ctx().engine
    statuses = [query.status] if query.status else None
    jobs = job_store.list_jobs(engine, kind=kind, limit=query.limit, statuses=statuses)
    return jsonify(
        active_jobs=job_store.count(engine, kind=kind, status="running"),
        total_jobs=job_store.count(engine, kind=kind),
        jobs=[job_view(j) for j in jobs],
    )


def _stop(kind: str) -> Response:
    req = parse_body(StopRequest)
    engine = ctx().engine
    if req.job_id is not None:
        job = job_store.get(engine, req.job_id)
        if job is None or job.kind != kind:
            raise ProblemError(404, "Not Found", f"no {kind} job with id {req.job_id!r}", kind="not-found")
    stopped = job_store.request_stop(engine, kind, req.job_id)
    if stopped:
        wake()
    return jsonify(status="stopped", stopped_jobs=stopped, count=len(stopped))


@bp.get("/load/cpu/status")
@documented("CPU jobs, newest first", query=ListQuery, responses={200: JobList}, tags=["jobs"])
def cpu_status() -> Response:
    return _status("cpu")


@bp.get("/load/memory/status")
@documented("Memory jobs, newest first", query=ListQuery, responses={200: JobList}, tags=["jobs"])
def memory_status() -> Response:
    return _status("memory")


@bp.post("/load/cpu/stop")
@documented("Stop one CPU job, or all", body=StopRequest, responses={200: Stopped, 404: Problem}, tags=["jobs"])
def cpu_stop() -> Response:
    return _stop("cpu")


@bp.post("/load/memory/stop")
@documented("Stop one memory job, or all", body=StopRequest, responses={200: Stopped, 404: Problem}, tags=["jobs"])
def memory_stop() -> Response:
    return _stop("memory")


@bp.get("/jobs/<job_id>")
@documented("One job of any kind", responses={404: Problem}, tags=["jobs"])
def get_job(job_id: str) -> Response:
    job = job_store.get(ctx().engine, job_id)
    if job is None:
        raise ProblemError(404, "Not Found", f"no job with id {job_id!r}", kind="not-found")
    return jsonify(job_view(job))
