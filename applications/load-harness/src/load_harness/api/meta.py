"""Service metadata and probes: /, /health, /ready, /version, /system/info."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil
from flask import Blueprint, Response, jsonify, url_for

from load_harness import __version__
from load_harness.api.models import Health, Readiness
from load_harness.api.validation import documented
from load_harness.cgroups import read_limits
from load_harness.context import ctx, now_iso
from load_harness.store.engine import ping

bp = Blueprint("meta", __name__)
STARTED = now_iso()


def draining() -> bool:
    runtime = os.environ.get("LOAD_HARNESS_RUNTIME_DIR")
    return runtime is not None and Path(runtime, "draining").exists()


@bp.get("/")
@documented("Service banner", tags=["meta"])
def index() -> Response:
    settings = ctx().settings
    return jsonify(
        message="LoadHarness: workload target, load driver and observer",
        timestamp=now_iso(),
        version=settings.app_version,
        environment=settings.environment,
        pod_name=settings.pod_name,
        # Absolute, so it shows which scheme and host the app believes it serves (proxy headers included).
        docs=url_for("openapi.apidocs", _external=True),
    )


@bp.get("/health")
@documented("Liveness: the process answers", responses={200: Health}, public=True, tags=["meta"])
def health() -> Response:
    return jsonify(status="healthy", timestamp=now_iso())


@bp.get("/ready")
@documented(
    "Readiness: false while the store is unreachable or the server drains",
    responses={200: Readiness, 503: Readiness},
    public=True,
    tags=["meta"],
)
def ready() -> tuple[Response, int]:
    reasons = []
    if draining():
        reasons.append("draining: the server is shutting down")
    if not ping(ctx().engine):
        reasons.append("store unreachable")
    if reasons:
        return jsonify(status="not ready", reasons=reasons, timestamp=now_iso()), 503
    return jsonify(status="ready", timestamp=now_iso()), 200


@bp.get("/version")
@documented("Version, build and deployment", tags=["meta"])
def version() -> Response:
    settings = ctx().settings
    return jsonify(
        version=settings.app_version,
        # The original's top-level field: when this answer was given (build.timestamp is when the build was made).
        timestamp=now_iso(),
        package_version=__version__,
        environment=settings.environment,
        build={
            "timestamp": os.environ.get("BUILD_TIMESTAMP", STARTED),
            "python_version": platform.python_version(),
        },
        deployment={"pod_name": settings.pod_name, "namespace": settings.namespace},
    )


@bp.get("/system/info")
@documented("Host and container resources, and the limits this pod applies", tags=["meta"])
def system_info() -> Response:
    container = read_limits()
    memory = psutil.virtual_memory()
    limit = container.memory_limit_bytes
    return jsonify(
        cpu_cores=container.host_cpus,
        cpu_cores_physical=psutil.cpu_count(logical=False) or container.host_cpus,
        cpu_quota_millicores=container.cpu_millicores if container.cpu_quota_cores is not None else None,
        available_cores=container.available_cores,
        memory_total_mb=memory.total // 2**20,
        memory_available_mb=memory.available // 2**20,
        memory_limit_mb=None if limit is None else limit // 2**20,
        limits=ctx().limits.as_dict(),
        pod_name=ctx().settings.pod_name,
    )
