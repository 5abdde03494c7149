"""Tracing (telemetry/tracing.py): request spans, driver run spans, OTLP/HTTP export, and nothing at all when off.

Spans are caught with the SDK's in-memory exporter behind a simple (synchronous) processor, so a span is there as
soon as the code ends it; the export tests wait on force_flush or on the receiver, never on a sleep."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from flask import Flask
from lh_support import start_server, wait_for
from load_harness.cli.drive import execute
from load_harness.driver.plan import Plan, Stage
from load_harness.driver.summary import summarize
from load_harness.settings import Settings
from load_harness.telemetry import tracing
from load_harness.telemetry.logging import JsonFormatter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@dataclass
class Posted:
    path: str
    content_type: str
    body: bytes


@dataclass
class Receiver:
    """A tiny HTTP server on 127.0.0.1: records every POST (an OTLP/HTTP collector's /v1/traces), answers 200 to
    everything (a driver target)."""

    posts: list[Posted] = field(default_factory=list)
    gets: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append(Posted(self.path, self.headers.get("Content-Type", ""), body))
                self._answer(b"", "application/x-protobuf")  # an empty ExportTraceServiceResponse

            def do_GET(self) -> None:
                receiver.gets += 1
                self._answer(b"ok", "text/plain")

            def _answer(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def exported(self) -> list[ExportTraceServiceRequest]:
        found = []
        for post in self.posts:
            request = ExportTraceServiceRequest()
            request.ParseFromString(post.body)
            found.append(request)
        return found


def _exported_spans(receiver: Receiver) -> list[tuple[dict[str, object], dict[str, object], str]]:
    """(resource attributes, span attributes, span name) of every span the receiver got."""
    rows = []
    for request in receiver.exported():
        for spans in request.resource_spans:
            resource = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in spans.resource.attributes}
            for scope in spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}
                    rows.append((resource, attributes, span.name))
    return rows


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch only: an endpoint is set (nothing listens there; tests that start tracing bring a processor)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing started in this process with an in-memory exporter, shut down afterwards."""
    exporter = InMemorySpanExporter()
    tracing.start(Settings(pod_name="test-pod", namespace="lh-test"), "test", SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown()


def _server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


# -- request spans ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("tracing_on")
def test_a_request_makes_one_server_span_named_by_its_route(
    app_factory: Callable[..., Flask], spans: InMemorySpanExporter
) -> None:
    response = app_factory().test_client().get("/jobs/no-such-job", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404

    [span] = _server_spans(spans)
    assert span.name == "GET /jobs/<job_id>"  # the template, not /jobs/no-such-job: one name per endpoint
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/jobs/<job_id>"
    assert span.attributes["url.path"] == "/jobs/no-such-job"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 404
    assert span.attributes[tracing.REQUEST_ID_ATTRIBUTE] == "req-42"
    assert span.parent is None  # no traceparent came in: a new trace
    assert span.status.is_unset  # a 4xx is the caller's error, not the server's
    assert span.resource.attributes["service.name"] == "load-harness"
    assert span.resource.attributes["k8s.pod.name"] == "test-pod"


@pytest.mark.usefixtures("tracing_on")
def test_an_incoming_traceparent_makes_the_span_a_child_of_that_trace(
    app_factory: Callable[..., Flask], spans: InMemorySpanExporter
) -> None:
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    assert app_factory().test_client().get("/health", headers={"traceparent": traceparent}).status_code == 200

    [span] = _server_spans(spans)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.parent.is_remote


@pytest.mark.usefixtures("tracing_on")
def test_the_access_log_line_carries_the_span_ids(
    app_factory: Callable[..., Flask], spans: InMemorySpanExporter
) -> None:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter("web").format(record))  # type: ignore[method-assign]
    access = logging.getLogger("load_harness.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        app_factory().test_client().get("/version")
    finally:
        access.removeHandler(handler)
        access.setLevel(level)

    [span] = _server_spans(spans)
    [line] = [json.loads(text) for text in lines]
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")


# -- driver runs --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("tracing_on")
def test_a_driver_run_makes_a_run_span_and_one_span_per_stage(spans: InMemorySpanExporter) -> None:
    with Receiver() as target:
        plan = Plan(url=target.url + "/x", mode="open", start_target=10, stages=(Stage(1.0, 10), Stage(1.0, 30)))
        state = execute(plan)
    summary = summarize(state)
    assert summary.requests.sent > 0

    finished = spans.get_finished_spans()
    [run] = [s for s in finished if s.name == "driver.run"]
    stages = sorted((s for s in finished if s.name == "driver.stage"), key=lambda s: s.start_time or 0)
    assert len(finished) == 3  # the run and its two stages: no span per request sent
    attributes = run.attributes
    assert attributes is not None
    assert attributes["load_harness.run.mode"] == "open"
    assert attributes["load_harness.run.rate"] == 30  # the peak of the target curve
    assert attributes["load_harness.run.duration_s"] == 2.0
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(target.url.rsplit(":", 1)[1])
    assert attributes["load_harness.run.sent"] == summary.requests.sent == target.gets
    assert attributes["load_harness.run.errors"] == 0
    assert attributes["load_harness.run.p99_ms"] == summary.latency_ms.response.p99 > 0
    assert attributes["load_harness.run.stop_reason"] == "completed"

    assert [s.attributes["load_harness.stage.index"] for s in stages if s.attributes] == [0, 1]
    assert [s.attributes["load_harness.stage.target_end"] for s in stages if s.attributes] == [10, 30]
    for stage in stages:
        assert stage.parent is not None
        assert stage.parent.span_id == run.context.span_id
        times = (run.start_time, stage.start_time, stage.end_time, run.end_time)
        assert None not in times
        assert sorted(times) == list(times)  # type: ignore[type-var]  # each stage lies within the run
    sent_per_stage = [s.attributes["load_harness.stage.sent"] for s in stages if s.attributes]
    assert sum(sent_per_stage) == summary.requests.sent  # type: ignore[arg-type]
    assert sent_per_stage[1] > sent_per_stage[0]  # type: ignore[operator]  # the second stage ramps to 3× the rate


# -- off ----------------------------------------------------------------------------------------------------------


def test_off_no_span_is_made(
    monkeypatch: pytest.MonkeyPatch, app_factory: Callable[..., Flask], spans: InMemorySpanExporter
) -> None:
    """Even with a provider running, no endpoint means no request hook and no run sink."""
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert app_factory().test_client().get("/health").status_code == 200
    with Receiver() as target:
        execute(Plan(url=target.url, mode="closed", start_target=1, stages=(Stage(0.2, 1),), requests=3))
        assert target.gets == 3
    assert spans.get_finished_spans() == ()


IMPORTS_CHECK = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from load_harness.app import create_app
from load_harness.cli import app as cli_app
from load_harness.cli.drive import execute
from load_harness.driver.plan import Plan, Stage
from load_harness.server import gunicorn_conf
from load_harness.settings import Settings
from load_harness.store.engine import make_engine
from load_harness.store.migrate import upgrade
from load_harness.telemetry.logging import JsonFormatter
import logging

class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass

url = "sqlite:///" + sys.argv[1]
upgrade(make_engine(url))
client = create_app(Settings(database_url=url, pod_name="p")).test_client()
assert client.get("/jobs/x").status_code == 404
JsonFormatter("web").format(logging.makeLogRecord({"msg": "a line"}))
target = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
threading.Thread(target=target.serve_forever, daemon=True).start()
execute(Plan(url=f"http://127.0.0.1:{target.server_address[1]}/", mode="closed", start_target=1,
             stages=(Stage(0.2, 1),), requests=3))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")))
"""


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"], ids=["off", "on"])
def test_off_nothing_from_opentelemetry_is_imported(tmp_path: Path, endpoint: str | None) -> None:
    """A fresh interpreter serves a request, writes a JSON log line and drives a run: with no endpoint not one
    opentelemetry module is loaded; with one (the control case) the same script loads them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if endpoint is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        env["OTEL_BSP_EXPORT_TIMEOUT"] = "500"  # nothing listens at the endpoint: exit without waiting long
        env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "0.5"
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_CHECK, str(tmp_path / "lh.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    if endpoint is None:
        assert loaded == []
    else:
        assert "opentelemetry.sdk.trace" in loaded


# -- OTLP/HTTP export ---------------------------------------------------------------------------------------------


def test_spans_are_exported_over_otlp_http(monkeypatch: pytest.MonkeyPatch, app_factory: Callable[..., Flask]) -> None:
    with Receiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        tracing.start(Settings(pod_name="pod-x", app_version="9.9.9"), "web")  # the default: batch, OTLP/HTTP
        try:
            assert app_factory().test_client().get("/jobs/abc").status_code == 404
            assert tracing.flush(timeout_s=30)
        finally:
            tracing.shutdown()
        assert collector.posts, "nothing was exported"
        assert {post.path for post in collector.posts} == {"/v1/traces"}
        assert {post.content_type for post in collector.posts} == {"application/x-protobuf"}
        [(resource, attributes, name)] = _exported_spans(collector)
    assert name == "GET /jobs/<job_id>"
    assert attributes["http.response.status_code"] == 404
    assert resource["service.name"] == "load-harness"
    assert resource["service.version"] == "9.9.9"
    assert resource["k8s.pod.name"] == "pod-x"


@pytest.mark.slow
def test_each_web_worker_exports_its_own_spans_and_flushes_them_on_exit(tmp_path: Path) -> None:
    """Under `serve`, spans come from the worker that answered (its pid), not from the master, and spans still
    queued when the server stops are exported on the way out (the batch delay is set far beyond the test)."""
    with Receiver() as collector:
        server = start_server(
            tmp_path,
            workers=2,
            extra_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_BSP_SCHEDULE_DELAY": "600000",
                "EXPOSE_WORKER_PID": "true",
            },
        )
        try:
            answers = [requests.get(server.url + "/version", timeout=30) for _ in range(20)]
        finally:
            code = server.stop()
        assert code == 0, server.log()
        assert wait_for(lambda: len(_exported_spans(collector)) >= len(answers), timeout=60), server.log()
        exported = _exported_spans(collector)
    by_request = {attributes[tracing.REQUEST_ID_ATTRIBUTE]: resource for resource, attributes, _ in exported}
    for answer in answers:
        resource = by_request[answer.headers["X-Request-ID"]]
        assert resource["process.pid"] == int(answer.headers["X-Worker-PID"])
        assert resource["load_harness.component"] == "web"
    assert server.proc.pid not in {resource["process.pid"] for resource in by_request.values()}
