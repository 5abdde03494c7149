"""Live metrics behind one interface (`MetricsProvider`): the local provider reads this pod's cgroup and
processes; with PROMETHEUS_URL set, the cluster scope is the Prometheus provider. The cluster timeline of the
autoscaling report (`Providers.timeline`) combines Prometheus and, with OBSERVE_KUBERNETES on, the Kubernetes API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from load_harness.limits import PodLimits
from load_harness.observe.base import Figure, MetricsProvider, Overview, PodList, PodUsage, Scope
from load_harness.observe.cluster import UnconfiguredClusterProvider, misconfigured_reason
from load_harness.observe.local import LocalProvider
from load_harness.observe.prometheus import PrometheusProvider
from load_harness.observe.timeline import ClusterTimeline, TimelineSource, TimelineUnavailable, merge
from load_harness.settings import Settings

__all__ = [
    "CombinedTimeline",
    "Figure",
    "LocalProvider",
    "MetricsProvider",
    "Overview",
    "PodList",
    "PodUsage",
    "PrometheusProvider",
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
    # The cluster during a window, for the autoscaling report; None when no cluster source is configured.
    timeline: TimelineSource | None = None

    def get(self, scope: Scope) -> MetricsProvider:
        return self.pod if scope == "pod" else self.cluster


class CombinedTimeline:
    """Two sources of one window: each part from the first that has it (timeline.merge). When one cannot answer,
    the other's timeline carries its reason as a note; only when neither can is the whole unavailable."""

    def __init__(self, first: TimelineSource, second: TimelineSource) -> None:
        self.first = first
        self.second = second
        self.source = f"{first.source} + {second.source}"

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable:
        a = self.first.timeline(start, end, step_seconds)
        b = self.second.timeline(start, end, step_seconds)
        if isinstance(a, ClusterTimeline):
            if isinstance(b, ClusterTimeline):
                return merge(a, b)
            return a.model_copy(update={"notes": [*a.notes, f"{b.source} unavailable: {b.reason}"]})
        if isinstance(b, ClusterTimeline):
            return b.model_copy(update={"notes": [f"{a.source} unavailable: {a.reason}", *b.notes]})
        return TimelineUnavailable(source=self.source, reason=f"{a.source}: {a.reason}; {b.source}: {b.reason}")


class _UnavailableTimeline:
    """A configured source that cannot even be built (its client library is missing): says so when asked."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason

    def timeline(self, start: float, end: float, step_seconds: float) -> TimelineUnavailable:
        return TimelineUnavailable(source=self.source, reason=self.reason)


def _kubernetes_timeline(settings: Settings) -> TimelineSource | None:
    if not settings.observe_kubernetes:
        return None
    try:
        # Lazily: the official client is large, and only a deployment that reads the API needs it loaded.
        from load_harness.observe.kubernetes import KubernetesProvider
    except ImportError as exc:
        return _UnavailableTimeline("Kubernetes API", f"the Kubernetes client could not be loaded: {exc}")
    return KubernetesProvider(settings)


def providers_for(settings: Settings, engine: Engine, limits: PodLimits) -> Providers:
    """The providers for this deployment: Prometheus for the cluster scope when PROMETHEUS_URL is set, and the
    timeline from Prometheus and/or the Kubernetes API, whichever are configured."""
    local = LocalProvider(engine, settings.pod_name, limits.available_cores, limits.memory_limit_mb)
    prometheus: PrometheusProvider | None = None
    cluster: MetricsProvider = UnconfiguredClusterProvider()
    if settings.prometheus_url:
        try:
            prometheus = PrometheusProvider.from_settings(settings)
        except ValueError as exc:  # a URL that is not http(s), or OBSERVE_APP_LABEL that is not matchers
            cluster = UnconfiguredClusterProvider(misconfigured_reason(str(exc)))
    cluster = prometheus or cluster
    kubernetes = _kubernetes_timeline(settings)
    timeline: TimelineSource | None = prometheus or kubernetes
    if prometheus is not None and kubernetes is not None:
        timeline = CombinedTimeline(prometheus, kubernetes)
    return Providers(
        pod=local, cluster=cluster, default_scope="pod" if settings.local_mode else "cluster", timeline=timeline
    )
