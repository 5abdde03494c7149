"""`fleet pre-destroy` pieces that need no AWS: flag checks, endpoint comparison, load balancer matching, and a
Kubernetes API that does not answer."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer
from fleet import exits
from fleet.predestroy import pre_destroy_command
from fleet.predestroy.aws_wait import LoadBalancer, attach_load_balancers
from fleet.predestroy.command import parse_timeout
from fleet.predestroy.kube import SERVICE, Kube, KubeError, KubeObject
from fleet.predestroy.kubeconfig import KubeconfigError, load, same_server
from fleet.predestroy.model import Target
from kube_replay import kubeconfig
from typer.testing import CliRunner


def _invoke(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command()(pre_destroy_command)
    result = CliRunner().invoke(app, ["--cluster", "staging", "--region", "eu-west-2", *args])
    return result.exit_code, " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900.0), ("90s", 90.0), ("1h", 3600.0), ("0", 0.0), ("0.5s", 0.5)]
)
def test_timeout_durations(text: str, seconds: float) -> None:
    assert parse_timeout(text) == seconds


@pytest.mark.parametrize("text", ["abc", "15 minutes", "-5m", "25h", ""])
def test_a_bad_timeout_is_bad_input_naming_flag_limit_and_value(text: str) -> None:
    code, stderr = _invoke("--timeout", text)
    assert code == exits.BAD_INPUT
    assert f"--timeout must be a duration like 90s, 15m or 1h, at most 24h; got {text!r}" in stderr


def test_an_invalid_cluster_name_is_bad_input() -> None:
    app = typer.Typer()
    app.command()(pre_destroy_command)
    result = CliRunner().invoke(app, ["--cluster", "-x;rm", "--region", "eu-west-2"])
    assert result.exit_code == exits.BAD_INPUT
    assert "--cluster '-x;rm' is not a valid EKS cluster name" in result.stderr


@pytest.mark.parametrize("region", ["eu-west", "eu-west-2a", "EU-WEST-2"])
def test_a_region_that_is_not_a_region_name_is_bad_input_before_any_call(region: str) -> None:
    app = typer.Typer()
    app.command()(pre_destroy_command)
    # No endpoint is reachable here: an AWS call would fail with exit 6, so exit 3 proves the check came first.
    result = CliRunner().invoke(
        app, ["--cluster", "staging", "--region", region, "--endpoint-url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == exits.BAD_INPUT
    assert f"--region {region!r} is not an AWS region name" in result.stderr


def test_a_missing_kubeconfig_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match=r"--kubeconfig .*/nope: no such file"):
        load(str(tmp_path / "nope"), None)


@pytest.mark.parametrize(
    ("eks", "kube", "same"),
    [
        ("https://ABC123.gr7.eu-west-2.eks.amazonaws.com", "https://abc123.gr7.eu-west-2.eks.amazonaws.com", True),
        ("https://abc.gr7.eu-west-2.eks.amazonaws.com/", "https://abc.gr7.eu-west-2.eks.amazonaws.com:443", True),
        ("https://abc.gr7.eu-west-2.eks.amazonaws.com", "https://abd.gr7.eu-west-2.eks.amazonaws.com", False),
        ("https://abc.gr7.eu-west-2.eks.amazonaws.com", "http://abc.gr7.eu-west-2.eks.amazonaws.com", False),
        ("https://abc.gr7.eu-west-2.eks.amazonaws.com", "https://abc.gr7.eu-west-2.eks.amazonaws.com:8443", False),
        ("https://abc.gr7.eu-west-2.eks.amazonaws.com", "https://abc.gr7.eu-west-2.eks.amazonaws.com.evil.io", False),
    ],
)
def test_endpoint_comparison(eks: str, kube: str, same: bool) -> None:
    assert same_server(eks, kube) is same


def _lb(name: str, tags: dict[str, str], dns: str = "") -> LoadBalancer:
    return LoadBalancer(f"arn:aws:elasticloadbalancing:eu-west-2:1:loadbalancer/net/{name}/1", name, dns, tags)


def _object(
    kind: str, namespace: str, name: str, annotations: dict[str, str] | None = None, host: str = ""
) -> tuple[Target, KubeObject]:
    status = {"loadBalancer": {"ingress": [{"hostname": host}]}} if host else {}
    obj = KubeObject.model_validate(
        {"metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}, "status": status}
    )
    return Target(kind=kind, namespace=namespace, name=name), obj


def test_load_balancers_are_matched_by_cluster_and_stack_tags_or_hostname() -> None:
    lbs = [
        _lb("lbc", {"elbv2.k8s.aws/cluster": "staging", "service.k8s.aws/stack": "ingress/nginx"}),
        _lb("other-cluster", {"elbv2.k8s.aws/cluster": "staging-2", "service.k8s.aws/stack": "ingress/nginx"}),
        _lb("in-tree", {"kubernetes.io/cluster/staging": "owned", "kubernetes.io/service-name": "ingress/nginx"}),
        _lb(
            "in-tree-shared", {"kubernetes.io/cluster/staging": "shared", "kubernetes.io/service-name": "ingress/nginx"}
        ),
        _lb("group", {"elbv2.k8s.aws/cluster": "staging", "ingress.k8s.aws/stack": "public"}),
        _lb("by-dns", {}, "k8s-apps-web-1.eu-west-2.elb.amazonaws.com"),
    ]
    service, service_obj = _object("Service", "ingress", "nginx")
    attach_load_balancers("staging", service, service_obj, lbs)
    assert [r.name for r in service.aws] == ["lbc", "in-tree"]

    grouped, grouped_obj = _object("Ingress", "apps", "web", {"alb.ingress.kubernetes.io/group.name": "public"})
    attach_load_balancers("staging", grouped, grouped_obj, lbs)
    assert [r.name for r in grouped.aws] == ["group"]

    by_host, by_host_obj = _object("Ingress", "apps", "web", host="K8S-apps-web-1.eu-west-2.elb.amazonaws.com")
    attach_load_balancers("staging", by_host, by_host_obj, lbs)
    assert [(r.name, r.found_by) for r in by_host.aws] == [
        ("by-dns", "hostname k8s-apps-web-1.eu-west-2.elb.amazonaws.com in the object's status")
    ]
    assert by_host.notes == []


def test_a_hostname_no_elbv2_answers_to_is_noted_not_silently_dropped() -> None:
    classic, obj = _object("Service", "legacy", "web", host="a1b2c3-123.eu-west-2.elb.amazonaws.com")
    attach_load_balancers("staging", classic, obj, [])
    assert classic.aws == []
    assert classic.notes == [
        "hostname a1b2c3-123.eu-west-2.elb.amazonaws.com matches no ELBv2 load balancer in this region"
        " (a classic ELB?): not waited for"
    ]


def test_an_api_server_that_refuses_connections_is_a_kube_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    target = load(str(kubeconfig(tmp_path / "kubeconfig", url)), None)
    kube = Kube(target.api, target.server)
    with pytest.raises(KubeError, match=rf"cannot reach the Kubernetes API at {url} \(list services.v1\)"):
        kube.list_objects(SERVICE)


def test_registered_as_fleet_pre_destroy() -> None:
    from fleet.cli import app

    result = CliRunner().invoke(app, ["pre-destroy", "--help"], terminal_width=200)
    assert result.exit_code == exits.OK
    assert "--kubeconfig" in result.stdout
    assert "--poll-interval" not in result.stdout, "a test knob, hidden from users"
