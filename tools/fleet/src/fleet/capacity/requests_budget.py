"""The requests half of the budget: steady-state and peak CPU and memory requests against one node's allocatable.

Shared by `fleet capacity budget` and `fleet validate`'s pod-budget check, so the two give the same figures.
Steady state must fit one node: staging runs on one (the roadmap's cost decision) and Karpenter adds nodes only
under load. Peak (every HPA at maxReplicas) may exceed it: Karpenter then adds ceil(peak / allocatable) - 1 nodes,
which is a cost to know about, not a fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fleet.capacity.allocatable import Allocatable
from fleet.capacity.budget import Scan
from fleet.capacity.requests import Requests, total

TOP = 5  # requesters named in a finding


@dataclass(frozen=True)
class Requester:
    """One line of the requests table: a workload, a system entry or a Canary's extra Deployment."""

    what: str
    steady_pods: int
    peak_pods: int
    steady: Requests
    peak: Requests


@dataclass
class RequestsBudget:
    node: Allocatable
    requesters: list[Requester] = field(default_factory=list)

    @property
    def steady(self) -> Requests:
        return total([r.steady for r in self.requesters])

    @property
    def peak(self) -> Requests:
        return total([r.peak for r in self.requesters])

    def share(self, value: Requests) -> float:
        """The larger of CPU and memory as a fraction of allocatable: 1.0 fills the node."""
        room = self.node.requests
        return max(value.cpu_m / max(room.cpu_m, 1), value.memory_bytes / max(room.memory_bytes, 1))

    @property
    def steady_fits(self) -> bool:
        return self.share(self.steady) <= 1.0

    @property
    def peak_nodes(self) -> int:
        """Nodes the peak needs: ceil of the larger of its CPU and memory shares (at least 1)."""
        return max(1, math.ceil(self.share(self.peak)))

    def largest(self, peak: bool = False) -> list[Requester]:
        return sorted(self.requesters, key=lambda r: -self.share(r.peak if peak else r.steady))[:TOP]

    def used(self, value: Requests) -> str:
        room = self.node.requests
        cpu, memory = value.cpu_m / max(room.cpu_m, 1), value.memory_bytes / max(room.memory_bytes, 1)
        return (
            f"CPU {value.cpu_m}m/{room.cpu_m}m ({cpu:.0%}), "
            f"memory {value.memory_mib:.0f}/{room.memory_mib:.0f} MiB ({memory:.0%})"
        )

    def findings(self, where: str) -> tuple[list[str], list[str]]:
        """An error when steady state does not fit one node; a warning when only the peak does not."""
        if not self.steady_fits:
            top = ", ".join(f"{r.what} {r.steady}" for r in self.largest())
            return [
                f"{where}: steady-state requests {self.used(self.steady)} exceed one {self.node.instance_type}'s "
                f"allocatable; largest: {top}"
            ], []
        if self.peak_nodes > 1:
            top = ", ".join(f"{r.what} {r.peak}" for r in self.largest(peak=True))
            extra = self.peak_nodes - 1
            return [], [
                f"{where}: peak requests (HPAs at maxReplicas) {self.used(self.peak)} exceed one "
                f"{self.node.instance_type}: Karpenter would add {extra} node(s) of that size at peak; largest: {top}"
            ]
        return [], []


def requesters(scan: Scan, canaries: list[tuple[str, int, Requests]] | None = None) -> list[Requester]:
    """Every counted workload and system row, and each Canary's extra Deployment (at peak only)."""
    rows = [
        Requester(
            what=f"{w.kind} {w.namespace}/{w.name}",
            steady_pods=w.steady_pods,
            peak_pods=w.pods,
            steady=w.requests,
            peak=w.peak_requests,
        )
        for w in scan.workloads
        if w.counted
    ]
    rows += [
        Requester(
            what=f"system {row.namespace}/{row.name}",
            steady_pods=row.pods,
            peak_pods=row.pods,
            steady=row.requests or Requests(),
            peak=row.requests or Requests(),
        )
        for row in scan.system
        if row.counted
    ]
    # Flagger scales the canary Deployment to zero after each promotion: it runs only during an analysis, so it is
    # part of the peak, not of the steady state (the pod count keeps its slot: a rollout must fit).
    rows += [Requester(what, 0, pods, Requests(), value) for what, pods, value in canaries or []]
    return rows
