"""The Flask app factory. Each blueprint has one purpose; this file only assembles them."""

from __future__ import annotations

import logging
import os
import time
import uuid

from flask import Flask, Response, g, request

from load_harness.api import autoscaling, chaos, flagger, jobs, meta, metrics, openapi, runs, work
from load_harness.context import KEY, AppServices
from load_harness.dashboard import bp as dashboard_bp
from load_harness.limits import compute_limits, current_limits
from load_harness.problems import register_error_handlers
from load_harness.security import auth, headers, origin
from load_harness.settings import Settings, get_settings
from load_harness.store.engine import get_engine, make_engine
from load_harness.telemetry import metrics as telemetry
from load_harness.telemetry import tracing
from load_harness.telemetry.logging import request_id_var

log = logging.getLogger("load_harness.access")
QUIET_PATHS = {"/health", "/ready", "/metrics"}
# Under `load-harness serve` (not in a test client), warm each worker's work pool after its first response.
SERVED = bool(os.environ.get("LOAD_HARNESS_RUNTIME_DIR"))


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    engine = get_engine() if settings is get_settings() else make_engine(settings.resolved_database_url)
    app.extensions[KEY] = AppServices(
        settings=settings,
        engine=engine,
        limits=current_limits() if settings is get_settings() else compute_limits(settings),
        registry=telemetry.build_registry(engine, settings.pod_name, settings.environment),
    )
    _install_request_telemetry(app, settings)
    if tracing.enabled():  # off: nothing from opentelemetry is imported (telemetry/tracing.py)
        tracing.install_request_spans(app)
    headers.install(app, settings.trusted_proxy_hops)
    # before_request hooks run in the order they are added: the Host and cross-site gate, then auth, then chaos,
    # so chaos only ever delays or fails a request that auth has let through.
    origin.install(app, settings)
    auth.install(app, settings.api_key)
    chaos.install(app, settings.threads)
    register_error_handlers(app)
    blueprints = (meta.bp, jobs.bp, work.bp, chaos.bp, runs.bp, autoscaling.bp, flagger.bp, metrics.bp, openapi.bp)
    for blueprint in (*blueprints, dashboard_bp):
        app.register_blueprint(blueprint)
    return app


def _install_request_telemetry(app: Flask, settings: Settings) -> None:
    context: AppServices = app.extensions[KEY]
    pod_name, expose_worker_pid = settings.pod_name, settings.expose_worker_pid

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
        request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        # The route template, never the raw path: /jobs/<job_id> is one series, not one per id.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = str(response.status_code)
        telemetry.REQUEST_DURATION.labels(request.method, route, status).observe(elapsed)
        telemetry.REQUEST_TOTAL.labels(request.method, route, status).inc()
        if SERVED:
            context.warm_work_pool()
        response.headers["X-Pod-Name"] = pod_name
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if expose_worker_pid:
            # Which gunicorn worker answered: how tests see that state is shared between workers. Opt-in, as a
            # process id tells a stranger about the host and nothing a client needs.
            response.headers["X-Worker-PID"] = str(os.getpid())
        if request.path not in QUIET_PATHS:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response
