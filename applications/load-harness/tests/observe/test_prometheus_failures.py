"""The Prometheus provider never raises into the dashboard: an unreachable, slow, refusing or non-Prometheus
backend becomes the "unavailable because …" state; and providers_for wires the sources the settings name."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from load_harness.context import KEY, AppServices
from load_harness.observe import CombinedTimeline, PrometheusProvider, Providers, UnconfiguredClusterProvider
from load_harness.observe.queries import QueryConfig
from load_harness.observe.timeline import ClusterTimeline, Point, TimelineUnavailable
from load_harness.server.launch import free_port

TIMEOUT_S = 0.5


class Backend(BaseHTTPRequestHandler):
    """Answers every request as `answer` says: (status, body), or None to hang past the client's timeout."""

    answer: tuple[int, bytes] | None = (200, b"")
    release = threading.Event()

    def do_GET(self) -> None:
        if self.answer is None:
            self.release.wait(30)
            return
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[tuple[str, type[Backend]]]:
    handler = type("Handler", (Backend,), {"release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def provider(url: str) -> PrometheusProvider:
    return PrometheusProvider(url, QueryConfig(namespace="ns"), timeout_seconds=TIMEOUT_S)


def assert_unavailable_everywhere(p: PrometheusProvider, reason: str) -> None:
    overview = p.overview()
    assert not overview.available
    assert overview.unavailable is not None
    assert reason in overview.unavailable
    assert not overview.cpu.available
    pods = p.pods()
    assert not pods.available
    assert pods.unavailable is not None
    assert reason in pods.unavailable
    timeline = p.timeline(1000.0, 1600.0, 15.0)
    assert isinstance(timeline, TimelineUnavailable)
    assert reason in timeline.reason


def test_unreachable_prometheus_says_so() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert_unavailable_everywhere(provider(url), f"Prometheus at {url} is unreachable")


def test_slow_prometheus_times_out_with_the_timeout_named(backend: tuple[str, type[Backend]]) -> None:
    url, handler = backend
    handler.answer = None
    assert_unavailable_everywhere(provider(url), f"did not answer within {TIMEOUT_S:g} s")


def test_refused_query_names_prometheus_error(backend: tuple[str, type[Backend]]) -> None:
    url, handler = backend
    handler.answer = (400, b'{"status":"error","errorType":"bad_data","error":"parse error at char 5"}')
    assert_unavailable_everywhere(provider(url), "answered HTTP 400: parse error at char 5")


def test_an_answer_that_is_not_prometheus_json_says_so(backend: tuple[str, type[Backend]]) -> None:
    url, handler = backend
    handler.answer = (200, b"<html>a login page</html>")
    assert_unavailable_everywhere(provider(url), "did not answer with Prometheus API JSON")


def test_prometheus_without_our_series_names_what_it_looked_for(backend: tuple[str, type[Backend]]) -> None:
    url, handler = backend
    handler.answer = (200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')
    overview = provider(url).overview()
    assert overview.unavailable is not None
    assert "neither cAdvisor series for container 'load-harness' in namespace 'ns'" in overview.unavailable


def test_timeline_refuses_a_window_prometheus_would_refuse() -> None:
    p = provider("http://127.0.0.1:9")
    too_many = p.timeline(0.0, 12_000.0, 1.0)
    assert isinstance(too_many, TimelineUnavailable)
    assert "exceed Prometheus' limit of 11000" in too_many.reason
    backwards = p.timeline(10.0, 5.0, 1.0)
    assert isinstance(backwards, TimelineUnavailable)
    assert "end > start" in backwards.reason


def _providers(app_factory: Callable[..., Flask], **settings: object) -> Providers:
    """What the running app wired: its providers, built by providers_for at app start."""
    services: AppServices = app_factory(**settings).extensions[KEY]
    return services.providers()


def test_providers_for_uses_prometheus_when_its_url_is_set(app_factory: Callable[..., Flask]) -> None:
    found = _providers(app_factory, prometheus_url="http://prometheus:9090")
    assert isinstance(found.cluster, PrometheusProvider)
    assert found.timeline is found.cluster
    none = _providers(app_factory)
    assert isinstance(none.cluster, UnconfiguredClusterProvider)
    assert none.timeline is None
    assert "Set PROMETHEUS_URL" in none.cluster.overview().unavailable  # type: ignore[operator]


def test_invalid_prometheus_settings_are_stated_not_raised(app_factory: Callable[..., Flask]) -> None:
    bad_url = _providers(app_factory, prometheus_url="file:///etc/passwd")
    assert "PROMETHEUS_URL must be an http(s) URL" in (bad_url.cluster.overview().unavailable or "")
    bad_selector = _providers(app_factory, prometheus_url="http://p:9090", observe_app_label="app=lh")
    assert "OBSERVE_APP_LABEL must be PromQL label matchers" in (bad_selector.cluster.pods().unavailable or "")


def test_kubernetes_joins_the_timeline_when_enabled(app_factory: Callable[..., Flask]) -> None:
    both = _providers(app_factory, prometheus_url="http://prometheus:9090", observe_kubernetes=True)
    assert isinstance(both.timeline, CombinedTimeline)
    assert both.timeline.source.startswith("Prometheus at http://prometheus:9090 + ")
    alone = _providers(app_factory, observe_kubernetes=True)
    assert alone.timeline is not None
    assert not isinstance(alone.timeline, (CombinedTimeline, PrometheusProvider))


class Fixed:
    def __init__(self, source: str, answer: ClusterTimeline | TimelineUnavailable) -> None:
        self.source = source
        self.answer = answer

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable:
        return self.answer


def test_combined_timeline_merges_parts_and_keeps_the_missing_one_as_a_note() -> None:
    prom = ClusterTimeline(start=0, end=60, step_seconds=15, source="P", replicas_current=[Point(t=0, value=1)])
    kube = ClusterTimeline(start=0, end=60, step_seconds=15, source="K", hpa_name="lh", max_replicas=4)
    merged = CombinedTimeline(Fixed("P", prom), Fixed("K", kube)).timeline(0, 60, 15)
    assert isinstance(merged, ClusterTimeline)
    assert (merged.source, merged.hpa_name, merged.max_replicas) == ("P + K", "lh", 4)
    assert merged.replicas_current == [Point(t=0, value=1)]
    down = TimelineUnavailable(source="K", reason="403 forbidden")
    partial = CombinedTimeline(Fixed("P", prom), Fixed("K", down)).timeline(0, 60, 15)
    assert isinstance(partial, ClusterTimeline)
    assert partial.notes == ["K unavailable: 403 forbidden"]
    neither = CombinedTimeline(Fixed("P", TimelineUnavailable(source="P", reason="unreachable")), Fixed("K", down))
    result = neither.timeline(0, 60, 15)
    assert isinstance(result, TimelineUnavailable)
    assert result.reason == "P: unreachable; K: 403 forbidden"
