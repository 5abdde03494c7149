"""LoadHarness overview: traffic, latency, each pod's CPU and memory against its request and limit, the jobs the
pods run, and the HPA's replicas."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus
from grafana_foundation_sdk.models import dashboard as models

from grafana_boards.common import (
    APP,
    APP_PODS,
    CADVISOR,
    RATE,
    TRAFFIC,
    Item,
    add,
    app_variable,
    finish,
    graph,
    namespace_variable,
    new_dashboard,
    query_variable,
    single,
    target,
)

UID = "load-harness-overview"
KSM = 'namespace=~"$namespace"'
HPA = 'namespace=~"$namespace", horizontalpodautoscaler=~"$hpa"'
QUANTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))


def _per_pod_ratio(usage: str, resource: str, kind: str) -> str:
    """100 × a pod's usage (summed over its containers) / its summed requests or limits, LoadHarness pods only."""
    return (
        f"100 * sum by (pod) ({usage}) / sum by (pod) "
        f'(kube_pod_container_resource_{kind}{{{KSM}, resource="{resource}"}}) * {APP_PODS}'
    )


def _latency(quantile: str, legend: str) -> prometheus.Dataquery:
    """A new query each call: a built query belongs to one panel, which numbers its refId."""
    return target(
        f"histogram_quantile({quantile}, sum by (le) "
        f"(rate(flask_http_request_duration_seconds_bucket{{{TRAFFIC}}}[{RATE}])))",
        legend,
    )


def _traffic() -> list[Item]:
    return [
        dashboard.Row("Traffic"),
        single(
            "Request rate",
            "Requests per second answered by every pod (probes and Prometheus's scrapes left out).",
            "reqps",
            target(f"sum(rate(flask_http_request_total{{{TRAFFIC}}}[{RATE}]))"),
        ),
        single(
            "Error ratio",
            "Share of requests answered 5xx. 0 while there is traffic and no error (the `or vector(0)`); no data "
            "without traffic.",
            "percentunit",
            target(
                f'(sum(rate(flask_http_request_total{{{TRAFFIC}, status=~"5.."}}[{RATE}])) or vector(0)) '
                f"/ sum(rate(flask_http_request_total{{{TRAFFIC}}}[{RATE}]))"
            ),
        ),
        single(
            "Pods serving",
            "LoadHarness pods Prometheus scrapes successfully.",
            "short",
            target(f"count(up{{{APP}}} == 1)"),
        ),
        single(
            "p99 latency",
            "99th percentile of request latency over every pod, from flask_http_request_duration_seconds.",
            "s",
            _latency("0.99", "p99"),
        ),
        graph(
            "Request rate by pod",
            "Requests per second each pod answered.",
            "reqps",
            target(f"sum by (pod) (rate(flask_http_request_total{{{TRAFFIC}}}[{RATE}]))", "{{pod}}"),
        ),
        graph(
            "Latency p50 / p95 / p99",
            "Percentiles of request latency over every pod, from the flask_http_request_duration_seconds buckets "
            "(1 ms to 30 s, with 200 ms, the SLO, as a bucket edge).",
            "s",
            *(_latency(q, name) for name, q in QUANTILES),
        ),
        graph(
            "Requests slower than the 200 ms SLO",
            "Share of requests slower than 200 ms over 5 minutes, from the recording rule "
            "job:flask_http_request_slow:ratio_rate5m (observability/rules/load-harness-slo.rules.yaml). The SLO "
            "allows 1 %; the burn-rate alerts fire at 14.4 % and 6 %.",
            "percentunit",
            target('job:flask_http_request_slow:ratio_rate5m{job=~"$app", namespace=~"$namespace"}', "{{job}}"),
        ),
    ]


def _pods() -> list[Item]:
    cpu_usage = f"rate(container_cpu_usage_seconds_total{{{CADVISOR}}}[{RATE}])"
    memory_usage = f"container_memory_working_set_bytes{{{CADVISOR}}}"
    return [
        dashboard.Row("Pods: CPU and memory"),
        graph(
            "CPU per pod, % of request and limit (cAdvisor, kube-state-metrics)",
            "Each pod's CPU (container_cpu_usage_seconds_total) as a percent of its containers' summed CPU "
            "requests and limits (kube_pod_container_resource_*): the HPA's own measure is the % of request.",
            "percent",
            target(_per_pod_ratio(cpu_usage, "cpu", "requests"), "{{pod}} of request"),
            target(_per_pod_ratio(cpu_usage, "cpu", "limits"), "{{pod}} of limit"),
        ),
        graph(
            "Memory per pod, % of request and limit (cAdvisor, kube-state-metrics)",
            "Each pod's working set (container_memory_working_set_bytes, what the OOM killer weighs) as a percent of "
            "its containers' summed memory requests and limits.",
            "percent",
            target(_per_pod_ratio(memory_usage, "memory", "requests"), "{{pod}} of request"),
            target(_per_pod_ratio(memory_usage, "memory", "limits"), "{{pod}} of limit"),
        ),
        graph(
            "CPU per pod, % of limit (the pod's own cgroup)",
            "What each pod reads from its own cgroup (load_harness_container_*): works without cAdvisor, e.g. "
            "locally. The limit is the CPU quota, or the host's CPUs when there is none.",
            "percent",
            target(
                f"100 * rate(load_harness_container_cpu_seconds_total{{{APP}}}[{RATE}]) "
                f"/ load_harness_container_cpu_limit_cores{{{APP}}}",
                "{{pod}}",
            ),
        ),
        graph(
            "Memory per pod, % of limit (the pod's own cgroup)",
            "Each pod's cgroup memory use as a percent of its cgroup limit (load_harness_container_*). No data for "
            "a pod without a memory limit.",
            "percent",
            target(
                f"100 * load_harness_container_memory_bytes{{{APP}}} "
                f"/ load_harness_container_memory_limit_bytes{{{APP}}}",
                "{{pod}}",
            ),
        ),
    ]


def _jobs_and_scaling() -> list[Item]:
    return [
        dashboard.Row("Jobs and autoscaling"),
        graph(
            "Jobs active",
            "Running CPU and memory jobs, over every pod (load_harness_jobs_active).",
            "short",
            target(f"sum by (kind) (load_harness_jobs_active{{{APP}}})", "{{kind}}"),
        ),
        graph(
            "CPU cores burning",
            "Cores that each pod's running CPU jobs are set to burn (load_harness_cpu_cores_burning).",
            "short",
            target(f"load_harness_cpu_cores_burning{{{APP}}}", "{{pod}}"),
        ),
        graph(
            "Memory held",
            "Memory that each pod's running memory jobs hold (load_harness_memory_held_bytes).",
            "bytes",
            target(f"load_harness_memory_held_bytes{{{APP}}}", "{{pod}}"),
        ),
        graph(
            "HPA replicas",
            "The HPA's current and desired replicas and its bounds (kube-state-metrics), beside the pods "
            "Prometheus scrapes.",
            "short",
            target(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "current"),
            target(f"kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}}", "desired"),
            target(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "max"),
            target(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "min"),
            target(f"count(up{{{APP}}} == 1)", "pods scraped"),
        ),
    ]


def build() -> models.Dashboard:
    board = (
        new_dashboard(
            UID,
            "LoadHarness overview",
            "Traffic, latency, per-pod CPU and memory against requests and limits, jobs and HPA replicas.",
            ["overview"],
        )
        .with_variable(namespace_variable())
        .with_variable(app_variable())
        .with_variable(
            query_variable(
                "hpa",
                "HPA",
                'label_values(kube_horizontalpodautoscaler_spec_max_replicas{namespace=~"$namespace"}, '
                "horizontalpodautoscaler)",
                include_all=False,
                default="load-harness",
            )
        )
    )
    return finish(add(board, [*_traffic(), *_pods(), *_jobs_and_scaling()]))
