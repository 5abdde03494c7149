"""The one place that decides whether tags tie a resource to a cluster.

Every finder asks `classify`; no finder looks at tag keys itself. The rules are data so that adding a
controller's tag is a one-line change, and so the docs can print the exact table the code uses (`TAG_RULES`).

Matching is exact on key and value: cluster "staging" never matches a key `kubernetes.io/cluster/staging-2`
or a value "staging-2", and values are compared case-sensitively, as AWS stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CLUSTER = "{cluster}"

ALL_KINDS = frozenset(
    {
        "instance",
        "launch-template",
        "load-balancer",
        "listener",
        "target-group",
        "classic-load-balancer",
        "network-interface",
        "security-group",
        "volume",
        "snapshot",
        "elastic-ip",
        "log-group",
        "oidc-provider",
        "iam-role",
    }
)
# `shared` is ownership only on the load balancers the Load Balancer Controller and service controller make.
ELB_KINDS = frozenset({"load-balancer", "listener", "target-group"})
# What a node autoscaler launches. A cluster tag alone is not enough on these: a managed node group's or
# Terraform's instance carries it too, and those have owners that remove them. Karpenter's own tags decide.
AUTOSCALER_KINDS = frozenset({"instance", "launch-template"})
KARPENTER_MARKERS = ("karpenter.sh/nodepool", "karpenter.k8s.aws/ec2nodeclass")


@dataclass(frozen=True)
class TagRule:
    """A tag that marks a resource as belonging to a cluster.

    `key` and `values` may contain `{cluster}`. `kinds` limits the rule to some resource kinds, because the
    same tag can mean "owned" on one kind and "merely used by" on another.
    """

    key: str
    values: frozenset[str]
    kinds: frozenset[str]
    set_by: str

    def accepts(self, key: str, value: str, cluster: str, kind: str) -> bool:
        if kind not in self.kinds or key != self.key.replace(CLUSTER, cluster):
            return False
        return value in {v.replace(CLUSTER, cluster) for v in self.values}


TAG_RULES: tuple[TagRule, ...] = (
    TagRule(
        "kubernetes.io/cluster/{cluster}",
        frozenset({"owned"}),
        ALL_KINDS,
        "Kubernetes cloud provider (classic ELBs too), EKS, EBS CSI driver, Load Balancer Controller, Karpenter",
    ),
    # `shared` means "used by, but outlives, the cluster" (Kubernetes convention): a Terraform-managed
    # security group or subnet carries it. Only a load balancer cannot outlive the Service that created it.
    TagRule(
        "kubernetes.io/cluster/{cluster}",
        frozenset({"shared"}),
        ELB_KINDS,
        "Kubernetes service controller on load balancers",
    ),
    TagRule("elbv2.k8s.aws/cluster", frozenset({CLUSTER}), ALL_KINDS, "AWS Load Balancer Controller"),
    TagRule("eks:cluster-name", frozenset({CLUSTER}), ALL_KINDS, "EKS managed node groups and add-ons"),
    TagRule("aws:eks:cluster-name", frozenset({CLUSTER}), ALL_KINDS, "EKS itself (cluster security group)"),
    TagRule("KubernetesCluster", frozenset({CLUSTER}), ALL_KINDS, "legacy cloud provider, EBS CSI driver"),
    TagRule("cluster.k8s.amazonaws.com/name", frozenset({CLUSTER}), ALL_KINDS, "Amazon VPC CNI (node ENIs)"),
    # Subnets and security groups carry it too (Karpenter selects them by it), but those are Terraform's: on
    # them the tag names the cluster without owning the resource, so they are listed as left alone.
    TagRule(
        "karpenter.sh/discovery",
        frozenset({CLUSTER}),
        AUTOSCALER_KINDS,
        "Karpenter (an EC2NodeClass's tags, copied to its nodes and launch templates)",
    ),
)

# Keys whose value (not the key) names a cluster, and the prefix whose suffix names one. Derived from the
# rules so the two can never disagree.
_VALUE_KEYS = frozenset(r.key for r in TAG_RULES if CLUSTER not in r.key)
_KEY_PREFIXES = frozenset(r.key.split(CLUSTER)[0] for r in TAG_RULES if r.key.endswith(CLUSTER))

# Informational tags: they never make a match (they carry no cluster identity) but explain what a volume
# was for.
PVC_NAME_KEY = "kubernetes.io/created-for/pvc/name"
PVC_NAMESPACE_KEY = "kubernetes.io/created-for/pvc/namespace"
# The EBS CSI driver's snapshot tags: `ebs.csi.aws.com/cluster=true` says "made by a CSI driver" but not by
# which cluster's, so it never matches on its own (the driver adds the cluster tags above when it is given
# --k8s-tag-cluster-id, the Helm chart's controller.k8sTagClusterId).
CSI_SNAPSHOT_NAME_KEY = "CSIVolumeSnapshotName"


@dataclass(frozen=True)
class Verdict:
    """What the tags say: `reason` when a rule matched, `refusal` when the resource must be left alone."""

    reason: str | None = None
    refusal: str | None = None

    @property
    def ours(self) -> bool:
        return self.reason is not None and self.refusal is None

    @property
    def mentions_cluster(self) -> bool:
        return self.reason is not None or self.refusal is not None


def tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS returns tags as [{"Key": k, "Value": v}]; turn that into a dict."""
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


def clusters_named(tags: Mapping[str, str]) -> set[str]:
    """Every cluster name these tags identify, whatever the value's lifecycle word."""
    names: set[str] = set()
    for key, value in tags.items():
        if key in _VALUE_KEYS and value:
            names.add(value)
        for prefix in _KEY_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                names.add(key[len(prefix) :])
    return names


def classify(tags: Mapping[str, str], cluster: str, kind: str) -> Verdict:
    """Decide whether `tags` make a resource of `kind` an orphan of `cluster`.

    - no tag names the cluster: not ours (Verdict with nothing set; callers ignore it silently);
    - a rule matches and no other cluster is named: ours, with the matched tag as the reason;
    - another cluster is also named: refused, since deleting it could break that cluster;
    - the cluster is named but no rule accepts the value for this kind (`shared` on a security group):
      refused.
    """
    named = clusters_named(tags)
    if cluster not in named:
        return Verdict()
    others = sorted(named - {cluster})
    accepted = (f"{k}={v}" for k, v in sorted(tags.items()) if _accepted(k, v, cluster, kind))
    matched = next(accepted, None)
    if others:
        return Verdict(reason=matched, refusal=f"also tagged for cluster(s) {', '.join(others)}")
    if matched is None:
        seen = ", ".join(f"{k}={v}" for k, v in sorted(tags.items()) if cluster in clusters_named({k: v}))
        return Verdict(refusal=f"{seen} is not an ownership tag for a {kind}")
    if kind in AUTOSCALER_KINDS and not any(marker in tags for marker in KARPENTER_MARKERS):
        return Verdict(
            reason=matched,
            refusal=f"no Karpenter tag ({' or '.join(KARPENTER_MARKERS)}): not left by the node autoscaler,"
            " so a node group or Terraform owns it",
        )
    return Verdict(reason=matched + _pvc_note(tags) + _snapshot_note(tags))


def _accepted(key: str, value: str, cluster: str, kind: str) -> bool:
    return any(rule.accepts(key, value, cluster, kind) for rule in TAG_RULES)


def _pvc_note(tags: Mapping[str, str]) -> str:
    name = tags.get(PVC_NAME_KEY)
    if not name:
        return ""
    namespace = tags.get(PVC_NAMESPACE_KEY, "?")
    return f" (PVC {namespace}/{name})"


def _snapshot_note(tags: Mapping[str, str]) -> str:
    name = tags.get(CSI_SNAPSHOT_NAME_KEY)
    return f" (CSI snapshot {name})" if name else ""
