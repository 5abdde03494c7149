"""Plain records that flow from discovery to deletion to output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Deletion runs in this order: each kind can only go once the kinds before it are gone. An instance holds
# ENIs, volumes, an EIP, security groups and its launch template; a listener pins its load balancer; a load
# balancer pins its target groups, ENIs and security groups; ENIs pin security groups; a role is linked to the
# instance profile its nodes used.
DELETE_ORDER: tuple[str, ...] = (
    "instance",
    "launch-template",
    "listener",
    "load-balancer",
    "classic-load-balancer",
    "target-group",
    "network-interface",
    "security-group",
    "volume",
    "snapshot",
    "elastic-ip",
    "log-group",
    "oidc-provider",
    "iam-role",
)


@dataclass(frozen=True)
class Target:
    """What one run cleans: the cluster, the region, and the cluster's OIDC issuer URL when it is known
    (from `--oidc-issuer`, or from EKS while the cluster still exists)."""

    cluster: str
    region: str
    oidc_issuer: str | None = None


@dataclass(frozen=True)
class Orphan:
    """A resource left behind by the cluster. `id` is what the delete call takes (an ARN for ELBv2)."""

    kind: str
    id: str
    name: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A resource whose tags name the cluster but which is deliberately left alone, and why."""

    kind: str
    id: str
    name: str
    why: str


@dataclass(frozen=True)
class Outcome:
    """What `--apply` did to one orphan: "deleted", "already gone" or "blocked" (with `detail`)."""

    kind: str
    id: str
    result: str
    detail: str = ""


@dataclass
class Report:
    cluster: str
    region: str
    applied: bool
    # The account the credentials belong to (sts:GetCallerIdentity), and the one --account-id asked for.
    account: str | None = None
    expected_account: str | None = None
    orphans: list[Orphan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    # EKS's answer to DescribeCluster: None once the cluster is gone, which is the only state --apply acts in.
    cluster_status: str | None = None
    # Why nothing was deleted (the cluster still exists, or the credentials are for another account); None
    # when the run was allowed to go on.
    refused: str | None = None
    # What the re-scan after --apply still found as orphans: anything here means the cleanup did not finish.
    remaining: list[Orphan] = field(default_factory=list)

    @property
    def account_mismatch(self) -> bool:
        return bool(self.expected_account and self.account and self.expected_account != self.account)

    @property
    def cluster_exists(self) -> bool:
        return self.cluster_status is not None

    @property
    def blocked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "blocked"]

    def to_json(self, exit_code: int) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "region": self.region,
            "account": self.account,
            "expected_account": self.expected_account,
            "mode": "apply" if self.applied else "dry-run",
            "orphans": [asdict(o) for o in self.orphans],
            "skipped": [asdict(s) for s in self.skipped],
            "outcomes": [asdict(o) for o in self.outcomes],
            "error": self.error,
            "cluster_status": self.cluster_status,
            "apply_allowed": self.error is None and self.refused is None and not self.cluster_exists,
            "refused": self.refused,
            "remaining": [asdict(o) for o in self.remaining],
            "exit_code": exit_code,
        }
