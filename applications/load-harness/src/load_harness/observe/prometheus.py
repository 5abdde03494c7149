"""The Prometheus provider: the cluster scope of the dashboard (MetricsProvider) and the Prometheus half of the
autoscaling report's timeline (TimelineSource). Every query comes from observe/queries.py.

HTTP is the standard library's urllib, with the configured timeout on every call. Every failure (unreachable,
slow, an HTTP error, a refused query, an answer that is not Prometheus JSON) becomes `PrometheusUnavailable` with a
sentence saying why, which the provider turns into `Overview.unavailable`, `Figure.reason` or
`TimelineUnavailable`: nothing raises into the dashboard."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from pydantic import BaseModel, Field, ValidationError

from load_harness.observe import queries as q
from load_harness.observe.base import Figure, Overview, PodList, PodUsage, Scope
from load_harness.observe.timeline import ClusterTimeline, PodCpu, Point, TimelineUnavailable
from load_harness.settings import Settings

# The family (cAdvisor or our own series) rarely changes; re-asking every 30 s keeps polls to the figures.
FAMILY_TTL_S = 30.0
# Prometheus refuses a range query of more than 11,000 points per series.
MAX_POINTS = 11_000
MIB = 1024 * 1024


class PrometheusUnavailable(Exception):
    """Prometheus could not answer; the message is the reason shown to the user."""


class _Series(BaseModel):
    metric: dict[str, str]
    value: tuple[float, str] | None = None
    values: list[tuple[float, str]] = []


class _Data(BaseModel):
    result_type: str = Field(alias="resultType")
    result: Any


class _Answer(BaseModel):
    status: str
    data: _Data | None = None
    error: str | None = None


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[Point]


def _number(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


class PrometheusClient:
    """Instant and range queries against one Prometheus, each within `timeout_seconds`."""

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"PROMETHEUS_URL must be an http(s) URL with a host, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds

    def _get(self, path: str, params: dict[str, str]) -> _Data:
        url = f"{self.base_url}{path}?{urlencode(params)}"
        where = f"Prometheus at {self.base_url}"
        try:
            with urlopen(Request(url, headers={"Accept": "application/json"}), timeout=self.timeout) as response:  # noqa: S310 - scheme checked above
                body = response.read()
        except HTTPError as exc:
            # A refused query is a 400/422 whose JSON body names the PromQL error.
            detail = _error_of(exc.read())
            raise PrometheusUnavailable(f"{where} answered HTTP {exc.code}{': ' + detail if detail else ''}") from exc
        except TimeoutError as exc:
            raise PrometheusUnavailable(f"{where} did not answer within {self.timeout:g} s") from exc
        except URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise PrometheusUnavailable(f"{where} did not answer within {self.timeout:g} s") from exc
            raise PrometheusUnavailable(f"{where} is unreachable: {exc.reason}") from exc
        except OSError as exc:
            raise PrometheusUnavailable(f"{where} is unreachable: {exc}") from exc
        try:
            answer = _Answer.model_validate_json(body)
        except ValidationError as exc:
            raise PrometheusUnavailable(f"{where} did not answer with Prometheus API JSON") from exc
        if answer.status != "success" or answer.data is None:
            raise PrometheusUnavailable(f"{where} refused the query: {answer.error or answer.status}")
        return answer.data

    def instant(self, expr: str, at: float | None = None) -> list[Sample]:
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        data = self._get("/api/v1/query", params)
        try:
            if data.result_type == "scalar":
                value = _number(data.result[1])
                return [] if value is None else [Sample({}, value)]
            series = [_Series.model_validate(item) for item in data.result]
        except (ValidationError, TypeError, IndexError, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} answered an unexpected result") from exc
        found = []
        for item in series:
            value = _number(item.value[1]) if item.value else None
            if value is not None:
                found.append(Sample(item.metric, value))
        return found

    def range(self, expr: str, start: float, end: float, step_seconds: float) -> list[Series]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_seconds:g}"}
        data = self._get("/api/v1/query_range", params)
        try:
            series = [_Series.model_validate(item) for item in data.result]
            return [
                Series(s.metric, [Point(t=t, value=v) for t, text in s.values if (v := _number(text)) is not None])
                for s in series
            ]
        except (ValidationError, TypeError, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} answered an unexpected result") from exc


def _error_of(body: bytes) -> str:
    try:
        return _Answer.model_validate_json(body).error or ""
    except ValidationError:
        return ""


def _by_pod(samples: list[Sample]) -> dict[str, float]:
    return {s.labels["pod"]: s.value for s in samples if "pod" in s.labels}


@dataclass(frozen=True)
class _PodFigures:
    """One poll's per-pod numbers, by pod name; a dict is empty when the family has no such series."""

    cpu: dict[str, float]
    memory: dict[str, float]
    cpu_limit: dict[str, float]
    memory_limit: dict[str, float]
    cpu_request: dict[str, float]
    memory_request: dict[str, float]


class PrometheusProvider:
    scope: Scope = "cluster"

    def __init__(
        self,
        url: str,
        config: q.QueryConfig,
        timeout_seconds: float = 5.0,
        this_pod: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = PrometheusClient(url, timeout_seconds)
        self.config = config
        self.this_pod = this_pod
        self.clock = clock
        self.source = f"Prometheus at {self.client.base_url}"
        self._lock = threading.Lock()
        self._family: tuple[float, q.Family] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PrometheusProvider:
        config = q.QueryConfig.from_settings(settings)
        return cls(settings.prometheus_url, config, settings.prometheus_timeout_seconds, settings.pod_name)

    def family(self) -> q.Family:
        """Which series answer (see queries.py), asked of Prometheus at most every FAMILY_TTL_S."""
        now = time.monotonic()
        with self._lock:
            if self._family is not None and now - self._family[0] < FAMILY_TTL_S:
                return self._family[1]
        names = {s.labels.get("__name__", "") for s in self.client.instant(q.family_probe(self.config))}
        found = q.family_of(names)
        if found is None:
            c = self.config
            raise PrometheusUnavailable(
                f"{self.source} has neither cAdvisor series for container {c.container!r} in namespace "
                f"{c.namespace!r} nor load_harness_container_* series matching {{{c.app_selector}}}"
            )
        with self._lock:
            self._family = (now, found)
        return found

    def _pod_figures(self, family: q.Family) -> _PodFigures:
        c = self.config

        def per_pod(expr: str | None) -> dict[str, float]:
            return {} if expr is None else _by_pod(self.client.instant(expr))

        return _PodFigures(
            cpu=per_pod(q.pod_cpu_cores(c, family)),
            memory=per_pod(q.pod_memory_bytes(c, family)),
            cpu_limit=per_pod(q.pod_resource(c, family, "cpu", "limits")),
            memory_limit=per_pod(q.pod_resource(c, family, "memory", "limits")),
            cpu_request=per_pod(q.pod_resource(c, family, "cpu", "requests")),
            memory_request=per_pod(q.pod_resource(c, family, "memory", "requests")),
        )

    def _unavailable_overview(self, reason: str) -> Overview:
        def figure(label: str, unit: str) -> Figure:
            return Figure(label, unit, reason="Prometheus could not answer")

        return Overview(
            scope=self.scope,
            source=self.source,
            cpu=figure("CPU", "cores"),
            memory=figure("Memory", "bytes"),
            pods=figure("Pods", "pods"),
            request_rate=figure("Request rate", "req/s"),
            unavailable=reason,
            taken_at=self.clock(),
        )

    def overview(self) -> Overview:
        try:
            family = self.family()
            figures = self._pod_figures(family)
            rate = self.client.instant(q.request_rate(self.config))
        except PrometheusUnavailable as exc:
            return self._unavailable_overview(str(exc))
        pods = len(figures.cpu)
        return Overview(
            scope=self.scope,
            source=f"{self.source} ({family} series)",
            cpu=_across_pods("CPU", "cores", figures.cpu, figures.cpu_limit, figures.cpu_request),
            memory=_across_pods("Memory", "bytes", figures.memory, figures.memory_limit, figures.memory_request),
            pods=Figure(
                "Pods",
                "pods",
                value=float(pods),
                peak=float(pods),
                reason=None if pods else "no pod reports CPU in Prometheus",
            ),
            request_rate=(
                Figure("Request rate", "req/s", value=rate[0].value, peak=rate[0].value, reason=_rate_note(self.config))
                if rate
                else Figure("Request rate", "req/s", reason="Prometheus has no request series for this app yet")
            ),
            taken_at=self.clock(),
        )

    def pods(self) -> PodList:
        try:
            family = self.family()
            figures = self._pod_figures(family)
        except PrometheusUnavailable as exc:
            return PodList(self.scope, self.source, unavailable=str(exc))
        names = sorted(set(figures.cpu) | set(figures.memory))
        rows = [
            PodUsage(
                name,
                _pod_figure("CPU", "cores", name, figures.cpu, figures.cpu_limit, figures.cpu_request),
                _pod_figure("Memory", "bytes", name, figures.memory, figures.memory_limit, figures.memory_request),
                "running",
                this_pod=name == self.this_pod,
            )
            for name in names
        ]
        return PodList(self.scope, f"{self.source} ({family} series)", rows)

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable:
        if not (end > start and step_seconds > 0):
            return TimelineUnavailable(source=self.source, reason="the window must have end > start and step > 0")
        if (end - start) / step_seconds > MAX_POINTS:
            return TimelineUnavailable(
                source=self.source,
                reason=f"{(end - start) / step_seconds:.0f} points exceed Prometheus' limit of {MAX_POINTS}; "
                "use a larger step",
            )
        try:
            return self._timeline(start, end, step_seconds)
        except PrometheusUnavailable as exc:
            return TimelineUnavailable(source=self.source, reason=str(exc))

    def _timeline(self, start: float, end: float, step: float) -> ClusterTimeline:
        c = self.config
        window = f"{max(c.rate_window_seconds, math.ceil(step))}s"
        notes: list[str] = []
        family, cpu = (
            q.Family.KUBERNETES,
            self.client.range(q.pod_cpu_cores(c, q.Family.KUBERNETES, window), start, end, step),
        )
        if not cpu:
            # No cAdvisor series in the window: the pods' own cgroup counters, as the live view falls back.
            family, cpu = (
                q.Family.LOCAL,
                self.client.range(q.pod_cpu_cores(c, q.Family.LOCAL, window), start, end, step),
            )
        requests_expr = q.pod_resource(c, family, "cpu", "requests")
        requests = _by_pod(self.client.instant(requests_expr, at=end)) if requests_expr else {}
        if not cpu:
            notes.append(f"{self.source} has no per-pod CPU series in this window")
        current = _first_points(self.client.range(q.hpa_replicas(c, "current"), start, end, step))
        desired = _first_points(self.client.range(q.hpa_replicas(c, "desired"), start, end, step))
        if not current:
            current = _first_points(self.client.range(q.pod_count(c, family), start, end, step))
            notes.append(
                f"no kube-state-metrics series for HPA {c.hpa!r} in namespace {c.namespace!r}: "
                "current replicas are the pods Prometheus saw, desired replicas are unknown"
            )
        return ClusterTimeline(
            start=start,
            end=end,
            step_seconds=step,
            source=f"{self.source} ({family} series)",
            replicas_current=current,
            replicas_desired=desired,
            pod_cpu=[
                PodCpu(pod=s.labels["pod"], request_cores=requests.get(s.labels["pod"]), points=s.points)
                for s in sorted(cpu, key=lambda s: s.labels.get("pod", ""))
                if "pod" in s.labels
            ],
            notes=notes,
        )


def _first_points(series: list[Series]) -> list[Point]:
    return series[0].points if series else []


def _rate_note(config: q.QueryConfig) -> str:
    return f"all pods, over the last {config.rate_window_seconds} s; scrapes, probes and the dashboard left out"


def _share(used: float, of: float | None, kind: str, unit: str) -> str | None:
    if not of:
        return None
    amount = f"{of / MIB:.0f} MiB" if unit == "bytes" else f"{of:g} cores"
    return f"{100 * used / of:.0f} % of its {kind} ({amount})"


def _pod_figure(
    label: str, unit: str, pod: str, used: dict[str, float], limits: dict[str, float], requests: dict[str, float]
) -> Figure:
    if pod not in used:
        return Figure(label, unit, reason=f"Prometheus has no {label.lower()} series for this pod")
    value = used[pod]
    notes = [n for n in (_share(value, requests.get(pod), "request", unit),) if n]
    if pod not in limits:
        notes.append("no limit known")
    return Figure(label, unit, value=value, peak=value, limit=limits.get(pod), reason="; ".join(notes) or None)


def _across_pods(
    label: str, unit: str, used: dict[str, float], limits: dict[str, float], requests: dict[str, float]
) -> Figure:
    """The average pod and the busiest one, against the average pod's limit; each pod's share of its own request
    and limit is in the pod list."""
    if not used:
        return Figure(label, unit, reason=f"Prometheus has no {label.lower()} series for this app's pods")
    average = statistics.fmean(used.values())
    limit = statistics.fmean(limits[p] for p in used) if all(p in limits for p in used) else None
    notes = [f"average of {len(used)} pods"]
    if all(p in requests for p in used):
        shares = [100 * used[p] / requests[p] for p in used if requests[p]]
        if shares:
            notes.append(f"{statistics.fmean(shares):.0f} % of request on average, {max(shares):.0f} % at most")
    if limit is None:
        notes.append("no limit known for every pod")
    return Figure(label, unit, value=average, peak=max(used.values()), limit=limit, reason="; ".join(notes))
