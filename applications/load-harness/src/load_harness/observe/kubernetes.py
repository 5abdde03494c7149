"""The Kubernetes API as a timeline source, read-only: the HPA's target, status, conditions and events, the
Deployment's pods with their created / Ready / deleted times, and its rollout.

The API keeps no history, so the timeline holds what the objects show at the moment of the call (the HPA's status)
and what their events and timestamps date: each SuccessfulRescale event ("New size: 4; reason: cpu resource
utilization (percentage of request) above target") is a desired-replicas point, each pod's Ready condition its ready
time. The API server drops events after about an hour (kube-apiserver --event-ttl), which a note then says. Objects
are read as the API server's JSON (`_preload_content=False`, models in kubernetes_objects.py), so the recorded
responses in the tests are exactly what a cluster sends. Every call has a timeout; a failure of the HPA read makes
the whole timeline unavailable with the reason, a failure of any later read becomes a note (docs/metrics.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from load_harness.observe.kubernetes_objects import (
    NEW_SIZE,
    POD_NAME,
    Deployment,
    Event,
    Hpa,
    Pod,
    ReplicaSet,
    seconds,
)
from load_harness.observe.timeline import ClusterTimeline, HpaEvent, PodLife, Point, TimelineUnavailable
from load_harness.settings import Settings

SOURCE = "Kubernetes API"
EVENT_TTL_S = 3600  # kube-apiserver's default --event-ttl: older events are gone
EVENT_LIMIT = 500  # one page of events per object kind is plenty for a run; a note says when more exist
HPA_CONDITIONS = ("AbleToScale", "ScalingActive", "ScalingLimited")

T = TypeVar("T")


class KubeCallFailed(Exception):
    """One read could not be answered; the message is the reason a person reads, `status` the HTTP status."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class _Reader:
    """The read calls of one timeline. After a timeout or connection failure the rest are not attempted: the
    dashboard waits for at most one timeout of an unresponsive API server, not one per call."""

    def __init__(self, api_client: Any, server: str, namespace: str, timeout: float) -> None:
        self.server = server
        self.namespace = namespace
        self.timeout = timeout
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)
        self.gave_up: str | None = None

    def _call(self, what: str, method: Callable[..., Any], *args: str, **query: str | int) -> dict[str, Any]:
        if self.gave_up is not None:
            raise KubeCallFailed(f"{what}: not attempted, {self.gave_up}")
        try:
            response = method(*args, _preload_content=False, _request_timeout=self.timeout, **query)
            try:
                answer: dict[str, Any] = json.loads(response.data or b"{}")
            finally:
                response.release_conn()
        except ApiException as exc:
            raise KubeCallFailed(_refusal(what, exc), exc.status) from exc
        except (HTTPError, OSError) as exc:
            cause = exc.reason if isinstance(exc, MaxRetryError) else exc
            if isinstance(cause, NewConnectionError):  # checked first: urllib3 derives it from ConnectTimeoutError
                detail = str(cause).split(": ", 1)[-1]
                self.gave_up = f"cannot reach the Kubernetes API at {self.server}: {detail}"
            elif isinstance(cause, Urllib3Timeout | TimeoutError):
                self.gave_up = f"the Kubernetes API at {self.server} did not answer within {self.timeout:g} s"
            else:
                self.gave_up = f"cannot reach the Kubernetes API at {self.server}: {cause}"
            raise KubeCallFailed(f"{what}: {self.gave_up}") from exc
        except ValueError as exc:
            raise KubeCallFailed(f"{what}: the answer is not JSON ({exc})") from exc
        return answer

    def hpa(self, name: str) -> Hpa:
        what = f"get horizontalpodautoscalers/{name} in {self.namespace}"
        read = self.autoscaling.read_namespaced_horizontal_pod_autoscaler
        return Hpa.model_validate(self._call(what, read, name, self.namespace))

    def deployment(self, name: str) -> Deployment:
        what = f"get deployments/{name} in {self.namespace}"
        return Deployment.model_validate(self._call(what, self.apps.read_namespaced_deployment, name, self.namespace))

    def events(self, kind: str, name: str | None = None) -> tuple[list[Event], bool]:
        """Events about objects of `kind` (named `name`); True when a further page was left unread."""
        selector = f"involvedObject.kind={kind}" + (f",involvedObject.name={name}" if name else "")
        what = f"list events ({selector}) in {self.namespace}"
        answer = self._call(
            what, self.core.list_namespaced_event, self.namespace, field_selector=selector, limit=EVENT_LIMIT
        )
        items = [Event.model_validate(item) for item in answer.get("items") or []]
        # The field selector is the API server's filter; checked here as well, so a looser answer changes nothing.
        about = [(e, e.involved_object) for e in items]
        items = [e for e, obj in about if obj.kind == kind and (name is None or obj.name == name)]
        return items, bool((answer.get("metadata") or {}).get("continue"))

    def pods(self, selector: str) -> list[Pod]:
        answer = self._call(
            f"list pods ({selector}) in {self.namespace}",
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=selector,
        )
        return [Pod.model_validate(item) for item in answer.get("items") or []]

    def replica_sets(self, selector: str) -> list[ReplicaSet]:
        answer = self._call(
            f"list replicasets ({selector}) in {self.namespace}",
            self.apps.list_namespaced_replica_set,
            self.namespace,
            label_selector=selector,
        )
        return [ReplicaSet.model_validate(item) for item in answer.get("items") or []]


def _refusal(what: str, exc: ApiException) -> str:
    """The API server's Status message when the body is one, with a hint for the usual causes."""
    try:
        message = str(json.loads(exc.body or "{}").get("message") or "")
    except (ValueError, AttributeError):
        message = ""
    hint = {
        401: " (the token was refused: check the service account or kubeconfig)",
        403: " (RBAC: the Role in deploy/rbac.yaml grants get/list/watch on what the observer reads)",
    }.get(exc.status, "")
    return f"{what}: HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "") + hint


def _connect(settings: Settings) -> tuple[Any, str]:
    """An ApiClient from OBSERVE_KUBECONFIG, else from the pod's service account, and the server it reaches."""
    configuration = client.Configuration()
    if settings.observe_kubeconfig is not None:
        config.load_kube_config(
            config_file=str(settings.observe_kubeconfig), client_configuration=configuration, persist_config=False
        )
    elif settings.kubernetes_service_host:
        config.load_incluster_config(client_configuration=configuration)
    else:
        raise ConfigException("not in a cluster (KUBERNETES_SERVICE_HOST is unset) and OBSERVE_KUBECONFIG is not set")
    # urllib3 would retry a refused or timed-out call three times: the dashboard would wait four timeouts.
    configuration.retries = 0
    return client.ApiClient(configuration), str(configuration.host)


def _clock_text(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Assembly:
    """One timeline: the HPA as read, then the optional reads (events, Deployment, ReplicaSets, pods)."""

    def __init__(self, settings: Settings, reader: _Reader, hpa: Hpa, observed_at: float, start: float, end: float):
        self.settings = settings
        self.reader = reader
        self.hpa = hpa
        self.observed_at = observed_at
        self.start = start
        self.end = end
        self.notes: list[str] = []

    def _inside(self, t: float) -> bool:
        return self.start <= t <= self.end

    def _optional(self, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except KubeCallFailed as exc:
            self.notes.append(str(exc))
        except ValueError as exc:  # pydantic's ValidationError, or a timestamp that is not RFC 3339
            self.notes.append(f"an answer has an unexpected shape: {exc}")
        return None

    def timeline(self, step_seconds: float) -> ClusterTimeline:
        hpa = self.hpa
        if self.start < self.observed_at - EVENT_TTL_S:
            self.notes.append(
                "the window starts more than an hour before this read: the API server keeps events for about an "
                "hour, so earlier rescales and pod changes may be missing"
            )
        answer = self._optional(lambda: self.reader.events("HorizontalPodAutoscaler", hpa.metadata.name))
        events, more = answer or ([], False)
        if more:
            self.notes.append(f"the HPA has more than {EVENT_LIMIT} events: only the first page was read")
        current, desired = self._replicas(events)
        target = next((m.cpu() for m in hpa.spec.metrics if m.cpu() is not None), None)
        target_percent = target.target.average_utilization if target and target.target else None
        if target_percent is None:
            self.notes.append(f"HPA {hpa.metadata.name} has no CPU utilization target")
        return ClusterTimeline(
            start=self.start,
            end=self.end,
            step_seconds=step_seconds,
            source=SOURCE,
            hpa_name=hpa.metadata.name,
            target_cpu_percent=target_percent,
            min_replicas=hpa.spec.min_replicas if hpa.spec.min_replicas is not None else 1,  # the API's default
            max_replicas=hpa.spec.max_replicas,
            replicas_current=current,
            replicas_desired=desired,
            pods=self._pods(),
            events=self._hpa_events(events),
            notes=self.notes,
        )

    def _replicas(self, events: list[Event]) -> tuple[list[Point], list[Point]]:
        """Desired replicas at each rescale, the size decided last before the window at its start, and the
        status (current and desired) at the time of this read when that falls inside the window."""
        rescales: list[tuple[float, int]] = []
        for event in events:
            size = NEW_SIZE.search(event.message) if event.reason == "SuccessfulRescale" else None
            if size is None:
                continue
            times = event.occurrences()
            rescales += [(t, int(size.group(1))) for t in times]
            if (event.count or 1) > len(times):
                self.notes.append(
                    f"'{event.message}' happened {event.count} times up to {_clock_text(times[-1])}: the API server "
                    "folded them into one event, so only the first and last are dated"
                )
        rescales.sort()
        desired = [Point(t=t, value=size) for t, size in rescales if self._inside(t)]
        before = [size for t, size in rescales if t < self.start]
        if before:  # it held until the next rescale, so at the window's start too
            desired.insert(0, Point(t=self.start, value=before[-1]))
        status, current = self.hpa.status, []
        if self._inside(self.observed_at):
            if status.desired_replicas is not None:
                desired.append(Point(t=self.observed_at, value=status.desired_replicas))
            if status.current_replicas is not None:
                current.append(Point(t=self.observed_at, value=status.current_replicas))
        else:
            self.notes.append(
                f"the HPA's status ({status.current_replicas} current, {status.desired_replicas} desired) was read "
                f"at {_clock_text(self.observed_at)}, outside the window: only its events are dated inside it"
            )
        return current, desired

    def _hpa_events(self, events: list[Event]) -> list[HpaEvent]:
        """The HPA's events in the window, and its condition changes (AbleToScale, ScalingActive, ScalingLimited);
        the conditions as they stand now go to a note, since they may have changed before the window."""
        found = [HpaEvent(t=t, reason=e.reason, message=e.message) for e in events for t in e.occurrences()]
        standing: list[str] = []
        for condition in self.hpa.status.conditions:
            if condition.type not in HPA_CONDITIONS:
                continue
            standing.append(f"{condition.type}={condition.status} ({condition.reason})")
            changed = seconds(condition.last_transition_time)
            if changed is not None:
                message = f"{condition.status} {condition.reason}: {condition.message}".rstrip(": ")
                found.append(HpaEvent(t=changed, reason=condition.type, message=message))
        if standing:
            self.notes.append(f"HPA conditions at {_clock_text(self.observed_at)}: {', '.join(standing)}")
        return sorted((e for e in found if self._inside(e.t)), key=lambda e: (e.t, e.reason))

    def _pods(self) -> list[PodLife]:
        """The Deployment's pods: listed ones with their own times, and gone ones from their ReplicaSets' events."""
        name = self.settings.observe_deployment
        target = self.hpa.spec.scale_target_ref
        if target.name and target.name != name:
            self.notes.append(f"the HPA scales {target.kind} {target.name}, but OBSERVE_DEPLOYMENT is {name}")
        deployment = self._optional(lambda: self.reader.deployment(name))
        if deployment is None:
            return []
        self.notes.append(deployment.rollout_note())
        selector = deployment.spec.selector.query()
        if not selector:
            self.notes.append(f"Deployment {name} has no pod selector: its pods are not shown")
            return []
        listed = self._optional(lambda: self.reader.pods(selector)) or []
        replica_sets = self._optional(lambda: self.reader.replica_sets(selector))
        lives = {pod.metadata.name: _life(pod) for pod in listed}
        if replica_sets is not None:
            # Another Deployment's pods may match the same labels; only this one's ReplicaSets' pods are its own.
            owned = {rs.metadata.name for rs in replica_sets if _owned_by(rs, deployment)}
            lives = {pod.metadata.name: lives[pod.metadata.name] for pod in listed if _owner(pod) in owned}
            answer = self._optional(lambda: self.reader.events("ReplicaSet"))
            for event in (answer or ([], False))[0]:
                if event.involved_object.name in owned:
                    _apply_replica_set_event(lives, event)
        kept = [
            life
            for life in lives.values()
            if (life.created_at is None or life.created_at <= self.end)
            and (life.deleted_at is None or life.deleted_at >= self.start)
        ]
        return sorted(kept, key=lambda life: (life.created_at or 0.0, life.pod))


def _life(pod: Pod) -> PodLife:
    meta = pod.metadata
    return PodLife(
        pod=meta.name,
        created_at=seconds(meta.creation_timestamp),
        ready_at=pod.ready_at(),
        # Set when deletion was asked for, as now + the grace period: the pod is gone by then.
        deleted_at=seconds(meta.deletion_timestamp),
    )


def _owned_by(replica_set: ReplicaSet, deployment: Deployment) -> bool:
    return any(
        o.kind == "Deployment" and o.uid == deployment.metadata.uid for o in replica_set.metadata.owner_references
    )


def _owner(pod: Pod) -> str:
    return next((o.name for o in pod.metadata.owner_references if o.kind == "ReplicaSet"), "")


def _apply_replica_set_event(lives: dict[str, PodLife], event: Event) -> None:
    """A ReplicaSet's "Created pod: X" / "Deleted pod: X" dates pods the pod list no longer shows."""
    match = POD_NAME.search(event.message)
    times = event.occurrences()
    if match is None or not times or event.reason not in ("SuccessfulCreate", "SuccessfulDelete"):
        return
    name = match.group(1)
    life = lives.get(name, PodLife(pod=name))
    field = "created_at" if event.reason == "SuccessfulCreate" else "deleted_at"
    if getattr(life, field) is None:
        lives[name] = life.model_copy(update={field: times[-1]})


class KubernetesProvider:
    """A TimelineSource over the Kubernetes API. Never raises: failures are TimelineUnavailable or notes."""

    source = SOURCE

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._client: tuple[Any, str] | None = None

    def _reader(self) -> _Reader:
        with self._lock:  # one ApiClient (and its connection pool) for every thread of the dashboard
            if self._client is None:
                self._client = _connect(self.settings)
            api_client, server = self._client
        namespace = self.settings.observe_namespace or self.settings.namespace  # as observe/queries.py reads it
        return _Reader(api_client, server, namespace, self.settings.observe_kubernetes_timeout_seconds)

    def timeline(self, start: float, end: float, step_seconds: float) -> ClusterTimeline | TimelineUnavailable:
        if not self.settings.observe_kubernetes:
            return TimelineUnavailable(source=SOURCE, reason="OBSERVE_KUBERNETES is off")
        try:
            reader = self._reader()
        except Exception as exc:  # the client's loaders raise many kinds for a missing or malformed kubeconfig
            return TimelineUnavailable(source=SOURCE, reason=f"no Kubernetes API configuration: {exc}")
        name = self.settings.observe_hpa_name
        try:
            hpa = reader.hpa(name)
            return _Assembly(self.settings, reader, hpa, self.clock(), start, end).timeline(step_seconds)
        except KubeCallFailed as exc:
            reason = str(exc)
            if exc.status == 404:
                reason = f"no HorizontalPodAutoscaler named {name} in namespace {reader.namespace}"
            return TimelineUnavailable(source=SOURCE, reason=reason)
        except ValueError as exc:  # pydantic's ValidationError, or a timestamp that is not RFC 3339
            return TimelineUnavailable(source=SOURCE, reason=f"an answer has an unexpected shape: {exc}")
