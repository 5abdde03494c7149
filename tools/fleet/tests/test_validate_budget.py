"""`pod-budget`: rendered staging pods + chart pods + EKS system pods against one node's max pods."""

from __future__ import annotations

import shutil
from pathlib import Path

from fleet.capacity.budget import Scan
from fleet.capacity.requests import Requests
from fleet.capacity.requests_budget import requesters
from fleet.validate.base import Context
from fleet.validate.budget import (
    PodBudgetCheck,
    addon_pod_requests,
    canary_extra,
    node_instance_type,
    terraform_addon_map,
)

FIXTURES = Path(__file__).parent / "fixtures" / "validate" / "budget"


def test_fitting_tree_passes_and_skips_the_suspended_release() -> None:
    result = PodBudgetCheck().run(Context(root=FIXTURES / "fits"))
    assert result.ok, result.errors
    # 8 (HPA max) + 1 (StatefulSet) + 3 (cert-manager from the fixture's chart table) + the system pods + 1 canary.
    assert "12 workload" in result.summary
    assert "1 canary" in result.summary
    assert "t3.large (35 max" in result.summary
    assert any("aws-load-balancer-controller is suspended" in w for w in result.warnings)


def test_overrun_fails_naming_the_largest_workload() -> None:
    result = PodBudgetCheck().run(Context(root=FIXTURES / "overrun"))
    assert not result.ok
    assert "fewer than 2 free slots" in result.errors[0]
    assert "Deployment applications/app 20 (HPA app maxReplicas" in result.errors[0]


def test_no_staging_render_is_nothing_not_a_pass(tmp_path: Path) -> None:
    result = PodBudgetCheck().run(Context(root=tmp_path))
    assert result.ok
    assert result.checked == 0


def test_node_instance_type_sources() -> None:
    assert node_instance_type([], {"NODE_INSTANCE_TYPE": "t3.xlarge"})[0] == "t3.xlarge"
    pool = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "spec": {"template": {"spec": {"requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["t3.xlarge", "t3.large"]}
        ]}}},
    }  # fmt: skip
    assert node_instance_type([pool], {}) == ("t3.large", "smallest instance type the staging NodePools allow")
    assert node_instance_type([], {})[0] == "t3.large"


def test_canary_counts_its_hpa_min_replicas() -> None:
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "a", "namespace": "n"}, "spec": {"minReplicas": 2}}
    canary = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "a", "namespace": "n"},
        "spec": {"autoscalerRef": {"name": "a"}},
    }
    assert canary_extra([hpa, canary]) == [("Canary n/a: canary Deployment during analysis", 2)]


def _with_prefix_delegation(tmp_path: Path, node_class: str | None) -> Path:
    """The overrun fixture (20 app pods), with prefix delegation on and, optionally, an EC2NodeClass."""
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES / "overrun", root)
    vars_file = root / "k8s" / "clusters" / "staging" / "cluster-vars.yaml"
    vars_file.write_text(vars_file.read_text() + '  VPC_CNI_PREFIX_DELEGATION: "true"\n', encoding="utf-8")
    if node_class is not None:
        staging = root / "k8s" / "applications" / "staging"
        (staging / "nodeclass.yaml").write_text(node_class, encoding="utf-8")
        kustomization = staging / "kustomization.yaml"
        kustomization.write_text(kustomization.read_text() + "  - nodeclass.yaml\n", encoding="utf-8")
    return root


NODE_CLASS = "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata:\n  name: default\nspec:\n"


def test_prefix_delegation_lifts_the_node_to_110_pods(tmp_path: Path) -> None:
    result = PodBudgetCheck().run(
        Context(root=_with_prefix_delegation(tmp_path, NODE_CLASS + "  kubelet:\n    maxPods: 110\n"))
    )
    assert result.ok, result.errors
    assert "t3.large (110 max: prefix delegation, kubelet maxPods 110" in result.summary


def test_a_lower_kubelet_max_pods_is_the_limit(tmp_path: Path) -> None:
    result = PodBudgetCheck().run(
        Context(root=_with_prefix_delegation(tmp_path, NODE_CLASS + "  kubelet:\n    maxPods: 30\n"))
    )
    assert not result.ok
    assert "(30 max: prefix delegation, kubelet maxPods 30" in result.errors[0]


def test_prefix_delegation_without_kubelet_max_pods_fails(tmp_path: Path) -> None:
    result = PodBudgetCheck().run(Context(root=_with_prefix_delegation(tmp_path, NODE_CLASS + "  role: r\n")))
    assert any("EC2NodeClass default sets no kubelet.maxPods" in e for e in result.errors), result.errors


def test_steady_state_requests_beyond_one_node_fail_naming_the_biggest() -> None:
    result = PodBudgetCheck().run(Context(root=FIXTURES / "requests-overrun"))
    assert not result.ok
    [error] = result.errors  # the pods fit (27 of 35): only the requests fail
    # The canary's copy is not in the steady state: Flagger scales it to zero between analyses.
    assert "steady-state requests CPU 2030m/1930m (105%)" in error
    assert "exceed one t3.large's allocatable; largest: Deployment applications/app 1200m CPU, 1536 MiB" in error
    assert "requests steady CPU 2030m/1930m" in result.summary


def test_peak_beyond_one_node_warns_how_many_nodes_karpenter_adds() -> None:
    result = PodBudgetCheck().run(Context(root=FIXTURES / "requests-peak"))
    assert result.ok, result.errors
    assert "requests steady CPU 1030m/1930m (53%)" in result.summary
    [peak] = [w for w in result.warnings if "peak requests" in w]
    assert "CPU 2630m/1930m (136%)" in peak
    assert "Karpenter would add 1 node(s)" in peak
    assert "largest: Deployment applications/app 1600m CPU, 2048 MiB" in peak


def test_fitting_tree_names_what_requests_nothing() -> None:
    result = PodBudgetCheck().run(Context(root=FIXTURES / "fits"))
    assert "Deployment applications/app requests no CPU or memory: counted as 0" in " ".join(result.warnings)
    assert "cainjector, webhook request no CPU or memory" in " ".join(result.warnings)
    assert "system kube-system/coredns: requests unknown" in " ".join(result.warnings)


TERRAFORM = """module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.0.0"
  addons = {
    coredns = {}
    vpc-cni = { before_compute = true }
    made-up = {}
  }
}
"""


def test_the_add_ons_are_terraforms(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES / "fits", root)
    module = root / "infrastructure" / "modules" / "cluster"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(TERRAFORM, encoding="utf-8")
    result = PodBudgetCheck().run(Context(root=root))
    # coredns 2 + vpc-cni 1 + Flux 6 + observability 4; metrics-server, kube-proxy and the rest are not installed.
    assert "13 system" in result.summary
    assert any("EKS add-on made-up (Terraform) is not in fleet's data/system-pods.yaml" in w for w in result.warnings)
    (module / "main.tf").write_text('module "eks" {\n  source = "terraform-aws-modules/eks/aws"\n}\n')
    result = PodBudgetCheck().run(Context(root=root))
    assert "19 system" in result.summary  # no map: fleet's default set, said so
    assert any("no `addons` map" in w for w in result.warnings)


def test_terraform_states_the_add_on_requests_the_budget_counts() -> None:
    repo = Path(__file__).resolve().parents[3]
    names, stated, warnings = terraform_addon_map(repo)
    assert warnings == []
    assert names is not None
    assert "coredns" in names
    assert stated["coredns"] == Requests(cpu_m=50, memory_bytes=70 * 2**20)
    assert stated["kube-proxy"] == Requests(cpu_m=25, memory_bytes=32 * 2**20)
    assert "vpc-cni" not in stated  # its configuration_values sets no resources: system-pods.yaml's figure stands
    assert addon_pod_requests({"configuration_values": "${jsonencode({replicaCount = 3})}"}) is None


def test_the_canary_counts_at_peak_only() -> None:
    scan = Scan()
    (row,) = requesters(scan, [("Canary a/b", 1, Requests(cpu_m=250))])
    assert (row.steady_pods, row.steady, row.peak_pods, row.peak) == (0, Requests(), 1, Requests(cpu_m=250))
