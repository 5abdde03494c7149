"""A recorded week of kube-state-metrics and cAdvisor series for `fleet cost allocate`, and a real Prometheus over it.

`write_openmetrics` writes the week deterministically (no randomness, no clock): every value is a constant of the
specs below, so a test can compute the expected allocation by hand from the same specs.

Timing, chosen so that the arithmetic is exact rather than approximately right:
- every series is sampled every 150 s, 75 s off the 5-minute grid (T+75 s, T+225 s, ...), so the query's 5-minute
  subquery points never coincide with a sample and each point's 5-minute rate window holds exactly two samples
  centred in it: rate() then returns the counter's slope exactly (no extrapolation error);
- a series that lives from hour A to hour B is visible at exactly (B - A) x 12 of the subquery's points (the last
  sample is 75 s before B, inside the 5-minute lookback of the point at B; the first is 75 s after A, so the point
  at A sees nothing), so the observed hours are exactly B - A.

`prometheus_over` builds TSDB blocks with `promtool tsdb create-blocks-from openmetrics` and runs the real
`prometheus` binary over them on a free 127.0.0.1 port.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from local_servers import free_port, running

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
IMPORT = [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics"]

WEEK_START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, on the 5-minute grid
WEEK_END = WEEK_START + timedelta(days=7)
WEEK_HOURS = 168
SCRAPE_SECONDS = 150
SCRAPE_OFFSET_SECONDS = 75
GIB = 2**30


@dataclass(frozen=True)
class NodeSpec:
    name: str
    instance_type: str
    capacity_label: str  # the Prometheus label name kube-state-metrics gives the node label
    capacity_value: str
    cpu_cores: float
    ram_gib: float


@dataclass(frozen=True)
class ContainerSpec:
    namespace: str
    pod: str
    container: str
    node: str
    owner_kind: str  # the pod's direct owner (kube_pod_owner)
    owner_name: str
    cpu_request: float  # cores
    cpu_usage: float  # cores; the rate of container_cpu_usage_seconds_total
    ram_request_gib: float
    ram_usage_gib: float  # container_memory_working_set_bytes / 2^30
    start_hour: int = 0
    end_hour: int = WEEK_HOURS
    # From this hour on the container uses this many cores instead (a load that doubles mid-week).
    cpu_usage_change: tuple[int, float] | None = None

    def cpu_usage_at_hour(self, hour: float) -> float:
        if self.cpu_usage_change and hour >= self.cpu_usage_change[0]:
            return self.cpu_usage_change[1]
        return self.cpu_usage


NODE_A = NodeSpec(
    "ip-10-0-1-10.eu-west-2.compute.internal", "t3.large", "label_eks_amazonaws_com_capacity_type", "ON_DEMAND", 2, 8
)
NODE_B = NodeSpec(
    "ip-10-0-2-20.eu-west-2.compute.internal", "t3.medium", "label_karpenter_sh_capacity_type", "spot", 2, 4
)
NODES = (NODE_A, NODE_B)

# ReplicaSet -> Deployment, as kube_replicaset_owner reports it.
REPLICASETS = {
    ("kube-system", "coredns-5d78c9869d"): "coredns",
    ("shop", "web-7c9d8f6b5"): "web",
    ("shop", "api-6f5d4c3b2"): "api",
}

CONTAINERS = (
    ContainerSpec(
        "kube-system", "coredns-5d78c9869d-abcde", "coredns", NODE_A.name, "ReplicaSet", "coredns-5d78c9869d",
        cpu_request=0.125, cpu_usage=0.0625, ram_request_gib=0.125, ram_usage_gib=0.0625,
    ),
    # The DaemonSet runs on both nodes, so its cost mixes two node prices. Its memory use exceeds its request.
    ContainerSpec(
        "kube-system", "aws-node-aaaaa", "aws-node", NODE_A.name, "DaemonSet", "aws-node",
        cpu_request=0.0625, cpu_usage=0.03125, ram_request_gib=0.0625, ram_usage_gib=0.125,
    ),
    ContainerSpec(
        "kube-system", "aws-node-bbbbb", "aws-node", NODE_B.name, "DaemonSet", "aws-node",
        cpu_request=0.0625, cpu_usage=0.03125, ram_request_gib=0.0625, ram_usage_gib=0.125,
    ),
    ContainerSpec(
        "monitoring", "prometheus-0", "prometheus", NODE_A.name, "StatefulSet", "prometheus",
        cpu_request=0.25, cpu_usage=0.125, ram_request_gib=1.0, ram_usage_gib=1.5,
    ),
    # Requests exceed usage; its CPU use rises mid-week (0.25 then 0.375 cores, 0.3125 on average).
    ContainerSpec(
        "shop", "web-7c9d8f6b5-x1y2z", "web", NODE_A.name, "ReplicaSet", "web-7c9d8f6b5",
        cpu_request=0.5, cpu_usage=0.25, ram_request_gib=1.0, ram_usage_gib=0.5, cpu_usage_change=(84, 0.375),
    ),
    ContainerSpec(
        "shop", "web-7c9d8f6b5-x1y2z", "log-shipper", NODE_A.name, "ReplicaSet", "web-7c9d8f6b5",
        cpu_request=0.0625, cpu_usage=0.0625, ram_request_gib=0.125, ram_usage_gib=0.125,
    ),
    ContainerSpec(
        "shop", "api-6f5d4c3b2-q9w8e", "api", NODE_B.name, "ReplicaSet", "api-6f5d4c3b2",
        cpu_request=0.25, cpu_usage=0.125, ram_request_gib=0.5, ram_usage_gib=0.25,
    ),
    # Lives only the first half of the week, and uses more than it requested.
    ContainerSpec(
        "batch", "backfill-k7m2p", "backfill", NODE_B.name, "Job", "backfill",
        cpu_request=0.5, cpu_usage=1.0, ram_request_gib=0.5, ram_usage_gib=1.0, end_hour=84,
    ),
)  # fmt: skip


def _sample_times(start_hour: float, end_hour: float) -> Iterator[float]:
    """Unix times of the scrapes between two hours of the week (see the module docstring for the offsets)."""
    t = WEEK_START.timestamp() + start_hour * 3600 + SCRAPE_OFFSET_SECONDS
    end = WEEK_START.timestamp() + end_hour * 3600
    while t < end:
        yield t
        t += SCRAPE_SECONDS


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def _constant(out: TextIO, name: str, labels: dict[str, str], value: float, start: float, end: float) -> None:
    text = _labels(labels)
    for t in _sample_times(start, end):
        out.write(f"{name}{{{text}}} {value!r} {t:.0f}\n")


def _cpu_counter(out: TextIO, c: ContainerSpec, labels: dict[str, str], scale: float = 1.0) -> None:
    """container_cpu_usage_seconds_total: the integral of the usage. It starts well above zero (as a container's
    counter does after its first minute), so rate() never extrapolates towards zero at the series' first samples."""
    text = _labels(labels)
    value = 3600.0 * c.cpu_usage * scale
    previous = None
    for t in _sample_times(c.start_hour, c.end_hour):
        if previous is not None:
            hour = (t - WEEK_START.timestamp()) / 3600
            value += c.cpu_usage_at_hour(hour) * scale * (t - previous)
        previous = t
        out.write(f"container_cpu_usage_seconds_total{{{text}}} {value!r} {t:.0f}\n")


def _family(out: TextIO, name: str, kind: str) -> None:
    out.write(f"# HELP {name} recorded for fleet cost allocate tests\n# TYPE {name} {kind}\n")


def write_openmetrics(path: Path) -> None:
    """Write the week as one OpenMetrics text file (families contiguous, `# EOF` last, as promtool requires)."""
    pods = {(c.namespace, c.pod): c for c in CONTAINERS}
    with path.open("w", encoding="utf-8") as out:
        _family(out, "kube_node_labels", "gauge")
        for n in NODES:
            labels = {"node": n.name, "label_node_kubernetes_io_instance_type": n.instance_type}
            _constant(out, "kube_node_labels", {**labels, n.capacity_label: n.capacity_value}, 1, 0, WEEK_HOURS)
        _family(out, "kube_node_status_capacity", "gauge")
        for n in NODES:
            cpu = {"node": n.name, "resource": "cpu", "unit": "core"}
            _constant(out, "kube_node_status_capacity", cpu, n.cpu_cores, 0, WEEK_HOURS)
            ram = {"node": n.name, "resource": "memory", "unit": "byte"}
            _constant(out, "kube_node_status_capacity", ram, n.ram_gib * GIB, 0, WEEK_HOURS)
        _family(out, "kube_pod_info", "gauge")
        for (ns, pod), c in pods.items():
            labels = {"namespace": ns, "pod": pod, "node": c.node, "created_by_kind": c.owner_kind}
            _constant(out, "kube_pod_info", labels, 1, c.start_hour, c.end_hour)
        _family(out, "kube_pod_owner", "gauge")
        for (ns, pod), c in pods.items():
            labels = {"namespace": ns, "pod": pod, "owner_kind": c.owner_kind, "owner_name": c.owner_name}
            _constant(out, "kube_pod_owner", {**labels, "owner_is_controller": "true"}, 1, c.start_hour, c.end_hour)
        _family(out, "kube_replicaset_owner", "gauge")
        for (ns, rs), deployment in REPLICASETS.items():
            labels = {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": deployment}
            _constant(out, "kube_replicaset_owner", labels, 1, 0, WEEK_HOURS)
        _family(out, "kube_pod_container_status_running", "gauge")
        for c in CONTAINERS:
            labels = {"namespace": c.namespace, "pod": c.pod, "container": c.container}
            _constant(out, "kube_pod_container_status_running", labels, 1, c.start_hour, c.end_hour)
        _family(out, "kube_pod_container_resource_requests", "gauge")
        for c in CONTAINERS:
            labels = {"namespace": c.namespace, "pod": c.pod, "container": c.container, "node": c.node}
            cpu = {**labels, "resource": "cpu", "unit": "core"}
            _constant(out, "kube_pod_container_resource_requests", cpu, c.cpu_request, c.start_hour, c.end_hour)
            ram = {**labels, "resource": "memory", "unit": "byte"}
            _constant(
                out, "kube_pod_container_resource_requests", ram, c.ram_request_gib * GIB, c.start_hour, c.end_hour
            )
        _family(out, "container_cpu_usage_seconds", "counter")
        for c in CONTAINERS:
            _cpu_counter(out, c, {"namespace": c.namespace, "pod": c.pod, "container": c.container})
        for c in pods.values():
            # cAdvisor's pod-level cgroup (container="") repeats its containers' use; counting it would double it.
            _cpu_counter(out, c, {"namespace": c.namespace, "pod": c.pod, "id": f"/kubepods/{c.pod}"})
        _family(out, "container_memory_working_set_bytes", "gauge")
        for c in CONTAINERS:
            working_set = {"namespace": c.namespace, "pod": c.pod, "container": c.container}
            ram = c.ram_usage_gib * GIB
            _constant(out, "container_memory_working_set_bytes", working_set, ram, c.start_hour, c.end_hour)
        for c in pods.values():
            # The pod-level cgroup (container="") and the pause container ("POD") are not a workload's own use.
            pod_cgroup = {"namespace": c.namespace, "pod": c.pod, "id": f"/kubepods/{c.pod}"}
            _constant(out, "container_memory_working_set_bytes", pod_cgroup, 4 * GIB, c.start_hour, c.end_hour)
            pause = {**pod_cgroup, "container": "POD"}
            _constant(out, "container_memory_working_set_bytes", pause, 1_048_576, c.start_hour, c.end_hour)
        out.write("# EOF\n")


def build_tsdb(openmetrics: Path, tsdb: Path) -> None:
    """Turn the OpenMetrics file into TSDB blocks with promtool (one-day blocks: fewer files than the 2 h default)."""
    subprocess.run(
        [*IMPORT, "--max-block-duration=24h", str(openmetrics), str(tsdb)],
        check=True,
        capture_output=True,
        timeout=600,
    )


def _query(url: str, promql: str, at: datetime) -> list[dict[str, object]]:
    params = urllib.parse.urlencode({"query": promql, "time": f"{at.timestamp():.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=30) as response:
        body = json.load(response)
    result: list[dict[str, object]] = body["data"]["result"]
    return result


@contextmanager
def prometheus_over(tsdb: Path, workdir: Path, *extra_args: str) -> Iterator[str]:
    """Run the real prometheus over `tsdb` on a free port; yield its URL once the recorded week answers queries."""
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tsdb}",
        # The recorded week lies in the past; a short retention would delete it on start.
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        *extra_args,
    ]
    with running(argv, f"{url}/-/ready", "prometheus"):
        # Ready means the TSDB is open; wait until the blocks' series answer too, with a generous deadline.
        deadline = time.monotonic() + 120
        while not _query(url, "count(kube_node_labels)", WEEK_END - timedelta(minutes=2)):
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus started but the recorded week is not queryable")
            time.sleep(0.2)
        yield url
