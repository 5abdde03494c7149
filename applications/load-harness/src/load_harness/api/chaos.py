"""Chaos: an error rate and an added latency, from FAIL_RATE/FAIL_LATENCY_MS, changeable at run time.

Run-time settings live in the store (a row per pod, or "*" for every pod), so they reach every worker and
replica. Public paths (security/public.py: probes, metrics, docs, the Flagger webhook), this endpoint and the
dashboard are never affected: chaos must not fail a scrape or make Kubernetes restart the pod, and it must always
be possible to switch it off.

Chaos runs only after authentication (create_app installs it after auth), and never on a public path, whose
requests have not been authenticated: an anonymous caller can neither wait in the chaos sleep nor make others
wait. Each delayed request holds a gunicorn thread while it sleeps, so at most half of a worker's threads sleep
at once; a request beyond that bound is served without the added latency, and the other threads stay free for
probes and for the requests chaos does not touch."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from load_harness.api.models import ChaosRequest, ChaosReset
from load_harness.api.validation import documented, parse_body
from load_harness.context import ctx
from load_harness.problems import ProblemError
from load_harness.security.public import chaos_exempt
from load_harness.store import pods as pod_store

bp = Blueprint("chaos", __name__)
CACHE_SECONDS = 1.0
CACHE_KEY = "load_harness_chaos"
SLEEPER_KEY = "load_harness_chaos_sleeper"


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


class ChaosSleeper:
    """The added latency, with a bound on how many requests of this worker sleep in it at once.

    Every sleeping request holds one of the worker's threads; unbounded, enough delayed requests hold all of them
    and the worker stops answering even /health, so Kubernetes restarts a pod that was only asked to be slow.
    `sleep` is injectable so tests need no real sleeps."""

    def __init__(self, limit: int, sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = limit
        self.sleep = sleep
        self._slots = threading.BoundedSemaphore(limit)

    def delay(self, seconds: float) -> bool:
        """Sleep `seconds` unless `limit` requests already do; True when it slept."""
        if not self._slots.acquire(blocking=False):
            return False
        try:
            self.sleep(seconds)
        finally:
            self._slots.release()
        return True


def sleep_limit(threads: int) -> int:
    # Half the threads: the other half stays free for probes and for paths chaos does not touch.
    return max(1, threads // 2)


def cache() -> ChaosCache:
    chaos_cache: ChaosCache = current_app.extensions[CACHE_KEY]
    return chaos_cache


def sleeper(app: Flask) -> ChaosSleeper:
    chaos_sleeper: ChaosSleeper = app.extensions[SLEEPER_KEY]
    return chaos_sleeper


def install(app: Flask, threads: int) -> None:
    """Install chaos. Call it after auth.install: Flask runs before_request hooks in the order they were added,
    and chaos must only ever delay or fail a request that auth has already let through."""
    app.extensions[CACHE_KEY] = ChaosCache()
    delays = app.extensions[SLEEPER_KEY] = ChaosSleeper(sleep_limit(threads))

    @app.before_request
    def _inject() -> None:
        if chaos_exempt(request.path):
            return
        chaos = cache().current()
        if chaos.latency_ms:
            delays.delay(chaos.latency_ms / 1000)
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
