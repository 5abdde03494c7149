"""Live metrics behind one interface (`MetricsProvider`): the local provider reads this pod's cgroup and
processes; cluster providers (Prometheus, Kubernetes) plug in through `providers_for` when they exist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from load_harness.limits import PodLimits
from load_harness.observe.base import Figure, MetricsProvider, Overview, PodList, PodUsage, Scope
from load_harness.observe.cluster import UnconfiguredClusterProvider
from load_harness.observe.local import LocalProvider
from load_harness.settings import Settings

__all__ = [
    "Figure",
    "LocalProvider",
    "MetricsProvider",
    "Overview",
    "PodList",
    "PodUsage",
    "Providers",
    "Scope",
    "UnconfiguredClusterProvider",
    "providers_for",
]


@dataclass(frozen=True)
class Providers:
    pod: MetricsProvider
    cluster: MetricsProvider
    default_scope: Scope

    def get(self, scope: Scope) -> MetricsProvider:
        return self.pod if scope == "pod" else self.cluster


def providers_for(settings: Settings, engine: Engine, limits: PodLimits) -> Providers:
    """The providers for this deployment. A cluster provider replaces UnconfiguredClusterProvider here."""
    local = LocalProvider(engine, settings.pod_name, limits.available_cores, limits.memory_limit_mb)
    cluster = UnconfiguredClusterProvider(settings.prometheus_url)
    return Providers(pod=local, cluster=cluster, default_scope="pod" if settings.local_mode else "cluster")
