"""Prometheus metrics. Under gunicorn every worker is a separate process, so counters and histograms use
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by `load-harness serve`). Values that live
in the store or in cgroups are read at scrape time by collectors, so they are the same whichever worker answers.

Names are documented in docs/metrics.md; the HTTP metric names are the original's, so existing dashboards work.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from load_harness import __version__
from load_harness.cgroups import read_limits, read_usage
from load_harness.store import jobs as job_store

# `_created` series double the series count for no use on a dashboard.
disable_created_metrics()

# 0.2 is the latency SLO's threshold (observability/rules): the SLI reads the le="0.2" bucket, so it must be one.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_DURATION = Histogram(
    "flask_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "path", "status"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_TOTAL = Counter(
    "flask_http_request_total", "HTTP requests by route template and status", ["method", "path", "status"]
)


class PodCollector(Collector):
    """Job gauges (from the store, for this pod), the container's cgroup figures, and build info."""

    def __init__(self, engine: Engine, pod: str, environment: str) -> None:
        self.engine = engine
        self.pod = pod
        self.environment = environment

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        build = GaugeMetricFamily(
            "load_harness_build_info",
            "Build information",
            labels=["version", "python_version", "environment"],
        )
        build.add_metric([__version__, platform.python_version(), self.environment], 1.0)
        yield build
        yield from self._jobs()
        yield from self._container()

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        try:
            running = [
                j for j in job_store.list_jobs(self.engine, statuses=["running"], limit=1000) if j.pod == self.pod
            ]
        except SQLAlchemyError:
            return
        active = GaugeMetricFamily("load_harness_jobs_active", "Running jobs on this pod", labels=["kind"])
        for kind in ("cpu", "memory"):
            active.add_metric([kind], float(sum(1 for j in running if j.kind == kind)))
        yield active
        yield GaugeMetricFamily(
            "load_harness_cpu_cores_burning",
            "CPU cores that running CPU jobs on this pod are set to burn",
            value=sum(j.cpu_cores for j in running),
        )
        yield GaugeMetricFamily(
            "load_harness_memory_held_bytes",
            "Memory that running memory jobs on this pod hold",
            value=float(sum(j.memory_bytes for j in running)),
        )
        # The supervisor ends a job within a poll of its deadline; a running row well past it means a stuck
        # supervisor or job process (the LoadHarnessJobPastDeadline alert reads this).
        now = time.time()
        yield GaugeMetricFamily(
            "load_harness_job_overdue_seconds",
            "How long the most overdue running job on this pod has been past its deadline (0 when none)",
            value=max((now - j.deadline_at for j in running if j.deadline_at < now), default=0.0),
        )

    def _container(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        limits = read_limits()
        usage = read_usage()
        yield GaugeMetricFamily(
            "load_harness_container_cpu_limit_cores",
            "CPU cores this container may use",
            value=limits.available_cores,
        )
        if limits.memory_limit_bytes is not None:
            yield GaugeMetricFamily(
                "load_harness_container_memory_limit_bytes",
                "Container memory limit",
                value=float(limits.memory_limit_bytes),
            )
        if usage.cpu_seconds is not None:
            yield CounterMetricFamily(
                "load_harness_container_cpu_seconds",
                "CPU time used by the container",
                value=usage.cpu_seconds,
            )
        if usage.memory_bytes is not None:
            yield GaugeMetricFamily(
                "load_harness_container_memory_bytes",
                "Memory used by the container",
                value=float(usage.memory_bytes),
            )


def build_registry(engine: Engine, pod: str, environment: str) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultMetrics())
    registry.register(PodCollector(engine, pod, environment))
    return registry


class _DefaultMetrics(Collector):
    """Single-process mode: expose the default registry (HTTP metrics, process and platform collectors)."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from REGISTRY.collect()  # type: ignore[misc]


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
