"""`pod-budget`: rendered staging pods + chart pods + EKS system pods against one node's max pods."""

from __future__ import annotations

import shutil
from pathlib import Path

from fleet.validate.base import Context
from fleet.validate.budget import PodBudgetCheck, canary_extra, node_instance_type

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
