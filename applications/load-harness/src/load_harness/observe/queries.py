"""Every PromQL query LoadHarness runs, built from one small typed config (`QueryConfig`).

Two families of series answer the same questions:

- **kubernetes**: cAdvisor (`container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`) and
  kube-state-metrics (`kube_pod_container_resource_requests` / `_limits`, the HPA's replica counts), selected by
  namespace and container name, as kube-prometheus-stack scrapes them on EKS.
- **local**: our own `load_harness_container_*` series (telemetry/metrics.py), which each pod reads from its own
  cgroup, selected by the app selector. A laptop's Prometheus has no cAdvisor or kube-state-metrics; these carry
  the same figures, with the cgroup quota as the CPU limit and no request (a process has none).

Which family applies is decided by asking Prometheus which series exist (`family_probe`, one cheap query), not by
a setting: a cluster Prometheus may lack cAdvisor, and a laptop may scrape a kind cluster. The `pod` label on our
own series is the one a ServiceMonitor adds from the target (the local stack sets it per static target).

Our own request series (`flask_http_request_*`) are selected by `app_selector`: PromQL label matchers, by default
`job="load-harness"` (a ServiceMonitor's job is the Service's name). A Kubernetes label such as
`app.kubernetes.io/name` is only on the series when the ServiceMonitor copies it (`targetLabels`), and then it is
spelled `app_kubernetes_io_name`. Scrapes, probes, the dashboard and static files are left out of request figures.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

from load_harness.settings import Settings

# One matcher: a label name, an operator and a double-quoted string (escapes allowed).
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_MATCHERS = re.compile(rf"^{_MATCHER}(,{_MATCHER})*,?\s*$")
# Paths that are not traffic: Prometheus' scrapes, kubelet probes, the dashboard and its static files.
EXCLUDED_PATHS = "/metrics|/health|/ready|/ui.*|/static/.*"
QUANTILES = (0.5, 0.99)
SERVER_ERRORS = 'status=~"5.."'


class Family(StrEnum):
    KUBERNETES = "kubernetes"
    LOCAL = "local"


class QueryConfig(BaseModel):
    """Where the app's series are: namespace and container (cAdvisor, kube-state-metrics), the app selector (our
    own series), the HPA's name, and the rate window (at least two scrape intervals)."""

    model_config = ConfigDict(frozen=True)
    namespace: str
    app_selector: str = 'job="load-harness"'
    container: str = "load-harness"
    hpa: str = "load-harness"
    rate_window_seconds: int = 120

    @field_validator("app_selector")
    @classmethod
    def _selector_is_matchers(cls, value: str) -> str:
        if not _MATCHERS.match(value):
            raise ValueError(
                f'OBSERVE_APP_LABEL must be PromQL label matchers such as job="load-harness", not {value!r}'
            )
        return value.strip().rstrip(",")

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryConfig:
        return cls(
            namespace=settings.observe_namespace or settings.namespace,
            app_selector=settings.observe_app_label,
            container=settings.observe_container,
            hpa=settings.observe_hpa_name,
            rate_window_seconds=settings.observe_rate_window_seconds,
        )

    @property
    def window(self) -> str:
        return f"{self.rate_window_seconds}s"


def _quote(value: str) -> str:
    # A JSON string is a valid PromQL string literal: quotes and backslashes escaped.
    return json.dumps(value)


def _pod_selector(config: QueryConfig, *extra: str) -> str:
    """Matchers for cAdvisor and kube-state-metrics series of the app's containers."""
    parts = [f"namespace={_quote(config.namespace)}", f"container={_quote(config.container)}", *extra]
    return "{" + ", ".join(parts) + "}"


def _app_selector(config: QueryConfig, *extra: str) -> str:
    return "{" + ", ".join([config.app_selector, *extra]) + "}"


def _traffic(config: QueryConfig, *extra: str) -> str:
    return _app_selector(config, f"path!~{_quote(EXCLUDED_PATHS)}", *extra)


def family_probe(config: QueryConfig) -> str:
    """Which families have series now: one sample per metric name present (cAdvisor's CPU counter, kube-state-
    metrics' limits, our own CPU counter); `family_of` reads the answer."""
    return (
        f"count by (__name__) (container_cpu_usage_seconds_total{_pod_selector(config)})"
        f" or count by (__name__) (kube_pod_container_resource_limits{_pod_selector(config)})"
        f" or count by (__name__) (load_harness_container_cpu_seconds_total{_app_selector(config)})"
    )


PROBE_CADVISOR = "container_cpu_usage_seconds_total"
PROBE_KUBE_STATE = "kube_pod_container_resource_limits"
PROBE_LOCAL = "load_harness_container_cpu_seconds_total"


def family_of(names_present: set[str]) -> Family | None:
    """cAdvisor present: the kubernetes family; else our own series: local; else neither answers."""
    if PROBE_CADVISOR in names_present:
        return Family.KUBERNETES
    if PROBE_LOCAL in names_present:
        return Family.LOCAL
    return None


def pod_cpu_cores(config: QueryConfig, family: Family, window: str | None = None) -> str:
    """Cores each pod uses, averaged over the window, by pod."""
    w = window or config.window
    if family is Family.KUBERNETES:
        return f"sum by (pod) (rate(container_cpu_usage_seconds_total{_pod_selector(config)}[{w}]))"
    return f"sum by (pod) (rate(load_harness_container_cpu_seconds_total{_app_selector(config)}[{w}]))"


def pod_cpu_seconds(config: QueryConfig, family: Family) -> str:
    """Each pod's cumulative CPU-seconds counter, by pod (tests and the cost report compare its deltas)."""
    if family is Family.KUBERNETES:
        return f"sum by (pod) (container_cpu_usage_seconds_total{_pod_selector(config)})"
    return f"sum by (pod) (load_harness_container_cpu_seconds_total{_app_selector(config)})"


def pod_memory_bytes(config: QueryConfig, family: Family) -> str:
    """Each pod's working set (kubernetes) or cgroup memory (local), by pod."""
    if family is Family.KUBERNETES:
        return f"sum by (pod) (container_memory_working_set_bytes{_pod_selector(config)})"
    return f"sum by (pod) (load_harness_container_memory_bytes{_app_selector(config)})"


def pod_resource(config: QueryConfig, family: Family, resource: str, kind: str) -> str | None:
    """Each pod's `kind` ("requests" or "limits") of `resource` ("cpu" in cores, "memory" in bytes), by pod; None
    where the family has no such figure (a local process has limits, from its cgroup, but no requests)."""
    if family is Family.KUBERNETES:
        return (
            f"sum by (pod) (kube_pod_container_resource_{kind}{_pod_selector(config, f'resource={_quote(resource)}')})"
        )
    if kind == "requests":
        return None
    local = (
        "load_harness_container_cpu_limit_cores" if resource == "cpu" else "load_harness_container_memory_limit_bytes"
    )
    return f"sum by (pod) ({local}{_app_selector(config)})"


def pod_percent(config: QueryConfig, family: Family, resource: str, kind: str) -> str | None:
    """Each pod's CPU or memory use as a percent of its own request or limit, by pod."""
    of = pod_resource(config, family, resource, kind)
    if of is None:
        return None
    used = pod_cpu_cores(config, family) if resource == "cpu" else pod_memory_bytes(config, family)
    return f"100 * {used} / {of}"


def pod_count(config: QueryConfig, family: Family) -> str:
    """Pods that report CPU now."""
    return f"count({pod_cpu_seconds(config, family)})"


def request_rate(config: QueryConfig, window: str | None = None) -> str:
    """Requests per second over all pods, traffic only."""
    return f"sum(rate(flask_http_request_total{_traffic(config)}[{window or config.window}]))"


def pod_request_rate(config: QueryConfig, window: str | None = None) -> str:
    return f"sum by (pod) (rate(flask_http_request_total{_traffic(config)}[{window or config.window}]))"


def error_ratio(config: QueryConfig, window: str | None = None) -> str:
    """The share of traffic answered with a 5xx, 0 to 1."""
    w = window or config.window
    errors = f"sum(rate(flask_http_request_total{_traffic(config, SERVER_ERRORS)}[{w}]))"
    return f"({errors} or vector(0)) / {request_rate(config, w)}"


def latency_quantile(config: QueryConfig, quantile: float, window: str | None = None) -> str:
    """The `quantile` (0.5 for p50) of request latency in seconds, from the histogram's buckets over all pods."""
    w = window or config.window
    buckets = f"sum by (le) (rate(flask_http_request_duration_seconds_bucket{_traffic(config)}[{w}]))"
    return f"histogram_quantile({quantile:g}, {buckets})"


def hpa_replicas(config: QueryConfig, which: str) -> str:
    """The HPA's `which` ("current" or "desired") replicas, from kube-state-metrics."""
    selector = f"{{namespace={_quote(config.namespace)}, horizontalpodautoscaler={_quote(config.hpa)}}}"
    return f"max(kube_horizontalpodautoscaler_status_{which}_replicas{selector})"


def all_queries(config: QueryConfig) -> dict[str, str]:
    """Every query by a stable name, both families: what the promtool test checks and the docs list."""
    found: dict[str, str] = {"family_probe": family_probe(config)}
    for family in Family:
        found[f"pod_cpu_cores:{family}"] = pod_cpu_cores(config, family)
        found[f"pod_cpu_seconds:{family}"] = pod_cpu_seconds(config, family)
        found[f"pod_memory_bytes:{family}"] = pod_memory_bytes(config, family)
        found[f"pod_count:{family}"] = pod_count(config, family)
        for resource in ("cpu", "memory"):
            for kind in ("requests", "limits"):
                for name, expr in (
                    ("pod_resource", pod_resource(config, family, resource, kind)),
                    ("pod_percent", pod_percent(config, family, resource, kind)),
                ):
                    if expr is not None:
                        found[f"{name}:{family}:{resource}:{kind}"] = expr
    found["request_rate"] = request_rate(config)
    found["pod_request_rate"] = pod_request_rate(config)
    found["error_ratio"] = error_ratio(config)
    for q in QUANTILES:
        found[f"latency_quantile:{q:g}"] = latency_quantile(config, q)
    for which in ("current", "desired"):
        found[f"hpa_replicas:{which}"] = hpa_replicas(config, which)
    return found
