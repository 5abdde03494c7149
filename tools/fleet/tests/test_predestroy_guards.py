"""`fleet pre-destroy` guards, against the same recorded cluster and moto_server as test_predestroy.py: the
wrong cluster, a cluster already gone, API errors, missing CRDs, bad flags. None of them may change anything."""

from __future__ import annotations

from pathlib import Path

import boto3
import test_predestroy as shared
from fleet import exits
from kube_replay import KubeReplay, kubeconfig
from test_predestroy import CLUSTER, REGION, Platform, _labels, run

# The same servers and seeded platform as test_predestroy.py (module-scoped there, so started again here).
replay, aws_url, platform = shared.replay, shared.aws_url, shared.platform
pytestmark = shared.pytestmark


def test_a_missing_flux_crd_is_reported_not_an_error(platform: Platform) -> None:
    platform.replay.uninstall("helm.toolkit.fluxcd.io")
    platform.replay.uninstall("gateway.networking.k8s.io")

    code, report, _ = run(platform)

    assert code == exits.FINDINGS, report
    assert report["error"] is None
    assert report["not_installed"] == [
        "HelmRelease (helm.toolkit.fluxcd.io/v2)",
        "Gateway (gateway.networking.k8s.io/v1)",
    ]
    assert {f["kind"] for f in report["suspend"]} == {"Kustomization"}
    assert "Gateway gateways/public" not in _labels(report["delete"])


def test_forbidden_is_a_remote_error_and_nothing_is_touched(platform: Platform) -> None:
    platform.replay.forbidden.add("services")
    before = platform.existing()

    code, report, stderr = run(platform, "--apply")

    assert code == exits.REMOTE_ERROR
    assert "HTTP 403" in report["error"]
    assert "cannot list resource" in report["error"]
    assert "services is forbidden" in stderr
    assert platform.replay.writes() == []
    assert platform.existing() == before


def test_rejected_token_is_a_remote_error(platform: Platform, tmp_path: Path) -> None:
    expired = kubeconfig(tmp_path / "expired", platform.replay.url, token="expired")
    code, report, _ = run(platform, "--apply", kubeconfig_path=expired)
    assert code == exits.REMOTE_ERROR
    assert "HTTP 401" in report["error"]
    assert "credentials and RBAC" in report["error"]
    assert platform.replay.writes() == []


def test_kubeconfig_for_another_cluster_is_refused_before_any_kubernetes_call(
    platform: Platform, tmp_path: Path
) -> None:
    before = platform.existing()
    with KubeReplay() as other_cluster:
        other_cluster.load("platform")
        code, report, stderr = run(
            platform, "--apply", kubeconfig_path=kubeconfig(tmp_path / "other", other_cluster.url)
        )
        assert other_cluster.log == []
    assert code == exits.REFUSED
    assert report["refused"]
    assert other_cluster.url in report["refused"]
    assert f"EKS cluster {CLUSTER}'s endpoint is {platform.replay.url}/" in stderr
    assert platform.replay.log == []
    assert platform.existing() == before


def test_cluster_already_gone_is_nothing_to_do(platform: Platform) -> None:
    boto3.client("eks", region_name=REGION, endpoint_url=platform.aws_url).delete_cluster(name=CLUSTER)

    code, report, _ = run(platform, "--apply")

    assert code == exits.OK
    assert report["cluster_status"] is None
    assert platform.replay.log == []


def test_unknown_context_is_bad_input(platform: Platform) -> None:
    code, report, stderr = run(platform, "--context", "prod")
    assert code == exits.BAD_INPUT
    assert report == {}
    assert "--context 'prod' is not in --kubeconfig" in stderr
    assert platform.replay.log == []


def test_a_failed_suspend_stops_before_any_delete(platform: Platform) -> None:
    """Deleting while a HelmRelease still reconciles would only see the Service recreated, LB and all."""
    platform.replay.forbidden.add("PATCH helmreleases")

    code, report, _ = run(platform, "--apply")

    assert code == exits.REMOTE_ERROR
    assert "suspend HelmRelease ingress-nginx/ingress-nginx" in report["error"]
    assert [r.method for r in platform.replay.writes()] == ["PATCH", "PATCH", "PATCH"]  # 2 Kustomizations, 1 denied
    assert [a["verb"] for a in report["actions"]] == ["suspend", "suspend"]
