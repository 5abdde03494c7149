"""What a run cost the cluster, from the cluster timeline and a price per vCPU-hour and per GiB-hour.

Default prices come from the node type the platform runs on: a t3.large spot instance in eu-west-2, $0.031 an hour
for 2 vCPUs and 8 GiB (the platform facts). The split rule is OpenCost's, the one `fleet cost allocate` and the
platform-cost dashboard use: a vCPU-hour costs CPU_RAM_RATIO times a GiB-hour (the ratio of OpenCost's default
prices, $0.031611 per vCPU-hour and $0.004237 per GiB-hour), and the two add up to the instance's price:

    GiB-hour = 0.031 / (2 × 7.4607 + 8) = $0.0013525        vCPU-hour = GiB-hour × 7.4607 = $0.0100903

PRICE_PER_VCPU_HOUR and PRICE_PER_GB_HOUR override either; POD_MEMORY_REQUEST_MB says what each pod requests, as
the timeline carries CPU requests only (no memory is charged without it, and the report says so).

Cost counts what the pods reserve, the way a node is paid for: each pod's CPU request (and memory request) for as
long as it exists inside the run's window. The CPU the pods actually used is reported beside it."""

from __future__ import annotations

from dataclasses import dataclass

from load_harness.autoscaling.model import Cost, Prices
from load_harness.observe.timeline import ClusterTimeline

INSTANCE_TYPE = "t3.large spot (eu-west-2)"
INSTANCE_USD_PER_HOUR = 0.031
INSTANCE_VCPUS = 2
INSTANCE_GIB = 8
# OpenCost's default vCPU-hour price over its GiB-hour price; fleet's --cpu-ram-ratio default is the same figure.
CPU_RAM_RATIO = 0.031611 / 0.004237
DEFAULT_GB_HOUR_USD = INSTANCE_USD_PER_HOUR / (INSTANCE_VCPUS * CPU_RAM_RATIO + INSTANCE_GIB)
DEFAULT_VCPU_HOUR_USD = DEFAULT_GB_HOUR_USD * CPU_RAM_RATIO
MIB_PER_GIB = 1024


def prices_for(vcpu_hour_usd: float | None, gb_hour_usd: float | None, pod_memory_mb: float | None) -> Prices:
    """The prices to apply: each given one, else the t3.large default (the basis names which is which)."""
    derived = (
        f"{INSTANCE_TYPE} ${INSTANCE_USD_PER_HOUR}/h for {INSTANCE_VCPUS} vCPU and {INSTANCE_GIB} GiB, "
        "split by OpenCost's CPU:RAM price ratio"
    )
    parts = []
    if vcpu_hour_usd is None or gb_hour_usd is None:
        parts.append(derived)
    if vcpu_hour_usd is not None or gb_hour_usd is not None:
        parts.append(
            "configured: "
            + ", ".join(
                name for name, value in (("vCPU-hour", vcpu_hour_usd), ("GiB-hour", gb_hour_usd)) if value is not None
            )
        )
    return Prices(
        vcpu_hour_usd=DEFAULT_VCPU_HOUR_USD if vcpu_hour_usd is None else vcpu_hour_usd,
        gb_hour_usd=DEFAULT_GB_HOUR_USD if gb_hour_usd is None else gb_hour_usd,
        pod_memory_gb=None if not pod_memory_mb else pod_memory_mb / MIB_PER_GIB,
        basis="; ".join(parts),
    )


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def overlap(self, begin: float | None, finish: float | None) -> float:
        """Seconds of [begin, finish] inside the window; an unknown begin or finish is the window's edge."""
        low = self.start if begin is None else max(self.start, begin)
        high = self.end if finish is None else min(self.end, finish)
        return max(0.0, high - low)

    def holds(self, t: float) -> bool:
        return self.start <= t < self.end


def cpu_seconds(timeline: ClusterTimeline, window: Window) -> float | None:
    """∫ cores dt over every pod: each sample stands for one step (a Prometheus rate over the step before it)."""
    if not timeline.pod_cpu:
        return None
    step = timeline.step_seconds
    return sum(p.value * step for pod in timeline.pod_cpu for p in pod.points if window.holds(p.t))


def pod_seconds(timeline: ClusterTimeline, window: Window) -> tuple[dict[str, float], str] | None:
    """Seconds each pod existed in the window (its created → deleted times), else ∫ replicas_current dt."""
    if timeline.pods:
        return {pod.pod: window.overlap(pod.created_at, pod.deleted_at) for pod in timeline.pods}, "pod lives"
    if timeline.replicas_current:
        total = sum(p.value * timeline.step_seconds for p in timeline.replicas_current if window.holds(p.t))
        return {"": total}, "replicas_current integral"
    return None


def compute_cost(
    timeline: ClusterTimeline | None, window: Window, requests_ok: int, prices: Prices, missing_reason: str = ""
) -> Cost:
    notes: list[str] = []
    used = cpu_seconds(timeline, window) if timeline is not None else None
    lives = pod_seconds(timeline, window) if timeline is not None else None
    requests = {pod.pod: pod.request_cores for pod in timeline.pod_cpu if pod.request_cores} if timeline else {}
    pod_hours = vcpu_hours = gb_hours = cost = None
    if lives is not None:
        seconds, _ = lives
        pod_hours = sum(seconds.values()) / 3600
        if requests:
            # A pod whose request the timeline lacks is charged the average request of the others (one Deployment).
            mean_request = sum(requests.values()) / len(requests)
            vcpu_hours = sum(requests.get(pod, mean_request) * s for pod, s in seconds.items()) / 3600
        else:
            notes.append("no CPU request in the timeline: reserved vCPU-hours are not known")
        if prices.pod_memory_gb is not None:
            gb_hours = pod_hours * prices.pod_memory_gb
        else:
            notes.append("memory is not charged: set POD_MEMORY_REQUEST_MB to each pod's memory request")
    else:
        notes.append(f"pod-hours are not known: {missing_reason or 'the timeline has no pods or replicas'}")
    if vcpu_hours is not None:
        cost = vcpu_hours * prices.vcpu_hour_usd + (gb_hours or 0.0) * prices.gb_hour_usd
    used_cost = None if used is None else used / 3600 * prices.vcpu_hour_usd
    per_request_basis = cost if cost is not None else used_cost
    if cost is None and used_cost is not None:
        notes.append("cost per 1,000 requests uses the CPU used, as the reserved cost is not known")
    per_1000 = None
    if per_request_basis is not None and requests_ok:
        per_1000 = per_request_basis / requests_ok * 1000
    return Cost(
        cpu_seconds=used,
        pod_hours=pod_hours,
        pod_hours_source=lives[1] if lives else None,
        vcpu_hours_reserved=vcpu_hours,
        gb_hours_reserved=gb_hours,
        cost_usd=cost,
        cpu_used_cost_usd=used_cost,
        requests_ok=requests_ok,
        cost_per_1000_requests_usd=per_1000,
        prices=prices,
        notes=notes,
    )
