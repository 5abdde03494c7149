"""`fleet capacity`: the ENI formula and the pod budget against real manifest layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import exits
from fleet.capacity import app
from fleet.capacity.budget import scan_manifests
from fleet.capacity.charts import load_chart_table
from fleet.capacity.enis import load_instance_types, max_pods
from fleet.capacity.system import load_system_table, system_rows
from typer.testing import CliRunner

runner = CliRunner()


def flat(text: str) -> str:
    """Rich wraps stderr at the terminal width; compare messages with whitespace collapsed."""
    return " ".join(text.split())


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec: {containers: [{name: app, image: "app:1"}]}
"""
HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: %(name)s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %(name)s}
  minReplicas: 1
  maxReplicas: %(max)d
"""


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("t3.small", 11),
        ("t3.medium", 17),
        ("t3.large", 35),
        ("t3.micro", 4),
        ("t3a.small", 8),
        ("m5.large", 29),
    ],
)
def test_max_pods_formula(instance_type: str, expected: int) -> None:
    assert max_pods(load_instance_types(), instance_type).max_pods == expected


def test_prefix_delegation_caps() -> None:
    table = load_instance_types()
    assert max_pods(table, "t3.large", prefix_delegation=True).max_pods == 110  # 530 uncapped
    assert max_pods(table, "t3.micro", prefix_delegation=True).max_pods == 34  # 2 x 1 x 16 + 2, under the cap
    assert max_pods(table, "m5.8xlarge", prefix_delegation=True).max_pods == 250  # 32 vCPUs > 30
    assert max_pods(table, "m5.4xlarge", prefix_delegation=True).max_pods == 110  # 16 vCPUs


def test_max_pods_cli_json_and_unknown_type() -> None:
    result = runner.invoke(app, ["max-pods", "t3.large", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["max_pods"] == 35
    assert data["enis"] == 3
    assert data["ipv4_per_eni"] == 12
    result = runner.invoke(app, ["max-pods", "t9.giant"])
    assert result.exit_code == exits.BAD_INPUT
    assert "unknown instance type 't9.giant'" in flat(result.stderr)


def test_max_pods_with_own_table(tmp_path: Path) -> None:
    table = tmp_path / "types.yaml"
    table.write_text("instance_types:\n  x9.tiny: {vcpus: 1, enis: 2, ipv4_per_eni: 3}\n")
    result = runner.invoke(app, ["max-pods", "x9.tiny", "--instance-types", str(table), "--json"])
    assert json.loads(result.stdout)["max_pods"] == 6
    table.write_text("instance_types:\n  x9.tiny: {vcpus: 1, enis: 0, ipv4_per_eni: 3}\n")
    result = runner.invoke(app, ["max-pods", "x9.tiny", "--instance-types", str(table)])
    assert result.exit_code == exits.BAD_INPUT
    assert "enis" in flat(result.stderr)


def budget(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["budget", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_real_system_pods_leave_a_t3_medium_short_of_the_roadmaps_buffer(tmp_path: Path) -> None:
    # Terraform's add-on map (infrastructure/modules/cluster/main.tf): coredns x2, aws-node, kube-proxy,
    # eks-pod-identity-agent, metrics-server and the EBS CSI driver (controller x2 + node): 9. With Flux's 6
    # controllers and observability 4 that is 19: more than a t3.medium's 17 before any app pod.
    (tmp_path / "app.yaml").write_text(DEPLOYMENT % {"name": "web", "replicas": 1})
    code, data = budget("--manifests", str(tmp_path), "--instance-type", "t3.medium")
    assert code == exits.FINDINGS
    kube_system = {s["name"]: s["pods"] for s in data["system"] if s["namespace"] == "kube-system"}
    expected = {"vpc-cni": 1, "kube-proxy": 1, "coredns": 2, "eks-pod-identity-agent": 1, "metrics-server": 1}
    assert kube_system == expected | {"aws-ebs-csi-driver": 3}
    assert (data["system_pods"], data["workload_pods"], data["total_pods"]) == (19, 1, 20)
    assert data["free_slots"] == -3
    assert data["ok"] is False


def test_hpa_max_is_the_worst_case_and_breaks_the_buffer(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(
        DEPLOYMENT % {"name": "web", "replicas": 1} + "---\n" + HPA % {"name": "web", "max": 3}
    )
    code, data = budget("--manifests", str(tmp_path), "--instance-type", "t3.medium")
    assert code == exits.FINDINGS  # 19 + 3 = 22 of 17
    assert data["workloads"][0]["pods"] == 3
    assert "HPA" in data["workloads"][0]["basis"]
    code, data = budget("--manifests", str(tmp_path), "--instance-type", "t3.large")
    assert code == 0
    assert data["free_slots"] == 35 - 22


def test_kustomization_resources_daemonsets_and_namespaces(tmp_path: Path) -> None:
    base = tmp_path / "app"
    base.mkdir()
    (base / "deploy.yaml").write_text(DEPLOYMENT % {"name": "api", "replicas": 2})
    (base / "unused.yaml").write_text(DEPLOYMENT % {"name": "ignored", "replicas": 9})  # not listed: not built
    (base / "kustomization.yaml").write_text("namespace: applications\nresources: [deploy.yaml]\n")
    (tmp_path / "agent.yaml").write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\n"
        "spec: {selector: {matchLabels: {a: b}},\n"
        "       template: {metadata: {labels: {a: b}}, spec: {containers: []}}}\n"
    )
    (tmp_path / "flux.yaml").write_text(
        DEPLOYMENT.replace("metadata: {name: %(name)s}", "metadata: {name: %(name)s, namespace: flux-system}")
        % {"name": "source-controller", "replicas": 1}
    )
    (tmp_path / "kustomization.yaml").write_text("resources: [app, agent.yaml, flux.yaml, missing.yaml]\n")
    scan = scan_manifests(tmp_path, system_rows(load_system_table(), [], {}), load_chart_table())
    by_name = {w.name: w for w in scan.workloads}
    assert set(by_name) == {"api", "agent", "source-controller"}
    assert by_name["api"].namespace == "applications"
    assert by_name["api"].pods == 2
    assert by_name["agent"].pods == 1
    assert by_name["source-controller"].counted is False  # the system table already counts Flux
    assert scan.pods == 3
    assert any("missing.yaml" in w for w in scan.warnings)


def test_system_pod_overrides_and_bad_input(tmp_path: Path) -> None:
    code, data = budget("--manifests", str(tmp_path), "--system-pods", "observability=0", "--system-pods", "x=2")
    assert code == 0
    assert {s["namespace"] for s in data["system"]} == {"kube-system", "flux-system", "x"}
    assert data["total_pods"] == 9 + 6 + 2
    code, data = budget("--manifests", str(tmp_path), "--system-pods", "kube-system=3")
    assert [s["pods"] for s in data["system"] if s["namespace"] == "kube-system"] == [3]  # replaces every add-on
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path / "nope")])
    assert result.exit_code == exits.BAD_INPUT
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--system-pods", "bad"])
    assert result.exit_code == exits.BAD_INPUT


def test_addons_flag_replaces_or_adds_to_the_default_set(tmp_path: Path) -> None:
    _, default = budget("--manifests", str(tmp_path))
    assert "aws-ebs-csi-driver" in {s["name"] for s in default["system"]}  # Terraform installs it
    without = "vpc-cni,eks-pod-identity-agent,coredns,kube-proxy,metrics-server"
    _, no_ebs = budget("--manifests", str(tmp_path), "--addons", without)
    assert no_ebs["system_pods"] == default["system_pods"] - 3  # controller x2 + the node DaemonSet
    _, same = budget("--manifests", str(tmp_path), "--addons", "+aws-ebs-csi-driver")
    assert same["system_pods"] == default["system_pods"]  # already in the set: not counted twice
    _, bare = budget("--manifests", str(tmp_path), "--addons", "vpc-cni,kube-proxy,coredns")
    kube_system = [s["name"] for s in bare["system"] if s["namespace"] == "kube-system"]
    assert kube_system == ["vpc-cni", "kube-proxy", "coredns"]
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--addons", "coredns,ebs"])
    assert result.exit_code == exits.BAD_INPUT
    assert "--addons 'coredns,ebs': unknown add-on ebs; known: aws-ebs-csi-driver, coredns" in flat(result.stderr)
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--addons", "coredns,+vpc-cni"])
    assert result.exit_code == exits.BAD_INPUT
    assert "not both" in flat(result.stderr)


def test_budget_table_output(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: [unclosed\n")
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--instance-type", "t3.small"])
    assert result.exit_code == exits.FINDINGS  # 19 system pods do not fit in 11
    assert "NOT ENOUGH HEADROOM" in result.stdout
    assert "cannot parse" in result.stdout


def test_malformed_manifests_do_not_crash(tmp_path: Path) -> None:
    (tmp_path / "odd.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: null\nspec: []\n---\n"
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec: {jobTemplate: null}\n---\n"
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: null\n"
    )
    scan = scan_manifests(tmp_path, [], load_chart_table())
    assert [(w.kind, w.name, w.pods) for w in scan.workloads] == [("Deployment", "?", 1), ("CronJob", "nightly", 1)]


REQUESTING = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: app, image: "app:1", resources: {requests: {cpu: %(cpu)s, memory: 1Gi}}}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec: {scaleTargetRef: {kind: Deployment, name: api}, minReplicas: 2, maxReplicas: 6}
"""


def test_budget_prints_the_requests_table_and_json(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(REQUESTING % {"cpu": "200m"})
    code, data = budget("--manifests", str(tmp_path), "--prefix-delegation")
    assert code == exits.OK
    requests = data["requests"]
    assert requests["allocatable"] == {"cpu_m": 1930, "memory_mib": 6627.0}  # t3.large at 110 pods
    [api] = [r for r in requests["rows"] if r["what"] == "Deployment default/api"]
    assert (api["steady_pods"], api["peak_pods"], api["steady"]["cpu_m"], api["peak"]["cpu_m"]) == (2, 6, 400, 1200)
    assert requests["steady_fits"] is True
    assert requests["peak_nodes"] == 2  # 1200m + 730m of system requests > 1930m
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--prefix-delegation"])
    assert "CPU and memory requests on one t3.large" in result.stdout
    assert "peak needs 2 node(s)" in flat(result.stdout)


def test_budget_fails_when_steady_requests_do_not_fit(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(REQUESTING % {"cpu": "1"})
    result = runner.invoke(app, ["budget", "--manifests", str(tmp_path), "--prefix-delegation"])
    assert result.exit_code == exits.FINDINGS  # 2 x 1000m + 730m > 1930m, though the pods fit
    assert "NOT ENOUGH CPU OR MEMORY" in result.stdout
    table = tmp_path / "types.yaml"
    table.write_text("instance_types:\n  x9.big: {vcpus: 64, enis: 8, ipv4_per_eni: 30}\n")
    code, data = budget("--manifests", str(tmp_path), "--instance-type", "x9.big", "--instance-types", str(table))
    assert (code, data["requests"]) == (exits.OK, None)  # no memory_mib: not sized, and not failed for it
