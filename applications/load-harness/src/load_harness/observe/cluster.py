"""The cluster scope when no cluster source can answer: PROMETHEUS_URL is unset, or its settings are invalid. The
panel then says so plainly, and how to fix it, instead of showing empty figures."""

from __future__ import annotations

from load_harness.observe.base import Figure, Overview, PodList, Scope, unavailable_figure

NO_SOURCE_REASON = (
    "No cluster metrics source is configured. Set PROMETHEUS_URL to read every pod's CPU, memory, requests and "
    "latency from Prometheus (docs/metrics.md, 'The Prometheus provider'). The 'This pod' view reads the local cgroup."
)


def misconfigured_reason(problem: str) -> str:
    return f"The Prometheus provider is not running because its settings are invalid: {problem}"


class UnconfiguredClusterProvider:
    """The explicit "no cluster source" state: every figure is unavailable, with the reason."""

    scope: Scope = "cluster"
    source = "none configured"

    def __init__(self, reason: str = NO_SOURCE_REASON) -> None:
        self.reason = reason

    def _figure(self, label: str, unit: str) -> Figure:
        return unavailable_figure(label, unit, "no cluster source configured")

    def overview(self) -> Overview:
        return Overview(
            scope=self.scope,
            source=self.source,
            cpu=self._figure("CPU", "cores"),
            memory=self._figure("Memory", "bytes"),
            pods=self._figure("Pods", "pods"),
            request_rate=self._figure("Request rate", "req/s"),
            unavailable=self.reason,
        )

    def pods(self) -> PodList:
        return PodList(self.scope, self.source, unavailable=self.reason)
