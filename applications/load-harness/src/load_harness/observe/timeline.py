"""What the cluster did during a window: the types the autoscaling report reads, and the source protocol that
the Prometheus and Kubernetes providers implement.

The autoscaling report (`load_harness.autoscaling`) joins this with the run's own series (offered and achieved
rate, latency) from the store. Keeping the types here, apart from any provider, lets the report be computed from a
recorded timeline in tests, and lets each provider fill only the parts it can see: Prometheus the per-pod CPU and the
HPA's replica counts over time, the Kubernetes API the HPA's target, conditions and events and each pod's
ready time. `merge` combines two partial timelines.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class Point(BaseModel):
    """One sample: `t` in Unix seconds (UTC), `value` in the series' unit."""

    model_config = ConfigDict(frozen=True)
    t: float
    value: float


class PodCpu(BaseModel):
    """One pod's CPU over the window, in cores, and its request (cores) when known."""

    model_config = ConfigDict(frozen=True)
    pod: str
    request_cores: float | None = None
    points: list[Point] = Field(default_factory=list)


class PodLife(BaseModel):
    """When a pod was created and became Ready (Unix seconds); None when it did not happen in the window."""

    model_config = ConfigDict(frozen=True)
    pod: str
    created_at: float | None = None
    ready_at: float | None = None
    deleted_at: float | None = None


class HpaEvent(BaseModel):
    """A HorizontalPodAutoscaler event or condition change, e.g. reason SuccessfulRescale, 'New size: 4'."""

    model_config = ConfigDict(frozen=True)
    t: float
    reason: str
    message: str = ""


class ClusterTimeline(BaseModel):
    """The cluster during [start, end]. Empty lists mean "this source does not see that", never "zero"."""

    model_config = ConfigDict(frozen=True)
    start: float
    end: float
    step_seconds: float
    source: str
    hpa_name: str | None = None
    # The HPA's CPU target, as a percent of the pods' CPU request (spec.metrics[].resource.target.averageUtilization).
    target_cpu_percent: float | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    replicas_current: list[Point] = Field(default_factory=list)
    replicas_desired: list[Point] = Field(default_factory=list)
    pod_cpu: list[PodCpu] = Field(default_factory=list)
    pods: list[PodLife] = Field(default_factory=list)
    events: list[HpaEvent] = Field(default_factory=list)
    # Why a part is missing ("Prometheus unreachable: ...", "no HPA named load-harness"); shown by the report.
    notes: list[str] = Field(default_factory=list)


class TimelineUnavailable(BaseModel):
    """The source could not answer at all, and why (shown instead of empty charts)."""

    model_config = ConfigDict(frozen=True)
    source: str
    reason: str


class TimelineSource(Protocol):
    """Implemented by the Prometheus and Kubernetes providers. Must not raise for an unreachable or refusing
    backend: it returns TimelineUnavailable with the reason, within the provider's own timeout."""

    source: str

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable: ...


def merge(first: ClusterTimeline, second: ClusterTimeline) -> ClusterTimeline:
    """Two partial views of one window: each field comes from the first timeline that has it."""
    fields: dict[str, object] = {}
    for name in ClusterTimeline.model_fields:
        a, b = getattr(first, name), getattr(second, name)
        if name == "notes":
            fields[name] = [*a, *b]
        elif name == "source":
            fields[name] = f"{a} + {b}"
        else:
            fields[name] = a if a not in (None, []) else b
    return ClusterTimeline.model_validate(fields)
