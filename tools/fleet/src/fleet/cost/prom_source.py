"""What `fleet cost allocate` reads from Prometheus: instant PromQL queries over a window, as typed observations.

Every query is an instant query (/api/v1/query) at `time` = the end of the window, over a subquery
`[WINDOW:STEP]`: Prometheus evaluates the inner expression every STEP seconds (aligned to the clock) in the window,
and the *_over_time function folds those points. A series present at N points was up for N x STEP seconds, so a
pod that came and went mid-window is charged for the hours it existed, not the whole window.

Metrics relied on (names and labels as of kube-state-metrics v2.x and the kubelet's cAdvisor endpoint):
- kube_node_labels{node, label_node_kubernetes_io_instance_type, label_karpenter_sh_capacity_type,
  label_eks_amazonaws_com_capacity_type}: kube-state-metrics exports node labels only when
  --metric-labels-allowlist names them;
- kube_node_status_capacity{node, resource="cpu"|"memory"} (v2; v1's kube_node_status_capacity_cpu_cores is gone);
- kube_pod_info{namespace, pod, node}, kube_pod_owner{owner_kind, owner_name},
  kube_replicaset_owner{replicaset, owner_kind, owner_name};
- kube_pod_container_status_running, kube_pod_container_resource_requests{resource="cpu"|"memory"} (v2);
- container_cpu_usage_seconds_total and container_memory_working_set_bytes with container != "" and != "POD"
  (the pod-level cgroup and the pause container would count the pod twice).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationError

from fleet.cost.allocate import ClusterObservation, ContainerObservation, NodeObservation

_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
# The 5-minute rate window needs at least two scrapes in it: fine for scrape intervals up to 2.5 minutes.
RATE_WINDOW = "5m"


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration ("7d", "1h30m", "90d"). Raises ValueError when it is not one."""
    value = text.strip()
    pos, seconds, last_rank = 0, 0.0, -1
    order = list(_UNIT_SECONDS)
    for match in _DURATION.finditer(value):
        rank = order.index(match.group(2))
        # Prometheus wants units largest first, each once ("1h30m", not "30m1h").
        if match.start() != pos or rank <= last_rank:
            break
        seconds += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos, last_rank = match.end(), rank
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a Prometheus duration such as 90m, 12h, 7d or 1w")
    return seconds


class PrometheusError(Exception):
    """Prometheus could not be reached, or it refused a query; the message names the query."""


class _Sample(BaseModel):
    model_config = ConfigDict(frozen=True)
    metric: dict[str, str]
    value: tuple[float, str]

    @property
    def number(self) -> float:
        return float(self.value[1])


class _Vector(BaseModel):
    resultType: str  # Prometheus spells its fields in camelCase
    result: list[_Sample]


class _Response(BaseModel):
    status: str
    data: _Vector | None = None
    error: str | None = None
    errorType: str | None = None


class PrometheusClient:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--prometheus {base_url!r}: expected an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def instant(self, query: str, at: datetime) -> list[_Sample]:
        """Run one instant query at `at`; raise PrometheusError naming the query on any failure."""
        params = urllib.parse.urlencode({"query": query, "time": f"{at.timestamp():.3f}"})
        url = f"{self.base_url}/api/v1/query?{params}"
        try:
            # The scheme was checked in __init__: only http(s) reaches urlopen.
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()  # Prometheus explains a bad query (400/422) or overload (503) in the body
            detail = _error_detail(body) or f"HTTP {exc.code} {exc.reason}"
            raise PrometheusError(f"Prometheus at {self.base_url} refused the query {query}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot reach Prometheus at {self.base_url} (query {query}): {reason}") from exc
        try:
            parsed = _Response.model_validate_json(body)
        except ValidationError as exc:
            raise PrometheusError(f"Prometheus at {self.base_url} answered {query} with something else") from exc
        if parsed.status != "success" or parsed.data is None:
            raise PrometheusError(f"Prometheus refused the query {query}: {parsed.error or parsed.status}")
        if parsed.data.resultType != "vector":
            raise PrometheusError(f"query {query} returned a {parsed.data.resultType}, not a vector")
        return parsed.data.result


def _error_detail(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return f"{data.get('errorType', 'error')}: {data.get('error')}" if isinstance(data, dict) else None


def _labels(sample: _Sample, *names: str) -> tuple[str, ...]:
    return tuple(sample.metric.get(name, "") for name in names)


def collect(client: PrometheusClient, end: datetime, window_seconds: float, step_seconds: int) -> ClusterObservation:
    """Query nodes and containers over the window ending at `end`."""
    # The range stops 1 ms short of the window: Prometheus 2.x includes a subquery's first point (range closed on
    # the left), 3.x does not; without the start point both give exactly window / step points, each standing for
    # the step that ends at it.
    span = f"[{int(window_seconds * 1000) - 1}ms:{int(step_seconds)}s]"
    hours_per_point = step_seconds / 3600

    def per(query: str) -> list[_Sample]:
        return client.instant(query, end)

    warnings: list[str] = []
    node_hours: dict[str, float] = defaultdict(float)
    node_labels: dict[str, tuple[float, dict[str, str]]] = {}
    for s in per(f"count_over_time(kube_node_labels{span})"):
        name = s.metric.get("node", "")
        node_hours[name] += s.number * hours_per_point
        # Labels that changed mid-window make two series; price the node by the one seen longest.
        if name not in node_labels or s.number > node_labels[name][0]:
            node_labels[name] = (s.number, s.metric)
    capacity: dict[tuple[str, str], float] = {}
    for s in per(f'avg_over_time(kube_node_status_capacity{{resource=~"cpu|memory"}}{span})'):
        capacity[(s.metric.get("node", ""), s.metric.get("resource", ""))] = s.number
    nodes = []
    for name, hours in sorted(node_hours.items()):
        labels = node_labels[name][1]
        cpu, ram = capacity.get((name, "cpu")), capacity.get((name, "memory"))
        if cpu is None or ram is None:
            warnings.append(f"node {name} has no kube_node_status_capacity: its idle cost cannot be split")
        nodes.append(
            NodeObservation(
                name=name,
                instance_type=labels.get("label_node_kubernetes_io_instance_type"),
                capacity_type=labels.get("label_karpenter_sh_capacity_type")
                or labels.get("label_eks_amazonaws_com_capacity_type"),
                hours=hours,
                cpu_cores=cpu or 0.0,
                ram_bytes=ram or 0.0,
            )
        )

    def by_container(query: str) -> dict[tuple[str, ...], float]:
        return {_labels(s, "namespace", "pod", "container"): s.number for s in per(query)}

    running = by_container(f"count_over_time((kube_pod_container_status_running == 1){span})")
    requests = {
        resource: by_container(f'avg_over_time(kube_pod_container_resource_requests{{resource="{resource}"}}{span})')
        for resource in ("cpu", "memory")
    }
    own_cgroups = 'container!="",container!="POD"'
    cpu_usage = by_container(
        "avg_over_time(sum by (namespace, pod, container) "
        f"(rate(container_cpu_usage_seconds_total{{{own_cgroups}}}[{RATE_WINDOW}])){span})"
    )
    ram_usage = by_container(
        f"avg_over_time(sum by (namespace, pod, container) (container_memory_working_set_bytes{{{own_cgroups}}}){span})"
    )

    pod_node: dict[tuple[str, ...], tuple[float, str]] = {}
    for s in per(f'count_over_time(kube_pod_info{{node!=""}}{span})'):
        key = _labels(s, "namespace", "pod")
        # A pod name reused on another node (a StatefulSet pod rescheduled) is charged at the longest-seen node.
        if key not in pod_node or s.number > pod_node[key][0]:
            pod_node[key] = (s.number, s.metric.get("node", ""))
    owner = ("owner_kind", "owner_name")
    pod_owner = {
        _labels(s, "namespace", "pod"): _labels(s, *owner) for s in per(f"max_over_time(kube_pod_owner{span})")
    }
    rs_owner = {
        _labels(s, "namespace", "replicaset"): _labels(s, *owner)
        for s in per(f"max_over_time(kube_replicaset_owner{span})")
    }

    containers = []
    for (ns, pod, container), points in sorted(running.items()):
        kind, name = pod_owner.get((ns, pod), ("", ""))[:2]
        if kind == "ReplicaSet" and (ns, name) in rs_owner:
            kind, name = rs_owner[(ns, name)][:2]
        if not kind or kind == "<none>":
            kind, name = "Pod", pod  # a bare pod is its own workload
        key = (ns, pod, container)
        containers.append(
            ContainerObservation(
                namespace=ns,
                pod=pod,
                container=container,
                node=pod_node.get((ns, pod), (0.0, None))[1],
                workload_kind=kind,
                workload=name,
                hours=points * hours_per_point,
                cpu_request_cores=requests["cpu"].get(key, 0.0),
                cpu_usage_cores=cpu_usage.get(key, 0.0),
                ram_request_bytes=requests["memory"].get(key, 0.0),
                ram_usage_bytes=ram_usage.get(key, 0.0),
            )
        )
    return ClusterObservation(
        start=end - timedelta(seconds=window_seconds),
        end=end,
        step_seconds=step_seconds,
        nodes=nodes,
        containers=containers,
        warnings=warnings,
    )
