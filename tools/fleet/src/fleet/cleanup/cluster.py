"""Is the EKS cluster still there? Cleanup deletes only after AWS says the cluster is gone.

A live cluster's load balancers, security groups and ENIs carry the very tags cleanup matches on, so deleting
them while the cluster exists takes down its ingress. There is no override: delete the cluster first.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.cleanup.aws import Aws, AwsError

# What EKS answers for a cluster name it does not know: the only answer that lets --apply proceed.
GONE_CODE = "ResourceNotFoundException"


@dataclass(frozen=True)
class ClusterState:
    """EKS's answer: `status` None once the cluster is gone; `oidc_issuer` while it exists and has one."""

    status: str | None
    oidc_issuer: str | None = None


def cluster_state(aws: Aws, cluster: str) -> ClusterState:
    """Ask eks:DescribeCluster. Any error but "not found" (no permission, throttling after the retries)
    raises AwsError: "could not ask" must never be read as "the cluster is gone"."""
    try:
        answer = aws.call(aws.eks, "describe_cluster", name=cluster)
    except AwsError as exc:
        if exc.code == GONE_CODE:
            return ClusterState(status=None)
        raise
    found = answer.get("cluster", {})
    issuer = (found.get("identity") or {}).get("oidc", {}).get("issuer")
    # A cluster that exists but reports no status is still a cluster: refuse rather than guess.
    return ClusterState(status=str(found.get("status") or "UNKNOWN"), oidc_issuer=issuer or None)


def cluster_status(aws: Aws, cluster: str) -> str | None:
    """The cluster's status (CREATING, ACTIVE, UPDATING, DELETING, FAILED, PENDING), or None once it is gone."""
    return cluster_state(aws, cluster).status
