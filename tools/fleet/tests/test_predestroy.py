"""`fleet pre-destroy` end to end: recorded Kubernetes API responses (kube_replay) and a moto_server AWS.

The moto EKS cluster reports the replay server's URL as its endpoint, as a real EKS cluster reports the URL of
its API server. Test hooks on the replay play the controllers: the AWS Load Balancer Controller deletes a load
balancer and then drops its object's finalizer; pvc-protection releases a PVC no running pod mounts, and the EBS
CSI driver deletes its volume. They act after answering the tool's next poll, so every wait ends on a condition.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
from aws_servers import MOTO_SERVER, reset_moto
from cleanup_harness import fake_credentials
from fleet import exits
from fleet.predestroy import pre_destroy_command
from kube_replay import KubeReplay, Request, kubeconfig, moto_with_eks_endpoint, parse_path
from typer.testing import CliRunner

REGION = "eu-west-2"
CLUSTER = "staging"
NGINX = ("v1", "services", "ingress-nginx", "ingress-nginx-controller")
WEB = ("networking.k8s.io/v1", "ingresses", "apps", "web")
GATEWAY = ("gateway.networking.k8s.io/v1", "gateways", "gateways", "public")
POSTGRES_PVC = ("v1", "persistentvolumeclaims", "apps", "data-postgres-0")
PROMETHEUS_PVC = ("v1", "persistentvolumeclaims", "monitoring", "prometheus-db")
POSTGRES_PV = "pvc-4c5d6e7f-3333-4b00-8c00-6f7a8b9c0d01"

pytestmark = pytest.mark.skipif(
    not os.access(MOTO_SERVER, os.X_OK), reason=f"moto_server not found at {MOTO_SERVER} (pip install 'moto[server]')"
)


@dataclass
class Platform:
    """The seeded account and cluster: which AWS resource each Kubernetes object owns, and lookalikes."""

    aws_url: str
    replay: KubeReplay
    kubeconfig: Path
    ec2: Any
    elbv2: Any
    load_balancers: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    volumes: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    lookalikes: set[str] = field(default_factory=set)

    def existing(self) -> set[str]:
        lbs = {lb["LoadBalancerArn"] for lb in self.elbv2.describe_load_balancers()["LoadBalancers"]}
        return lbs | {v["VolumeId"] for v in self.ec2.describe_volumes()["Volumes"]}


@pytest.fixture(scope="module")
def replay() -> Iterator[KubeReplay]:
    with KubeReplay() as server:
        yield server


@pytest.fixture(scope="module")
def aws_url(replay: KubeReplay) -> Iterator[str]:
    with moto_with_eks_endpoint(replay.url + "/") as url:
        yield url


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _set_hostname(hostname: str) -> Callable[[Any], None]:
    def change(item: Any) -> None:
        if "addresses" in item["status"]:
            item["status"]["addresses"][0]["value"] = hostname
        else:
            item["status"]["loadBalancer"]["ingress"][0]["hostname"] = hostname

    return change


@pytest.fixture
def platform(aws_url: str, replay: KubeReplay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    fake_credentials(monkeypatch)
    reset_moto(aws_url)
    replay.load("platform")
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws_url)
    elbv2 = boto3.client("elbv2", region_name=REGION, endpoint_url=aws_url)
    eks = boto3.client("eks", region_name=REGION, endpoint_url=aws_url)
    eks.create_cluster(name=CLUSTER, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": []})
    seeded = Platform(aws_url, replay, kubeconfig(tmp_path / "kubeconfig", replay.url), ec2, elbv2)

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]

    def lb(name: str, kind: str, tags: dict[str, str]) -> tuple[str, str]:
        extra = {"Tags": _tags(tags)} if tags else {}
        made = elbv2.create_load_balancer(Name=name, Subnets=subnets, Type=kind, **extra)["LoadBalancers"][0]
        return made["LoadBalancerArn"], made["DNSName"]

    lbc = {"elbv2.k8s.aws/cluster": CLUSTER}
    # Found by the LB Controller's tags (and the hostname agrees).
    arn, dns = lb(
        "k8s-ingressn-ingressn", "network", lbc | {"service.k8s.aws/stack": "ingress-nginx/ingress-nginx-controller"}
    )
    seeded.load_balancers[NGINX] = arn
    replay.edit(*NGINX, _set_hostname(dns))
    # Found by the hostname in the Ingress status alone (no stack tag).
    arn, dns = lb("k8s-apps-web", "application", {})
    seeded.load_balancers[WEB] = arn
    replay.edit(*WEB, _set_hostname(dns))
    arn, dns = lb("k8s-gateways-public", "network", lbc | {"gateway.k8s.aws/stack": "gateways/public"})
    seeded.load_balancers[GATEWAY] = arn
    replay.edit(*GATEWAY, _set_hostname(dns))
    # Same stack tag, other cluster: not ours, never waited for.
    other_arn, _ = lb(
        "k8s-other-ingressn",
        "network",
        {"elbv2.k8s.aws/cluster": "other", "service.k8s.aws/stack": "ingress-nginx/ingress-nginx-controller"},
    )
    seeded.lookalikes.add(other_arn)

    def volume(tags: dict[str, str]) -> str:
        spec = [{"ResourceType": "volume", "Tags": _tags(tags)}]
        volume_id: str = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, TagSpecifications=spec)["VolumeId"]
        return volume_id

    created_for = "kubernetes.io/created-for/pvc/"
    owned = {f"kubernetes.io/cluster/{CLUSTER}": "owned"}
    # data-postgres-0: through its PV's volumeHandle.
    seeded.volumes[POSTGRES_PVC] = volume(
        owned | {created_for + "name": "data-postgres-0", created_for + "namespace": "apps"}
    )
    replay.edit(
        "v1",
        "persistentvolumes",
        "",
        POSTGRES_PV,
        lambda pv: pv["spec"]["csi"].update(volumeHandle=seeded.volumes[POSTGRES_PVC]),
    )
    # prometheus-db: its PV is not in the recording, so only the EBS CSI driver's tags tie the volume to it.
    seeded.volumes[PROMETHEUS_PVC] = volume(
        owned | {created_for + "name": "prometheus-db", created_for + "namespace": "monitoring"}
    )
    seeded.lookalikes.add(
        volume(
            {
                "kubernetes.io/cluster/other": "owned",
                created_for + "name": "prometheus-db",
                created_for + "namespace": "monitoring",
            }
        )
    )
    yield seeded
    assert replay.errors == [], "the replay server failed to answer"


def play_controllers(platform: Platform) -> None:
    """Install the hook that plays the LB Controller, pvc-protection and the EBS CSI driver."""

    def running_pods_mounting(replay: KubeReplay, namespace: str, claim: str) -> bool:
        for pod in replay.items("v1", "pods"):
            volumes = pod["spec"].get("volumes", [])
            mounts = any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim for v in volumes)
            if pod["metadata"]["namespace"] == namespace and mounts and pod["status"]["phase"] == "Running":
                return True
        return False

    def hook(replay: KubeReplay, request: Request) -> None:
        address = parse_path(request.path)
        if request.method != "GET" or address is None or address.name is not None:
            return
        for key, arn in platform.load_balancers.items():
            item = replay.get(*key)
            if key[1] == address.plural and item and item["metadata"].get("deletionTimestamp"):
                platform.elbv2.delete_load_balancer(LoadBalancerArn=arn)  # first the load balancer,
                replay.remove(*key)  # then the finalizer
        for key, volume_id in platform.volumes.items():
            item = replay.get(*key)
            released = (
                item and item["metadata"].get("deletionTimestamp") and not running_pods_mounting(replay, *key[2:])
            )
            if key[1] == address.plural and released:
                replay.remove(*key)
                platform.ec2.delete_volume(VolumeId=volume_id)

    platform.replay.hooks.append(hook)


def run(platform: Platform, *extra: str, kubeconfig_path: Path | None = None) -> tuple[int, dict[str, Any], str]:
    app = typer.Typer()
    app.command()(pre_destroy_command)
    args = ["--cluster", CLUSTER, "--region", REGION, "--endpoint-url", platform.aws_url, "--json"]
    args += ["--kubeconfig", str(kubeconfig_path or platform.kubeconfig), "--poll-interval", "0.05", *extra]
    result = CliRunner().invoke(app, args)
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, report, " ".join(result.stderr.split())


def _labels(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']} {o['namespace']}/{o['name']}" for o in objects]


def test_dry_run_lists_the_plan_and_acts_on_nothing(platform: Platform) -> None:
    before = platform.existing()
    code, report, _ = run(platform)

    assert code == exits.FINDINGS, report
    assert platform.replay.writes() == []
    assert platform.existing() == before
    assert {(f["name"], f["suspended"]) for f in report["suspend"]} == {
        ("apps", False),
        ("infra-controllers", False),
        ("infra-configs", True),
        ("ingress-nginx", False),
        ("postgres", False),
    }
    assert _labels(report["delete"]) == [
        "Gateway gateways/public",
        "Ingress apps/web",
        "Service ingress-nginx/ingress-nginx-controller",  # the ClusterIP Services are not listed
        "PersistentVolumeClaim apps/data-postgres-0",
        "PersistentVolumeClaim monitoring/prometheus-db",
    ]
    owned = {(t["name"], r["id"], r["found_by"].split(" ")[0]) for t in report["delete"] for r in t["aws"]}
    assert owned == {
        ("public", platform.load_balancers[GATEWAY], "tags"),
        ("web", platform.load_balancers[WEB], "hostname"),
        ("ingress-nginx-controller", platform.load_balancers[NGINX], "tags"),
        ("data-postgres-0", platform.volumes[POSTGRES_PVC], "PV"),
        ("prometheus-db", platform.volumes[PROMETHEUS_PVC], "tags"),
    }
    assert not platform.lookalikes & {r["id"] for t in report["delete"] for r in t["aws"]}
    by_tags = next(r for t in report["delete"] for r in t["aws"] if r["owner"].endswith("monitoring/prometheus-db"))
    assert by_tags["found_by"] == f"tags kubernetes.io/cluster/{CLUSTER}=owned (PVC monitoring/prometheus-db)"
    held = {t["name"]: t["held_by"] for t in report["delete"] if t["kind"] == "PersistentVolumeClaim"}
    # The finished backup pod that mounted prometheus-db does not hold it.
    assert held == {"data-postgres-0": ["apps/postgres-0"], "prometheus-db": []}
    assert report["not_installed"] == []


def test_apply_suspends_flux_before_deleting_and_waits_until_the_aws_side_is_gone(platform: Platform) -> None:
    platform.replay.remove("v1", "pods", "apps", "postgres-0")  # the workload was scaled down first
    play_controllers(platform)

    code, report, stderr = run(platform, "--apply", "--timeout", "5m")

    assert code == exits.OK, (report, stderr)
    writes = [(r.method, r.path) for r in platform.replay.writes()]
    patches = [path for method, path in writes if method == "PATCH"]
    assert patches == [
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/infra-controllers",
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/ingress-nginx/helmreleases/ingress-nginx",
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/postgres",
    ], "the already suspended infra-configs is left alone"
    assert writes[: len(patches)] == [("PATCH", p) for p in patches], "every suspend comes before any delete"
    assert [path for method, path in writes if method == "DELETE"] == [
        "/apis/gateway.networking.k8s.io/v1/namespaces/gateways/gateways/public",
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/web",
        "/api/v1/namespaces/ingress-nginx/services/ingress-nginx-controller",
        "/api/v1/namespaces/apps/persistentvolumeclaims/data-postgres-0",
        "/api/v1/namespaces/monitoring/persistentvolumeclaims/prometheus-db",
    ]
    for request in platform.replay.writes():
        if request.method == "PATCH":
            assert request.content_type == "application/merge-patch+json"
            assert request.body == {"spec": {"suspend": True}}
    for item in platform.replay.items("kustomize.toolkit.fluxcd.io/v1", "kustomizations"):
        assert item["spec"]["suspend"] is True
    # It waited: the Service was still Terminating at the first poll after its delete.
    deleted_at = platform.replay.log.index(
        platform.replay.requests("DELETE", "/api/v1/namespaces/ingress-nginx/services/ingress-nginx-controller")[0]
    )
    polls = [r for r in platform.replay.log[deleted_at:] if r.method == "GET" and r.path == "/api/v1/services"]
    assert len(polls) >= 2
    left = platform.existing()
    assert not left & (set(platform.load_balancers.values()) | set(platform.volumes.values()))
    assert platform.lookalikes <= left
    assert report["remaining"] == []
    assert report["remaining_aws"] == []
    assert not report["timed_out"]
    assert "gone: Service ingress-nginx/ingress-nginx-controller" in stderr


def test_timeout_reports_exactly_what_is_left_and_exits_incomplete(platform: Platform) -> None:
    """No controller acts: the Service stays Terminating with its NLB; postgres-0 still mounts its PVC."""
    code, report, stderr = run(platform, "--apply", "--timeout", "0.3s")

    assert code == exits.INCOMPLETE, report
    assert report["timed_out"] is True
    remaining = {f"{t['kind']} {t['namespace']}/{t['name']}": t for t in report["remaining"]}
    assert set(remaining) == {
        "Gateway gateways/public",
        "Ingress apps/web",
        "Service ingress-nginx/ingress-nginx-controller",
        "PersistentVolumeClaim apps/data-postgres-0",
        "PersistentVolumeClaim monitoring/prometheus-db",
    }
    assert all(t["terminating"] for t in remaining.values())
    assert remaining["PersistentVolumeClaim apps/data-postgres-0"]["held_by"] == ["apps/postgres-0"]
    assert {r["id"] for r in report["remaining_aws"]} == set(platform.load_balancers.values()) | set(
        platform.volumes.values()
    )
    assert "held by pod(s) apps/postgres-0" in stderr
    assert platform.replay.get("v1", "pods", "apps", "postgres-0") is not None, "workloads are never deleted"


def test_an_aws_resource_that_outlives_its_object_keeps_the_wait_going(platform: Platform) -> None:
    """The Service is gone from the API (no finalizer), but its NLB is not: that is not done."""
    platform.replay.edit(*NGINX, lambda svc: svc["metadata"].pop("finalizers"))
    for key in (WEB, GATEWAY, POSTGRES_PVC, PROMETHEUS_PVC):
        platform.replay.remove(*key)

    code, report, _ = run(platform, "--apply", "--timeout", "0.3s")

    assert code == exits.INCOMPLETE
    assert report["remaining"] == []
    assert [(r["id"], r["owner"]) for r in report["remaining_aws"]] == [
        (platform.load_balancers[NGINX], "Service ingress-nginx/ingress-nginx-controller")
    ]


def test_a_long_wait_prints_a_heartbeat_and_stops_at_the_timeout(platform: Platform) -> None:
    """Driven by a fake clock: 10 s per poll, a 65 s timeout; nothing goes away."""
    from fleet.cleanup.aws import Aws
    from fleet.predestroy import kubeconfig as kubeconfig_loader
    from fleet.predestroy.aws_wait import attach_load_balancers, load_balancers
    from fleet.predestroy.kube import Kube, targets
    from fleet.predestroy.wait import wait_until_gone

    aws = Aws(REGION, platform.aws_url)
    target = kubeconfig_loader.load(str(platform.kubeconfig), None)
    kube = Kube(target.api, target.server)
    found = [(t, o) for t, o in targets(kube, []) if t.kind == "Service"]
    for item, obj in found:
        attach_load_balancers(CLUSTER, item, obj, load_balancers(aws))
    now = [0.0]
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result = wait_until_gone(kube, aws, [t for t, _ in found], 65.0, 10.0, lines.append, lambda: now[0], sleep)

    assert result.timed_out
    assert result.waited == 65.0
    assert [t.label for t in result.remaining] == ["Service ingress-nginx/ingress-nginx-controller"]
    assert [r.id for r in result.remaining_aws] == [platform.load_balancers[NGINX]]
    heartbeats = [line for line in lines if line.startswith("waiting (")]
    assert heartbeats == [
        "waiting (30s of 1m05s): 1 Kubernetes object(s), 1 AWS resource(s) left",
        "waiting (1m00s of 1m05s): 1 Kubernetes object(s), 1 AWS resource(s) left",
    ]
