"""Chaos: an error rate and an added latency, from FAIL_RATE/FAIL_LATENCY_MS, changeable at run time.

Run-time settings live in the store (a row per pod, or "*" for every pod), so they reach every worker and
replica. Probes, metrics, docs and this endpoint itself are never affected: chaos must not fail a scrape or
make Kubernetes restart the pod, and it must always be possible to switch it off."""

from __future__ import annotations

import random
import threading
import time

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from load_harness.api.models import ChaosRequest, ChaosReset
from load_harness.api.problems import ProblemError
from load_harness.api.validation import documented, parse_body
from load_harness.context import ctx
from load_harness.store import pods as pod_store

bp = Blueprint("chaos", __name__)
EXEMPT_PREFIXES = ("/health", "/ready", "/metrics", "/openapi.json", "/apidocs", "/chaos", "/static", "/ui")
CACHE_SECONDS = 1.0
CACHE_KEY = "load_harness_chaos"


class ChaosCache:
    """Reading the store on every request would add a query to each one; one second of staleness is fine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: pod_store.Chaos | None = None
        self._expires = 0.0

    def current(self) -> pod_store.Chaos:
        now = time.monotonic()
        if now < self._expires and self._value is not None:
            return self._value
        context = ctx()
        value = pod_store.get_chaos(context.engine, context.settings.pod_name) or pod_store.get_chaos(
            context.engine, "*"
        )
        if value is None:
            value = pod_store.Chaos(context.settings.fail_rate, context.settings.fail_latency_ms)
        with self._lock:
            self._value, self._expires = value, now + CACHE_SECONDS
        return value

    def invalidate(self) -> None:
        self._expires = 0.0


def cache() -> ChaosCache:
    chaos_cache: ChaosCache = current_app.extensions[CACHE_KEY]
    return chaos_cache


def install(app: Flask) -> None:
    app.extensions[CACHE_KEY] = ChaosCache()

    @app.before_request
    def _inject() -> None:
        if request.path.startswith(EXEMPT_PREFIXES):
            return
        chaos = cache().current()
        if chaos.latency_ms:
            time.sleep(chaos.latency_ms / 1000)
        if chaos.fail_rate and random.random() < chaos.fail_rate:
            raise ProblemError(500, "Injected failure", "chaos: this failure was injected on purpose", kind="chaos")


def _view() -> dict[str, object]:
    settings = ctx().settings
    chaos = cache().current()
    return {
        "pod": settings.pod_name,
        "fail_rate": chaos.fail_rate,
        "latency_ms": chaos.latency_ms,
        "defaults": {"fail_rate": settings.fail_rate, "latency_ms": settings.fail_latency_ms},
    }


@bp.get("/chaos")
@documented("The chaos settings in force on this pod", tags=["chaos"])
def get_chaos() -> Response:
    return jsonify(_view())


@bp.put("/chaos")
@documented("Set the error rate and added latency (one pod, or * for all)", body=ChaosRequest, tags=["chaos"])
def set_chaos() -> Response:
    req = parse_body(ChaosRequest)
    pod_store.set_chaos(ctx().engine, req.pod, pod_store.Chaos(req.fail_rate, req.latency_ms))
    cache().invalidate()
    return jsonify(_view())


@bp.delete("/chaos")
@documented("Go back to the FAIL_RATE/FAIL_LATENCY_MS defaults", body=ChaosReset, tags=["chaos"])
def reset_chaos() -> Response:
    req = parse_body(ChaosReset)
    pod_store.set_chaos(ctx().engine, req.pod, None)
    cache().invalidate()
    return jsonify(_view())
