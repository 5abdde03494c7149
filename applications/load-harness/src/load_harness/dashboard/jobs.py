"""The CPU and Memory tabs (validate as the user types, start a job) and the active jobs panel (countdown, stop).

Jobs are started through the API's own functions (api.jobs.start_cpu_job...), so the limits, admission control
and messages are exactly the API's. The panel reads the store, so every worker and replica shows one list."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, render_template, request
from pydantic import BaseModel

from load_harness import limits as L
from load_harness.api import jobs as job_api
from load_harness.api.models import CpuJobRequest, MemoryJobRequest
from load_harness.context import ctx, iso
from load_harness.dashboard import runs_data
from load_harness.dashboard.blueprint import bp
from load_harness.dashboard.forms import FormResult, parse
from load_harness.problems import ProblemError
from load_harness.store import jobs as job_store
from load_harness.wakeup import wake

RECENT_FINISHED = 5


@dataclass(frozen=True)
class JobKind:
    name: str
    model: type[BaseModel]
    fields: dict[str, type]
    check: Callable[[Any], None]
    start: Callable[[Any], job_store.Job]


KINDS = {
    "cpu": JobKind(
        "cpu",
        CpuJobRequest,
        {"cores": int, "utilization": int, "duration_seconds": int},
        job_api.check_cpu_request,
        job_api.start_cpu_job,
    ),
    "memory": JobKind(
        "memory",
        MemoryJobRequest,
        {"size_mb": int, "duration_seconds": int},
        job_api.check_memory_request,
        job_api.start_memory_job,
    ),
}


def form_defaults(kind: str) -> dict[str, str]:
    limits = ctx().limits
    if kind == "cpu":
        return {
            "cores": "1",
            "utilization": str(L.UTILIZATION_MAX),
            "duration_seconds": str(L.CPU_DURATION_DEFAULT_S),
        }
    return {
        "size_mb": str(min(L.MEMORY_MB_DEFAULT, limits.memory_max_mb)),
        "duration_seconds": str(L.MEMORY_DURATION_DEFAULT_S),
    }


def bounds() -> dict[str, Any]:
    """Every bound a form shows, from limits.py (static) and the pod's limits (container-derived)."""
    return {"L": L, "pod": ctx().limits}


def _kind(kind: str) -> JobKind:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _parse(kind: JobKind) -> FormResult[Any]:
    return parse(kind.model, request.form, kind.fields, kind.check)


@bp.post("/<any(cpu, memory):kind>/validate")
def validate(kind: str) -> str:
    """One field's message (or nothing), for hx-trigger="input changed delay:300ms" next to that field."""
    result = _parse(_kind(kind))
    name = request.args.get("field", "")
    return render_template("dashboard/layout/field_error.html", message=result.errors.get(name, ""))


@bp.post("/<any(cpu, memory):kind>")
def start(kind: str) -> tuple[str, int, dict[str, str]]:
    spec = _kind(kind)
    result = _parse(spec)
    job = None
    status = 200
    if result.ok:
        try:
            job = spec.start(result.model)
        except ProblemError as exc:
            result.detail = exc.detail
    if job is None:
        status = 422 if result.errors else 409
    headers = {"HX-Trigger": "jobs-changed"} if job is not None else {}
    page = render_template(
        "dashboard/jobs/started.html",
        kind=kind,
        job=job_api.job_view(job) if job else None,
        result=result,
        fields=list(spec.fields),
    )
    return page, status, headers


def _entry(job: job_store.Job, now: float) -> dict[str, Any]:
    view = job_api.job_view(job)
    view["remaining_s"] = max(0, int(job.deadline_at - now))
    return view


def active_context() -> dict[str, Any]:
    engine = ctx().engine
    now = time.time()
    running = [_entry(j, now) for j in job_store.list_jobs(engine, statuses=["running"], limit=L.LIST_LIMIT_MAX)]
    finished_statuses = ["completed", "stopped", "failed", "lost"]
    recent = [
        job_api.job_view(j) for j in job_store.list_jobs(engine, statuses=finished_statuses, limit=RECENT_FINISHED)
    ]
    runs = [
        {"run": r, "expires_iso": iso(r.expires_at), "remaining_s": max(0, int((r.expires_at or now) - now))}
        for r in runs_data.active_runs()
    ]
    return {"running": running, "recent": recent, "runs": runs, "failed": False}


@bp.get("/partials/active")
def active_panel() -> str:
    return render_template("dashboard/jobs/active.html", **active_context())


@bp.post("/jobs/<job_id>/stop")
def stop_job(job_id: str) -> tuple[str, int]:
    engine = ctx().engine
    job = job_store.get(engine, job_id)
    message = None
    status = 200
    if job is None:
        message, status = f"No job with id {job_id!r}: it may have been removed.", 404
    elif job.status != "running":
        message = f"{job_id} had already {job.status}."
    elif job_store.request_stop(engine, job.kind, job.id):
        wake()
        message = f"Stopping {job_id}."
    context = {**active_context(), "message": message, "failed": status != 200}
    return render_template("dashboard/jobs/active.html", **context), status
