"""The Kubernetes provider against recorded API responses of an HPA scaling from 1 to 4 (tests/fixtures/kube-hpa/,
described in its README), served by the replay API server fleet's tests use (tools/fleet/tests/kube_replay.py)
on 127.0.0.1, reached through a kubeconfig with a bearer token as in a cluster."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_replay import KubeReplay, Request, kubeconfig
from load_harness.observe.kubernetes import KubernetesProvider
from load_harness.observe.kubernetes_objects import LabelSelector
from load_harness.observe.timeline import ClusterTimeline, HpaEvent, PodLife, Point, TimelineUnavailable
from load_harness.server.launch import free_port
from load_harness.settings import Settings

TESTS = Path(__file__).resolve().parents[1]
PHASES = TESTS / "fixtures" / "kube-hpa"
RBAC = TESTS.parent / "deploy" / "rbac.yaml"
RS = "load-harness-7d9f8b6c5"
RESCALE = "New size: {}; reason: cpu resource utilization (percentage of request) above target"


def at(hms: str) -> float:
    return datetime.fromisoformat(f"2026-05-01T{hms}+00:00").timestamp()


# When each phase was recorded: the provider's clock reads this, as if the call had been made then.
READ_AT = {"1-idle": at("10:00:30"), "2-scaling-to-2": at("10:01:20"), "3-scaling-to-4": at("10:02:35")}
READ_AT["4-steady"] = at("10:04:00")
RUN = (at("10:00:00"), at("10:05:00"))


def show(replay: KubeReplay, phase: str) -> None:
    """Make the replay answer as the API server did in `phase`: one recorded list response per plural."""
    with replay.lock:
        replay.collections.clear()
        for path in sorted((PHASES / phase).glob("*.json")):
            recorded = json.loads(path.read_text())
            replay.collections[(recorded["apiVersion"], path.stem)] = recorded


@pytest.fixture
def replay() -> Iterator[KubeReplay]:
    with KubeReplay() as server:
        yield server
    assert server.errors == []


def provider(tmp_path: Path, server: str, phase: str = "4-steady", **overrides: Any) -> KubernetesProvider:
    token = overrides.pop("token", None)
    config = kubeconfig(tmp_path / "kubeconfig", server, **({"token": token} if token else {}))
    options: dict[str, Any] = {
        "observe_kubernetes": True,
        "observe_kubeconfig": config,
        "namespace": "applications",
        "observe_namespace": "",
        "kubernetes_service_host": "",
        "observe_kubernetes_timeout_seconds": 10.0,
        **overrides,
    }
    return KubernetesProvider(Settings(**options), clock=lambda: READ_AT[phase])


def read(tmp_path: Path, replay: KubeReplay, phase: str, window: tuple[float, float] = RUN) -> ClusterTimeline:
    show(replay, phase)
    result = provider(tmp_path, replay.url, phase).timeline(*window, 15.0)
    assert isinstance(result, ClusterTimeline), result
    return result


def rescale(hms: str, size: int) -> HpaEvent:
    return HpaEvent(t=at(hms), reason="SuccessfulRescale", message=RESCALE.format(size))


def pod(suffix: str, created: str, ready: str | None) -> PodLife:
    return PodLife(pod=f"{RS}-{suffix}", created_at=at(created), ready_at=at(ready) if ready else None)


FIRST = pod("a1b2c", "09:30:05", "09:30:17")
SCALED_TO_2 = rescale("10:01:15", 2)
SCALED_TO_4 = rescale("10:02:30", 4)
SCALED_TO_2_KEY = ("SuccessfulRescale", at("10:01:15"))
ABLE_2 = HpaEvent(
    t=at("10:01:15"),
    reason="AbleToScale",
    message="True SucceededRescale: the HPA controller was able to update the target scale to 2",
)
ABLE_4 = ABLE_2.model_copy(update={"t": at("10:02:30"), "message": ABLE_2.message.replace("to 2", "to 4")})
LIMITED = HpaEvent(
    t=at("10:02:30"),
    reason="ScalingLimited",
    message="True TooManyReplicas: the desired replica count is more than the maximum replica count",
)
# phase: (current replicas, desired replicas, HPA events and condition changes, pods)
EXPECTED: dict[str, tuple[list[Point], list[Point], list[HpaEvent], list[PodLife]]] = {
    "1-idle": ([Point(t=READ_AT["1-idle"], value=1)], [Point(t=READ_AT["1-idle"], value=1)], [], [FIRST]),
    "2-scaling-to-2": (
        [Point(t=READ_AT["2-scaling-to-2"], value=1)],
        [Point(t=at("10:01:15"), value=2), Point(t=READ_AT["2-scaling-to-2"], value=2)],
        [ABLE_2, SCALED_TO_2],
        [FIRST, pod("d3e4f", "10:01:15", None)],
    ),
    "3-scaling-to-4": (
        [Point(t=READ_AT["3-scaling-to-4"], value=2)],
        [
            Point(t=at("10:01:15"), value=2),
            Point(t=at("10:02:30"), value=4),
            Point(t=READ_AT["3-scaling-to-4"], value=4),
        ],
        [SCALED_TO_2, ABLE_4, LIMITED, SCALED_TO_4],
        [FIRST, pod("d3e4f", "10:01:15", "10:01:28"), pod("g5h6i", "10:02:30", None), pod("j7k8l", "10:02:30", None)],
    ),
    "4-steady": (
        [Point(t=READ_AT["4-steady"], value=4)],
        [Point(t=at("10:01:15"), value=2), Point(t=at("10:02:30"), value=4), Point(t=READ_AT["4-steady"], value=4)],
        [
            SCALED_TO_2,
            SCALED_TO_4,
            HpaEvent(
                t=at("10:03:30"),
                reason="AbleToScale",
                message="True ScaleDownStabilized: recent recommendations were higher than current one, applying the "
                "highest recent recommendation",
            ),
            HpaEvent(
                t=at("10:03:30"),
                reason="ScalingLimited",
                message="False DesiredWithinRange: the desired count is within the acceptable range",
            ),
        ],
        [
            FIRST,
            pod("d3e4f", "10:01:15", "10:01:28"),
            pod("g5h6i", "10:02:30", "10:02:42"),
            pod("j7k8l", "10:02:30", "10:02:45"),
        ],
    ),
}


@pytest.mark.parametrize("phase", list(EXPECTED))
def test_each_phase_of_the_scale_up_reads_as_the_api_shows_it(tmp_path: Path, replay: KubeReplay, phase: str) -> None:
    timeline = read(tmp_path, replay, phase)
    current, desired, events, pods = EXPECTED[phase]
    assert (timeline.hpa_name, timeline.target_cpu_percent) == ("load-harness", 70)
    assert (timeline.min_replicas, timeline.max_replicas) == (1, 4)
    assert timeline.replicas_current == current
    assert timeline.replicas_desired == desired
    assert timeline.events == events
    # Only this Deployment's pods: not the postgres ReplicaSet's, not the old ReplicaSet's pod deleted before the run.
    assert timeline.pods == pods
    assert timeline.source == "Kubernetes API"


def test_the_rollout_and_the_standing_conditions_are_notes(tmp_path: Path, replay: KubeReplay) -> None:
    scaling = read(tmp_path, replay, "3-scaling-to-4").notes
    assert (
        "Deployment load-harness rollout in progress: generation 5, observed 5; 4 wanted, 4 updated, 2 ready, 2 "
        "available" in scaling
    )
    steady = read(tmp_path, replay, "4-steady").notes
    assert any(
        n.startswith("Deployment load-harness rollout complete:") and "4 ready, 4 available" in n for n in steady
    )
    conditions = next(n for n in steady if n.startswith("HPA conditions at 2026-05-01T10:04:00Z"))
    assert "AbleToScale=True (ScaleDownStabilized), ScalingActive=True (ValidMetricFound), ScalingLimited=False" in (
        conditions
    )


def test_a_wider_window_shows_the_pod_the_rollout_deleted(tmp_path: Path, replay: KubeReplay) -> None:
    timeline = read(tmp_path, replay, "4-steady", (at("09:29:00"), at("10:05:00")))
    gone = PodLife(pod="load-harness-6c5b4a3f2-x9y8z", created_at=None, deleted_at=at("09:30:20"))
    assert timeline.pods[0] == gone  # its creation event expired long ago; its ReplicaSet's delete event dates it
    assert [p.pod for p in timeline.pods[1:]] == [f"{RS}-{s}" for s in ("a1b2c", "d3e4f", "g5h6i", "j7k8l")]
    # A condition that changed inside the wider window, before the run; AbleToScale changed again since.
    assert [(e.reason, e.t) for e in timeline.events[:2]] == [("ScalingActive", at("09:31:00")), SCALED_TO_2_KEY]


def test_the_size_decided_before_the_window_holds_at_its_start(tmp_path: Path, replay: KubeReplay) -> None:
    timeline = read(tmp_path, replay, "4-steady", (at("10:02:00"), at("10:05:00")))
    assert timeline.replicas_desired[:2] == [Point(t=at("10:02:00"), value=2), Point(t=at("10:02:30"), value=4)]
    assert timeline.events[0] == SCALED_TO_4


def test_a_status_read_after_the_window_is_only_a_note(tmp_path: Path, replay: KubeReplay) -> None:
    timeline = read(tmp_path, replay, "4-steady", (at("10:00:00"), at("10:03:00")))
    assert timeline.replicas_current == []
    assert timeline.replicas_desired == [Point(t=at("10:01:15"), value=2), Point(t=at("10:02:30"), value=4)]
    assert any("read at 2026-05-01T10:04:00Z, outside the window" in n for n in timeline.notes)


def test_folded_repeats_of_a_rescale_keep_their_first_and_last_time(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")

    def fold(event: dict[str, Any]) -> None:
        event.update(count=3, firstTimestamp="2026-05-01T10:00:45Z")

    replay.edit("v1", "events", "applications", "load-harness.18a1f4c1d2e3f405", fold)
    result = provider(tmp_path, replay.url).timeline(*RUN, 15.0)
    assert isinstance(result, ClusterTimeline)
    assert result.replicas_desired[:2] == [Point(t=at("10:00:45"), value=2), Point(t=at("10:01:15"), value=2)]
    assert any("happened 3 times up to 2026-05-01T10:01:15Z" in n for n in result.notes)


def test_the_calls_are_read_only_selected_and_allowed_by_the_role(tmp_path: Path, replay: KubeReplay) -> None:
    read(tmp_path, replay, "4-steady")
    assert {r.method for r in replay.log} == {"GET"}
    events = replay.requests("GET", "/api/v1/namespaces/applications/events")
    assert [r.query["fieldSelector"] for r in events] == [
        ["involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=load-harness"],
        ["involvedObject.kind=ReplicaSet"],
    ]
    pods = replay.requests("GET", "/api/v1/namespaces/applications/pods")
    assert [r.query["labelSelector"] for r in pods] == [["app.kubernetes.io/name=load-harness"]]
    role = next(d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "Role")
    allowed = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {_group_and_plural(r) for r in replay.log} <= allowed


def _group_and_plural(request: Request) -> tuple[str, str]:
    parts = request.path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    return group, parts[parts.index("namespaces") + 2]


def test_a_forbidden_hpa_makes_the_timeline_unavailable_with_the_reason(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")
    replay.forbidden.add("horizontalpodautoscalers")
    result = provider(tmp_path, replay.url).timeline(*RUN, 15.0)
    assert isinstance(result, TimelineUnavailable)
    assert "get horizontalpodautoscalers/load-harness in applications: HTTP 403 Forbidden" in result.reason
    assert "is forbidden" in result.reason
    assert "deploy/rbac.yaml" in result.reason


def test_forbidden_events_leave_the_status_and_a_note(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")
    replay.forbidden.add("events")
    result = provider(tmp_path, replay.url).timeline(*RUN, 15.0)
    assert isinstance(result, ClusterTimeline)
    assert result.replicas_desired == [Point(t=READ_AT["4-steady"], value=4)]
    assert [e.reason for e in result.events] == ["AbleToScale", "ScalingLimited"]  # conditions still show
    assert len(result.pods) == 4  # the pods' own times do not need events
    assert sum("HTTP 403 Forbidden" in n for n in result.notes) == 2


def test_a_missing_hpa_or_deployment_is_named(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")
    missing = provider(tmp_path, replay.url, observe_hpa_name="checkout").timeline(*RUN, 15.0)
    assert missing == TimelineUnavailable(
        source="Kubernetes API", reason="no HorizontalPodAutoscaler named checkout in namespace applications"
    )
    partial = provider(tmp_path, replay.url, observe_deployment="checkout").timeline(*RUN, 15.0)
    assert isinstance(partial, ClusterTimeline)
    assert partial.pods == []
    assert "the HPA scales Deployment load-harness, but OBSERVE_DEPLOYMENT is checkout" in partial.notes
    assert any(n.startswith("get deployments/checkout in applications: HTTP 404") for n in partial.notes)


def test_a_refused_token_is_the_reason(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")
    result = provider(tmp_path, replay.url, token="stolen").timeline(*RUN, 15.0)
    assert isinstance(result, TimelineUnavailable)
    assert "HTTP 401 Unauthorized" in result.reason
    assert "the token was refused" in result.reason


def test_an_unreachable_api_server_is_the_reason(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    result = provider(tmp_path, server).timeline(*RUN, 15.0)
    assert isinstance(result, TimelineUnavailable)
    assert f"cannot reach the Kubernetes API at {server}" in result.reason
    assert "Connection refused" in result.reason


def test_an_api_server_that_never_answers_costs_one_timeout(tmp_path: Path) -> None:
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(60)

        def hold() -> None:  # accept and never answer, as a hung API server does
            for _ in range(3):
                try:
                    accepted.append(listener.accept()[0])
                except OSError:
                    return

        threading.Thread(target=hold, daemon=True).start()
        server = f"http://127.0.0.1:{listener.getsockname()[1]}"
        began = time.monotonic()
        result = provider(tmp_path, server, observe_kubernetes_timeout_seconds=0.5).timeline(*RUN, 15.0)
        waited = time.monotonic() - began
    for connection in accepted:
        connection.close()
    assert result == TimelineUnavailable(
        source="Kubernetes API",
        reason=f"get horizontalpodautoscalers/load-harness in applications: the Kubernetes API at {server} did not "
        "answer within 0.5 s",
    )
    assert len(accepted) == 1  # no retry, and no further call after the first timeout
    assert 0.5 <= waited < 30  # the timeout was waited for; the bound only stops a hang


def test_an_api_server_lost_after_the_hpa_read_leaves_notes(tmp_path: Path, replay: KubeReplay) -> None:
    show(replay, "4-steady")

    def vanish(server: KubeReplay, request: Request) -> None:
        server.server.shutdown()  # from the handler's thread: server_close() would join this very thread
        server.server.socket.close()  # later connections are refused

    replay.hooks.append(vanish)
    result = provider(tmp_path, replay.url).timeline(*RUN, 15.0)
    assert isinstance(result, ClusterTimeline)
    assert result.replicas_current == [Point(t=READ_AT["4-steady"], value=4)]
    assert len(replay.log) == 1
    assert f"cannot reach the Kubernetes API at {replay.url}" in result.notes[0]
    # The Deployment read is skipped rather than waited for; without it, the pods are not read either.
    assert result.notes[1].startswith("get deployments/load-harness in applications: not attempted, cannot reach")
    assert result.pods == []


def test_without_configuration_or_switched_off_it_says_so(tmp_path: Path) -> None:
    unset = provider(tmp_path, "http://127.0.0.1:1", observe_kubeconfig=None).timeline(*RUN, 15.0)
    assert isinstance(unset, TimelineUnavailable)
    assert unset.reason == (
        "no Kubernetes API configuration: not in a cluster (KUBERNETES_SERVICE_HOST is unset) and "
        "OBSERVE_KUBECONFIG is not set"
    )
    off = provider(tmp_path, "http://127.0.0.1:1", observe_kubernetes=False).timeline(*RUN, 15.0)
    assert off == TimelineUnavailable(source="Kubernetes API", reason="OBSERVE_KUBERNETES is off")


def test_label_selectors_become_the_apis_query() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"tier": "web", "app": "lh"},
            "matchExpressions": [
                {"key": "track", "operator": "In", "values": ["stable", "canary"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
            ],
        }
    )
    assert selector.query() == "app=lh,tier=web,track in (stable,canary),!legacy,zone"
