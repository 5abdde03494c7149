"""The tag rules: exact matches only, `shared` only on load balancers, never a resource of two clusters."""

from __future__ import annotations

import pytest
from fleet.cleanup.tags import TAG_RULES, classify, clusters_named


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"kubernetes.io/cluster/staging": "owned"}, "kubernetes.io/cluster/staging=owned"),
        ({"elbv2.k8s.aws/cluster": "staging"}, "elbv2.k8s.aws/cluster=staging"),
        ({"eks:cluster-name": "staging"}, "eks:cluster-name=staging"),
        ({"aws:eks:cluster-name": "staging"}, "aws:eks:cluster-name=staging"),
        ({"KubernetesCluster": "staging"}, "KubernetesCluster=staging"),
        ({"cluster.k8s.amazonaws.com/name": "staging"}, "cluster.k8s.amazonaws.com/name=staging"),
    ],
)
def test_each_rule_matches_its_own_tag(tags: dict[str, str], reason: str) -> None:
    verdict = classify(tags, "staging", "volume")
    assert verdict.ours
    assert verdict.reason == reason


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {"Name": "staging"},
        {"kubernetes.io/cluster/staging-2": "owned"},
        {"kubernetes.io/cluster/stagin": "owned"},
        {"elbv2.k8s.aws/cluster": "staging-2"},
        {"elbv2.k8s.aws/cluster": "Staging"},
        {"eks:cluster-name": "prod"},
        {"KubernetesCluster": ""},
        {"kubernetes.io/created-for/pvc/name": "data-0"},  # informational only: names no cluster
        {"ebs.csi.aws.com/cluster": "true"},
    ],
)
def test_lookalikes_are_not_even_mentioned(tags: dict[str, str]) -> None:
    verdict = classify(tags, "staging", "volume")
    assert not verdict.ours
    assert not verdict.mentions_cluster


def test_shared_is_ownership_only_for_load_balancers() -> None:
    tags = {"kubernetes.io/cluster/staging": "shared"}
    assert classify(tags, "staging", "load-balancer").ours
    assert classify(tags, "staging", "target-group").ours
    refused = classify(tags, "staging", "security-group")
    assert not refused.ours
    assert refused.refusal is not None
    assert "not an ownership tag for a security-group" in refused.refusal


def test_unknown_lifecycle_value_is_refused() -> None:
    verdict = classify({"kubernetes.io/cluster/staging": "maybe"}, "staging", "volume")
    assert verdict.mentions_cluster
    assert not verdict.ours


def test_a_resource_of_two_clusters_is_refused() -> None:
    tags = {"kubernetes.io/cluster/staging": "owned", "elbv2.k8s.aws/cluster": "prod"}
    verdict = classify(tags, "staging", "load-balancer")
    assert not verdict.ours
    assert verdict.refusal == "also tagged for cluster(s) prod"


def test_pvc_tags_explain_a_volume() -> None:
    tags = {
        "KubernetesCluster": "staging",
        "kubernetes.io/created-for/pvc/name": "data-postgres-0",
        "kubernetes.io/created-for/pvc/namespace": "db",
    }
    assert classify(tags, "staging", "volume").reason == "KubernetesCluster=staging (PVC db/data-postgres-0)"


def test_clusters_named_reads_keys_and_values() -> None:
    tags = {"kubernetes.io/cluster/a": "owned", "eks:cluster-name": "b", "team": "c"}
    assert clusters_named(tags) == {"a", "b"}


def test_every_rule_names_its_source() -> None:
    assert all(rule.set_by for rule in TAG_RULES)


def test_docs_list_every_tag_rule() -> None:
    """docs/fleet.md's tag table is the code's table: a new rule without a doc row fails here."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "fleet.md").read_text()
    section = docs.split("<!-- section: cleanup -->")[1].split("<!-- section:")[0]
    for rule in TAG_RULES:
        key = rule.key.replace("{cluster}", "NAME")
        values = ", ".join(sorted(v.replace("{cluster}", "NAME") for v in rule.values))
        assert f"| `{key}` | `{values}` |" in section, rule


def test_an_instance_needs_a_karpenter_tag_besides_the_cluster_tag() -> None:
    owned = {"kubernetes.io/cluster/staging": "owned"}
    assert classify({**owned, "karpenter.sh/nodepool": "default"}, "staging", "instance").ours
    assert classify(
        {"karpenter.sh/discovery": "staging", "karpenter.k8s.aws/ec2nodeclass": "x"}, "staging", "instance"
    ).ours
    node_group = classify(owned, "staging", "instance")
    assert not node_group.ours
    assert node_group.refusal is not None
    assert "no Karpenter tag" in node_group.refusal
    # Karpenter's discovery tag names the cluster on a security group, but does not make it the cluster's.
    assert not classify({"karpenter.sh/discovery": "staging"}, "staging", "security-group").ours
    assert not classify(
        {"karpenter.sh/discovery": "staging-2", "karpenter.sh/nodepool": "a"}, "staging", "instance"
    ).mentions_cluster
