"""Plain records that flow from discovery to deletion to output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Deletion runs in this order: each kind can only go once the kinds before it are gone (a listener pins its
# load balancer; a load balancer pins its target groups, ENIs and security groups; ENIs pin security groups).
DELETE_ORDER: tuple[str, ...] = (
    "listener",
    "load-balancer",
    "target-group",
    "network-interface",
    "security-group",
    "volume",
    "elastic-ip",
)


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
    orphans: list[Orphan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None

    @property
    def blocked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "blocked"]

    def to_json(self, exit_code: int) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "region": self.region,
            "mode": "apply" if self.applied else "dry-run",
            "orphans": [asdict(o) for o in self.orphans],
            "skipped": [asdict(s) for s in self.skipped],
            "outcomes": [asdict(o) for o in self.outcomes],
            "error": self.error,
            "exit_code": exit_code,
        }
