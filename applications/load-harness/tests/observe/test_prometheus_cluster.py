"""The Prometheus provider against a real Prometheus (1 s scrapes) and three LoadHarness processes sharing one
store, each in its own cgroup: the Cluster view shows the three pods, a CPU job raises exactly its pod's CPU, and
the request rate and latency percentiles Prometheus computes match what the driver sent."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask
from lh_support import wait_for
from load_harness.observe import queries as q
from load_harness.observe.prometheus import PrometheusClient, PrometheusProvider
from load_harness.server.launch import BIN
from observability_stack import NOT_ISOLATED, POD_CPU_CORES, POD_MEMORY_BYTES, Stack, start_stack

pytestmark = pytest.mark.slow

# Short windows: the stack scrapes every second, so 5 s holds five samples.
CONFIG = q.QueryConfig(namespace="default", rate_window_seconds=5)
PODS = ["pod-0", "pod-1", "pod-2"]
DEADLINE_S = 60.0
# Chaos latency on every traffic request (never on /metrics or the dashboard): each takes about 60 ms, inside the
# histogram's (50 ms, 100 ms] bucket with room for a noisy machine's tail, and costs no CPU.
ADDED_LATENCY_MS = 60
BUCKET_MS = (50.0, 100.0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(
        tmp_path_factory.mktemp("stack"), pods=3, extra_env={"FAIL_LATENCY_MS": str(ADDED_LATENCY_MS)}
    ) as running:
        yield running


def provider(stack: Stack) -> PrometheusProvider:
    return PrometheusProvider(stack.prometheus_url, CONFIG, timeout_seconds=10, this_pod="pod-0")


def test_cluster_view_shows_the_three_pods(stack: Stack, app_factory: Callable[..., Flask]) -> None:
    cluster = provider(stack)
    assert wait_for(lambda: all(p.cpu.available for p in cluster.pods().pods) and len(cluster.pods().pods) == 3, 60)
    pods = cluster.pods()
    assert [p.name for p in pods.pods] == PODS
    assert [p.this_pod for p in pods.pods] == [True, False, False]
    for pod in pods.pods:
        # The local family: each pod's own cgroup, its quota and memory limit as the limits.
        assert pod.cpu.limit == POD_CPU_CORES if stack.isolated else pod.cpu.limit is not None
        assert pod.memory.value is not None
        assert pod.memory.value > 0
    assert "(local series)" in pods.source
    overview = cluster.overview()
    assert overview.available
    assert overview.pods.value == 3
    if stack.isolated:
        assert overview.memory.limit == POD_MEMORY_BYTES

    # The dashboard's Cluster view, from an app whose PROMETHEUS_URL is this Prometheus.
    app = app_factory(prometheus_url=stack.prometheus_url, observe_rate_window_seconds=5, observe_namespace="default")
    html = app.test_client().get("/ui/partials/pods?scope=cluster").get_data(as_text=True)
    for name in PODS:
        assert f'data-pod="{name}"' in html
    assert "Not available" not in html
    metrics = app.test_client().get("/ui/partials/metrics?scope=cluster").get_data(as_text=True)
    assert f"Source: Prometheus at {stack.prometheus_url} (local series)" in metrics


def cpu_seconds(stack: Stack) -> dict[str, float]:
    return {s.labels["pod"]: s.value for s in stack.query(q.pod_cpu_seconds(CONFIG, q.Family.LOCAL))}


def test_a_cpu_job_raises_exactly_its_pods_cpu(stack: Stack) -> None:
    if not stack.isolated:
        pytest.skip(NOT_ISOLATED)
    burning = stack.pod("pod-1")
    before = stack.wait_for(q.pod_cpu_seconds(CONFIG, q.Family.LOCAL), lambda s: len(s) == 3)
    start = {s.labels["pod"]: s.value for s in before}
    job = burning.post("/load/cpu", json={"cores": 1, "utilization": 60, "duration_seconds": 120})
    assert job.status_code in (200, 201, 202), job.text
    try:
        # Wait on what the job controls: 3 CPU-seconds burnt in pod-1's cgroup, as Prometheus scraped it.
        assert wait_for(lambda: cpu_seconds(stack)["pod-1"] - start["pod-1"] >= 3.0, DEADLINE_S)
        deltas = {pod: value - start[pod] for pod, value in cpu_seconds(stack).items()}
        for idle in ("pod-0", "pod-2"):
            assert deltas[idle] < 0.25 * deltas["pod-1"], deltas
        # The live view ranks them the same way: pod-1 near its 0.6-core job, the others near idle.
        cluster = provider(stack)

        def ranked() -> bool:
            cores = {p.name: p.cpu.value or 0.0 for p in cluster.pods().pods}
            return cores["pod-1"] > 0.3 and max(cores["pod-0"], cores["pod-2"]) < 0.15

        assert wait_for(ranked, DEADLINE_S), [(p.name, p.cpu.value) for p in cluster.pods().pods]
    finally:
        burning.post("/load/cpu/stop", json={})


def work_count(stack: Stack) -> float:
    found = stack.query('sum(flask_http_request_total{job="load-harness", path="/load/cpu/work", pod="pod-2"})')
    return found[0].value if found else 0.0


def test_request_rate_and_percentiles_match_what_the_driver_sent(stack: Stack) -> None:
    target = stack.pod("pod-2")
    # The series must exist before the run, or Prometheus' rate misses the run's first requests.
    for _ in range(3):
        assert target.post("/load/cpu/work", json={"cpu_ms": 1}).status_code == 200
    stack.wait_for(
        'flask_http_request_total{path="/load/cpu/work", pod="pod-2"}', lambda s: sum(x.value for x in s) >= 3
    )
    before = work_count(stack)
    sent, rate = 200, 20
    url = f"{target.url}/load/cpu/work"
    command = [str(BIN), "drive", url, "--rate", str(rate), "--requests", str(sent), "--cpu-ms", "1", "--json"]
    drive = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(drive.stdout)
    assert summary["requests"]["completed"] == sent
    assert summary["requests"]["errors"] == 0, (summary["status_codes"], summary["error_details"])
    # Counts, not wall-clock: Prometheus saw every request the driver sent, within 10 %.
    assert wait_for(lambda: abs(work_count(stack) - before - sent) <= 0.1 * sent, DEADLINE_S)
    end = summary["started_at"] + summary["duration_s"]
    assert wait_for(lambda: time.time() > end + 3, DEADLINE_S)  # two more scrapes after the last request
    client = PrometheusClient(stack.prometheus_url, 10)
    window = f"{max(2, round(summary['duration_s']))}s"
    prom_rate = client.instant(q.request_rate(CONFIG, window), at=end)[0].value
    driver_rate = summary["throughput"]["completed_rps"]
    context = (prom_rate, driver_rate, window, end, client.range(q.request_rate(CONFIG), end - 30, end + 3, 1))
    assert abs(prom_rate - driver_rate) <= 0.1 * driver_rate, context

    # The server's histogram only says which bucket a request fell in, and histogram_quantile spreads a bucket's
    # requests evenly across it. So the driver's figure to compare with is the same interpolation of its own
    # latencies: the added latency puts them all in one bucket (low, high], where quantile q reads low + q (high - low).
    service = summary["latency_ms"]["service"]
    low, high = BUCKET_MS
    assert low < service["min"], service
    assert service["p99"] <= high, service
    for quantile in q.QUANTILES:
        seconds = client.instant(q.latency_quantile(CONFIG, quantile, window), at=end)[0].value
        expected_ms = low + quantile * (high - low)
        assert abs(seconds * 1000 - expected_ms) <= 0.1 * expected_ms, (quantile, seconds, service)


def test_unreachable_prometheus_gives_the_unavailable_state(stack: Stack) -> None:
    dead = PrometheusProvider("http://127.0.0.1:9", CONFIG, timeout_seconds=2)
    overview = dead.overview()
    assert overview.unavailable is not None
    assert overview.unavailable.startswith("Prometheus at http://127.0.0.1:9 is unreachable")
    assert dead.pods().unavailable == overview.unavailable
    # The live one still answers: the failure is the endpoint's, not the provider's.
    assert provider(stack).overview().available
    assert requests.get(f"{stack.prometheus_url}/-/ready", timeout=10).status_code == 200
