"""Per-request work: POST /load/cpu/work (CPU, off the web worker's GIL) and POST /load/memory/sync.

A sync allocates inside the web worker, so it reserves its bytes in the store first (store/jobs.reserve_memory):
syncs and memory jobs share one memory budget per pod, across every worker, and a sync over it is a 409."""

from __future__ import annotations

import concurrent.futures
import time

from flask import Blueprint, Response, jsonify

from load_harness import limits as L
from load_harness.api.jobs import check_memory_request
from load_harness.api.models import MemorySyncRequest, MemorySyncResult, Problem, WorkRequest, WorkResult
from load_harness.api.validation import documented, parse_body
from load_harness.context import ctx
from load_harness.problems import ProblemError
from load_harness.store import jobs as job_store
from load_harness.workloads.memory import allocate

bp = Blueprint("work", __name__)


@bp.post("/load/cpu/work")
@documented(
    "Do CPU work inside this request (iterations, or exactly cpu_ms of CPU time)",
    body=WorkRequest,
    responses={200: WorkResult, 422: Problem, 503: Problem},
    tags=["work"],
)
def cpu_work() -> Response:
    req = parse_body(WorkRequest)
    pool = ctx().work_pool()
    started = time.perf_counter()
    try:
        if req.cpu_ms is not None:
            outcome = pool.run_cpu_ms(req.cpu_ms, timeout=L.WORK_TIMEOUT_S)
        else:
            outcome = pool.run_iterations(req.iterations or L.ITERATIONS_DEFAULT, timeout=L.WORK_TIMEOUT_S)
    except (concurrent.futures.TimeoutError, TimeoutError) as exc:
        raise ProblemError(
            503,
            "Work timed out",
            f"the work pool did not finish within {L.WORK_TIMEOUT_S:g} s",
            kind="work-timeout",
        ) from exc
    body = {
        "status": "completed",
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "pod_name": ctx().settings.pod_name,
        **outcome,
    }
    if req.cpu_ms is None:
        body["iterations"] = req.iterations or L.ITERATIONS_DEFAULT
    return jsonify(body)


def _reserve(req: MemorySyncRequest) -> job_store.Job:
    context = ctx()
    try:
        return job_store.reserve_memory(
            context.engine,
            context.settings.pod_name,
            req.size_mb * L.MIB,
            hold_s=req.duration_ms / 1000 + L.MEMORY_SYNC_RESERVE_GRACE_S,
            budget_bytes=context.limits.memory_max_mb * L.MIB,
            params={"size_mb": req.size_mb, "duration_ms": req.duration_ms},
            owner=job_store.process_owner(),
        )
    except job_store.AdmissionError as exc:
        raise ProblemError(409, "Not enough room on this pod", str(exc), kind="admission") from exc


@bp.post("/load/memory/sync")
@documented(
    "Allocate and touch memory for duration_ms, then free it (within the pod's memory budget, shared with jobs)",
    body=MemorySyncRequest,
    responses={200: MemorySyncResult, 409: Problem},
    tags=["work"],
)
def memory_sync() -> Response:
    req = parse_body(MemorySyncRequest)
    check_memory_request(req)
    reservation = _reserve(req)
    try:
        started = time.perf_counter()
        buffer = allocate(req.size_mb * L.MIB)
        allocation_ms = (time.perf_counter() - started) * 1000
        try:
            time.sleep(req.duration_ms / 1000)
            allocated = len(buffer)
        finally:
            buffer.close()  # munmap: the pages go back to the kernel now, not at the next GC
    finally:
        # Only after munmap: until then the bytes are still held, and the budget must say so.
        job_store.release(ctx().engine, reservation.id)
    return jsonify(
        status="completed",
        requested_size_mb=req.size_mb,
        actual_bytes_allocated=allocated,
        requested_duration_ms=req.duration_ms,
        actual_duration_ms=round((time.perf_counter() - started) * 1000, 3),
        allocation_time_ms=round(allocation_ms, 3),
        pod_name=ctx().settings.pod_name,
    )
