"""What a metrics provider returns, and the interface every provider implements.

A figure is never a bare number: it carries its unit, its limit when there is one, and, when there is no value,
the reason. The dashboard prints that reason, so an unavailable source is stated, never shown as a silent "--"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Scope = Literal["pod", "cluster"]


@dataclass(frozen=True)
class Figure:
    """One measured quantity: across pods, `value` is the average and `peak` the maximum."""

    label: str
    unit: str
    value: float | None = None
    peak: float | None = None
    limit: float | None = None
    reason: str | None = None  # why `value` is None, or a qualifier worth showing next to it

    @property
    def available(self) -> bool:
        return self.value is not None

    @property
    def percent(self) -> float | None:
        """The value as a share of its limit, for bars; None when either is unknown."""
        if self.value is None or not self.limit:
            return None
        return max(0.0, min(100.0, 100.0 * self.value / self.limit))


@dataclass(frozen=True)
class Overview:
    """The live metrics panel: CPU, memory, pod count and request rate, for one pod or the whole cluster."""

    scope: Scope
    source: str
    cpu: Figure
    memory: Figure
    pods: Figure
    request_rate: Figure
    unavailable: str | None = None  # set when the whole source cannot answer
    taken_at: float = 0.0

    @property
    def available(self) -> bool:
        return self.unavailable is None


@dataclass(frozen=True)
class PodUsage:
    name: str
    cpu: Figure
    memory: Figure
    status: str = "running"
    this_pod: bool = False


@dataclass(frozen=True)
class PodList:
    scope: Scope
    source: str
    pods: list[PodUsage] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def available(self) -> bool:
        return self.unavailable is None


class MetricsProvider(Protocol):
    """A source of live metrics. LocalProvider reads this pod's cgroup; later work adds Prometheus and
    Kubernetes providers for the cluster scope. Implementations must answer quickly (the dashboard polls every
    few seconds) and report failures through `unavailable`/`reason` rather than raising."""

    scope: Scope
    source: str

    def overview(self) -> Overview: ...

    def pods(self) -> PodList: ...


def unavailable_figure(label: str, unit: str, reason: str) -> Figure:
    return Figure(label=label, unit=unit, reason=reason)
