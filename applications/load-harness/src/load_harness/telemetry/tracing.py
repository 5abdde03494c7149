"""OpenTelemetry tracing: a server span per HTTP request and spans for driver runs, exported over OTLP/HTTP.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Off means off: no module of
opentelemetry is imported at all, because the SDK, the exporter and protobuf cost cold start (`serve` < 1 s) and
driver RSS (50 MB) that a process which traces nothing should not pay (docs/benchmarks.md). Every opentelemetry
import below is therefore inside a function that only runs once tracing is on.

When on, each process that makes spans calls `start()` once: a web worker after gunicorn forks it (the batch
processor's export thread must run in the worker, and a thread does not survive a fork), a driver process before
its run. The SDK reads the rest of the standard variables itself: OTEL_EXPORTER_OTLP_HEADERS and _TIMEOUT (10 s by
default: every export has a deadline), OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES,
OTEL_SERVICE_NAME and OTEL_PROPAGATORS (W3C trace context by default).

The provider is this module's, not the API's global one: a process (a test run, too) can start and shut tracing
down more than once, which the global provider refuses to do.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from load_harness import __version__

if TYPE_CHECKING:
    from flask import Flask
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Tracer

    from load_harness.settings import Settings

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SERVICE_NAME = "load-harness"
INSTRUMENTATION_SCOPE = "load_harness"
REQUEST_ID_ATTRIBUTE = "load_harness.request_id"
# Keeps exit prompt when the collector is down: gunicorn kills a worker that takes longer than graceful_timeout.
EXIT_FLUSH_TIMEOUT_S = 2.0

_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def enabled() -> bool:
    """Whether this process should trace. Read from the environment, not Settings: the SDK reads the same OTEL_*
    variables itself, and the driver never loads Settings unless it traces."""
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def start(settings: Settings, component: str, processor: SpanProcessor | None = None) -> None:
    """Make this process's tracer provider. `processor` defaults to a batch processor exporting over OTLP/HTTP to
    the configured endpoint; tests pass a simple processor over an in-memory exporter. A second call is a no-op."""
    global _provider, _tracer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    with _lock:
        if _provider is not None:
            return
        resource = Resource.create(
            {
                "service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME,
                "service.version": settings.app_version,
                "deployment.environment.name": settings.environment,
                "k8s.pod.name": settings.pod_name,
                "k8s.namespace.name": settings.namespace,
                # Which process made the span: the web worker, not the master that forked it.
                "process.pid": os.getpid(),
                "load_harness.component": component,
            }
        )
        provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
        if processor is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            processor = BatchSpanProcessor(OTLPSpanExporter())
        provider.add_span_processor(processor)
        _provider = provider
        _tracer = provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)


def start_if_enabled(settings: Settings, component: str) -> None:
    if enabled():
        start(settings, component)


def tracer() -> Tracer | None:
    """This process's tracer, or None while tracing is not started (then nothing makes a span)."""
    return _tracer


def flush(timeout_s: float = EXIT_FLUSH_TIMEOUT_S) -> bool:
    """Export the spans that are still queued; False if the exporter did not finish within the timeout."""
    provider = _provider
    return True if provider is None else provider.force_flush(int(timeout_s * 1000))


def shutdown(timeout_s: float = EXIT_FLUSH_TIMEOUT_S) -> None:
    """Flush within the timeout, then stop the export thread. Tracing can be started again afterwards."""
    global _provider, _tracer
    with _lock:
        provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.force_flush(int(timeout_s * 1000))
        provider.shutdown()


@dataclass(frozen=True)
class SpanIds:
    trace_id: str  # 32 hex digits, as in a traceparent header
    span_id: str  # 16 hex digits


def current_ids() -> SpanIds | None:
    """The active span's ids, for log lines; None when tracing is off or no span is active."""
    if _provider is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return SpanIds(trace_id=format(context.trace_id, "032x"), span_id=format(context.span_id, "016x"))


def install_request_spans(app: Flask) -> None:
    """One server span per request, a child of the caller's trace when it sent a W3C `traceparent`.

    Installed after the request-id hook (its id is an attribute) and ended at teardown, which runs after every
    after_request hook: the access log line is still written inside the span, so it carries the span's ids."""
    from flask import Response, g, request
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    @app.before_request
    def _open_span() -> None:
        active = tracer()
        if active is None:
            return
        # The route template (/jobs/<job_id>), never the raw path, names the span: one name per endpoint, so a
        # backend can group them. The raw path is an attribute only; the query string is left out (it may hold
        # a secret).
        route = request.url_rule.rule if request.url_rule is not None else None
        attributes: dict[str, str] = {"http.request.method": request.method, "url.path": request.path}
        if route is not None:
            attributes["http.route"] = route
        request_id = g.get("request_id")
        if request_id:
            attributes[REQUEST_ID_ATTRIBUTE] = request_id
        parent = propagate.extract(request.headers)
        span = active.start_span(
            f"{request.method} {route}" if route else request.method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        g.trace_span = span
        g.trace_token = context.attach(trace.set_span_in_context(span, parent))

    @app.after_request
    def _record_status(response: Response) -> Response:
        span = g.get("trace_span")
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:  # a server span is in error for 5xx only; a 4xx is the caller's
                span.set_status(Status(StatusCode.ERROR))
        return response

    @app.teardown_request
    def _close_span(error: BaseException | None) -> None:
        span = g.pop("trace_span", None)
        if span is None:
            return
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
        context.detach(g.pop("trace_token"))
