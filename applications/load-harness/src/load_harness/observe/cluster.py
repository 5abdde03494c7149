"""The cluster scope. This release ships no cluster source: the Prometheus and Kubernetes providers arrive with
the observability work. Until then the panel says so plainly instead of showing empty figures."""

from __future__ import annotations

from load_harness.observe.base import Figure, Overview, PodList, Scope, unavailable_figure


def no_source_reason(prometheus_url: str) -> str:
    if prometheus_url:
        return (
            f"PROMETHEUS_URL is set ({prometheus_url}), but this version has no Prometheus provider yet, "
            "so cluster-wide figures are not available. The 'This pod' view reads the local cgroup."
        )
    return (
        "No cluster metrics source is configured. Cluster-wide average and maximum need a Prometheus or "
        "Kubernetes provider, which this version does not include yet. The 'This pod' view reads the local cgroup."
    )


class UnconfiguredClusterProvider:
    """The explicit "no cluster source" state: every figure is unavailable, with the reason."""

    scope: Scope = "cluster"
    source = "none configured"

    def __init__(self, prometheus_url: str = "") -> None:
        self.reason = no_source_reason(prometheus_url)

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
