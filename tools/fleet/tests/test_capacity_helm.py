"""`fleet capacity budget` counts Flux HelmReleases (finding 2): chart defaults, values overrides, unknown charts.

The fixture tree (fixtures/capacity/flux-tree) is shaped like the original's k8s/: Flux's own controllers,
HelmReleases for cert-manager, the LB controller, ingress-nginx, Flagger and its loadtester, kube-prometheus-stack
and the Pushgateway, and load-harness with an HPA. The original's budget read it as 22 of 35 (14 system pods + the
HPA's 8), skipping every HelmRelease.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fleet import exits
from fleet.capacity import app
from fleet.capacity.charts import count_release, load_chart_table
from typer.testing import CliRunner

TREE = Path(__file__).parent / "fixtures" / "capacity" / "flux-tree"
runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def budget(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["budget", *args, "--json"])
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def release(chart: str, values: dict[str, Any] | None = None, api: str = "helm.toolkit.fluxcd.io/v2") -> str:
    body = {
        "apiVersion": api,
        "kind": "HelmRelease",
        "metadata": {"name": chart, "namespace": "apps"},
        "spec": {"chart": {"spec": {"chart": chart, "sourceRef": {"kind": "HelmRepository", "name": "r"}}}},
    }
    if values is not None:
        body["spec"]["values"] = values  # type: ignore[index]
    return json.dumps(body) + "\n"  # JSON is YAML


ORIGINAL_ADDONS = "vpc-cni,eks-pod-identity-agent,coredns,kube-proxy,metrics-server"  # no EBS CSI driver then


def test_the_original_tree_counts_every_helm_release() -> None:
    code, data = budget("--manifests", str(TREE), "--addons", ORIGINAL_ADDONS)
    releases = {w["name"]: w["pods"] for w in data["workloads"] if w["kind"] == "HelmRelease"}
    assert releases == {
        "cert-manager": 3,  # controller, cainjector, webhook
        "aws-load-balancer-controller": 1,  # values: replicaCount: 1 (the chart's default is 2)
        "ingress-nginx": 1,
        "flagger": 1,
        "flagger-loadtester": 1,  # chart "loadtester"
        "kube-prometheus-stack": 5,  # operator, prometheus, grafana, kube-state-metrics, node-exporter; no alertmanager
        "pushgateway": 1,
    }
    by_name = {w["name"]: w for w in data["workloads"]}
    assert by_name["cert-manager"]["namespace"] == "cert-manager"  # spec.targetNamespace, not flux-system
    assert by_name["load-harness"]["pods"] == 8  # the HPA's maxReplicas
    flux = [w for w in data["workloads"] if w["namespace"] == "flux-system"]
    assert len(flux) == 5
    assert not any(w["counted"] for w in flux)  # the system table counts Flux's controllers once
    system = {s["name"]: s for s in data["system"]}
    assert system["observability"]["replaced_by"] == "HelmRelease observability/kube-prometheus-stack"
    assert system["observability"]["counted"] is False
    # By hand: kube-system add-ons 6 (coredns 2, aws-node, kube-proxy, pod-identity-agent, metrics-server) +
    # Flux 6 (notification-controller is a default component) + HelmReleases 3 + 1 + 1 + 1 + 1 + 5 + 1 = 13 +
    # load-harness 8 = 33 of 35.
    assert (data["system_pods"], data["workload_pods"], data["total_pods"]) == (12, 21, 33)
    assert data["free_slots"] == 2
    assert code == exits.OK
    # The packaged chart table records no default requests for these charts, the releases set none, and
    # system-pods.yaml knows none for coredns and kube-proxy: each says so (counted 0). Nothing else warns.
    unrequested = [w for w in data["warnings"] if "no CPU or memory" in w]
    unknown = [w for w in data["warnings"] if "requests unknown" in w]
    assert len(unrequested) == 7  # 6 HelmReleases (flagger has a recorded default) + the load-harness Deployment
    assert sorted(unknown) == [
        "system kube-system/coredns: requests unknown (system-pods.yaml), counted as 0",
        "system kube-system/kube-proxy: requests unknown (system-pods.yaml), counted as 0",
    ]
    assert len(data["warnings"]) == len(unrequested) + len(unknown)


def test_unknown_chart_is_counted_as_assumed_and_said_so(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(release("our-internal-chart"))
    _, data = budget("--manifests", str(tmp_path))
    [workload] = data["workloads"]
    assert (workload["pods"], workload["assumed"], workload["counted"]) == (1, True, True)
    message = "unknown chart our-internal-chart, counted as 1 (assumed) — add it to chart-pods.yaml"
    assert workload["basis"] == message
    assert any(message in w for w in data["warnings"])
    assert data["workload_pods"] == 1
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path)])
    assert message in flat(result.stdout)


def test_chart_defaults_from_the_data_file() -> None:
    table = load_chart_table()

    def pods(chart: str) -> int:
        return count_release(json.loads(release(chart)), table, {}).pods

    # Each figure is the chart's default values (see `source` in chart-pods.yaml), on one node.
    assert pods("cert-manager") == 3
    assert pods("aws-load-balancer-controller") == 2
    assert pods("ingress-nginx") == 1
    assert pods("flagger") == 1
    assert pods("flagger-loadtester") == 1  # an alias of "loadtester"
    assert pods("prometheus-node-exporter") == 1  # a DaemonSet: 1 per node
    assert pods("prometheus-pushgateway") == 1
    assert pods("kube-prometheus-stack") == 6  # alertmanager included by default
    assert pods("metrics-server") == 1
    assert pods("gateway-helm") == 1
    assert pods("karpenter") == 2


@pytest.mark.parametrize(
    ("chart", "values", "expected", "note"),
    [
        ("aws-load-balancer-controller", {"replicaCount": 3}, 3, "replicaCount=3"),
        ("cert-manager", {"replicaCount": 2, "cainjector": {"enabled": False}}, 3, "cainjector off"),
        ("ingress-nginx", {"controller": {"kind": "DaemonSet", "replicaCount": 4}}, 1, "DaemonSet"),
        ("ingress-nginx", {"controller": {"autoscaling": {"enabled": True, "maxReplicas": 4}}}, 4, "worst case"),
        ("ingress-nginx", {"controller": {"autoscaling": {"enabled": True}}}, 11, "worst case"),
        ("ingress-nginx", {"defaultBackend": {"enabled": True}}, 2, "default-backend 1"),
        ("kube-prometheus-stack", {"nodeExporter": {"enabled": False}, "grafana": {"enabled": False}}, 4, "off"),
        ("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"replicas": 2}}}, 7, "replicas=2"),
        ("podinfo", {"hpa": {"enabled": True, "maxReplicas": 5}}, 5, "worst case"),
    ],
)
def test_spec_values_override_the_defaults(chart: str, values: dict[str, Any], expected: int, note: str) -> None:
    counted = count_release(json.loads(release(chart, values)), load_chart_table(), {})
    assert counted.pods == expected
    assert note in counted.basis
    assert counted.warnings == []


def test_odd_values_api_versions_and_values_from_warn(tmp_path: Path) -> None:
    odd = json.loads(release("flagger", {"replicaCount": "two"}, api="helm.toolkit.fluxcd.io/v3"))
    odd["spec"]["valuesFrom"] = [{"kind": "ConfigMap", "name": "flagger-values"}]
    (tmp_path / "odd.yaml").write_text(json.dumps(odd))
    (tmp_path / "old.yaml").write_text(release("pushgateway", api="helm.toolkit.fluxcd.io/v2beta1"))
    _, data = budget("--manifests", str(tmp_path))
    assert {w["name"]: w["pods"] for w in data["workloads"]} == {"flagger": 1, "pushgateway": 1}
    warnings = " ".join(data["warnings"])
    assert "replicaCount='two' is not a replica count" in warnings
    assert "apiVersion helm.toolkit.fluxcd.io/v3 is not one fleet knows" in warnings
    assert "valuesFrom is not read" in warnings
    assert not any("old.yaml" in w and "apiVersion" in w for w in data["warnings"])  # v2beta1 read as is


def test_chart_ref_to_an_oci_repository(tmp_path: Path) -> None:
    (tmp_path / "envoy.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\n"
        "metadata: {name: envoy-gateway, namespace: envoy-gateway-system}\n"
        "spec: {interval: 1h, url: 'oci://docker.io/envoyproxy/gateway-helm', ref: {tag: v1.2.0}}\n---\n"
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata: {name: envoy-gateway, namespace: envoy-gateway-system}\n"
        "spec:\n  chartRef: {kind: OCIRepository, name: envoy-gateway}\n  values: {deployment: {replicas: 2}}\n"
    )
    _, data = budget("--manifests", str(tmp_path))
    [workload] = data["workloads"]
    assert (workload["chart"], workload["pods"], workload["assumed"]) == ("gateway-helm", 2, False)


def test_a_chart_release_replaces_the_add_on_it_duplicates(tmp_path: Path) -> None:
    (tmp_path / "ms.yaml").write_text(release("metrics-server", {"replicas": 2}))
    _, data = budget("--manifests", str(tmp_path))
    system = {s["name"]: s for s in data["system"]}
    assert system["metrics-server"]["replaced_by"] == "HelmRelease apps/metrics-server"
    assert data["system_pods"] == 8 + 6 + 4  # kube-system without the add-on, Flux, observability
    assert data["workload_pods"] == 2


def test_bad_chart_table_is_bad_input(tmp_path: Path) -> None:
    table = tmp_path / "charts.yaml"
    table.write_text("unknown_chart_pods: 1\ncharts:\n  x:\n    source: s\n    components: [{name: a, replicas: -1}]\n")
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--chart-pods", str(table)])
    assert result.exit_code == exits.BAD_INPUT
    assert "charts.x.components[0].replicas" in flat(result.stderr)
    table.write_text("unknown_chart_pods: 2\ncharts: {}\n")
    (tmp_path / "r.yaml").write_text(release("cert-manager"))
    _, data = budget("--manifests", str(tmp_path), "--chart-pods", str(table))
    assert data["workloads"][0]["pods"] == 2  # your own table's default for a chart it lacks
