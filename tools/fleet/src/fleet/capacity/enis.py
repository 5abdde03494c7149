"""Max pods per node under the VPC CNI: the ENI formula over a data table of instance types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fleet.datafiles import load_model, packaged

PREFIX_SIZE = 16  # a /28 IPv4 prefix per secondary address slot
CAP_SMALL, CAP_LARGE, CAP_VCPU_THRESHOLD = 110, 250, 30  # AWS's prefix-delegation caps


class InstanceType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    vcpus: Annotated[int, Field(gt=0)]
    enis: Annotated[int, Field(gt=0)]
    ipv4_per_eni: Annotated[int, Field(gt=1)]
    memory_mib: Annotated[int, Field(gt=0)] | None = None  # for the requests budget (fleet/capacity/allocatable.py)


class InstanceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    instance_types: dict[str, InstanceType]


def load_instance_types(path: Path | None = None) -> InstanceTable:
    return load_model(path or packaged("instance-types.yaml"), InstanceTable)


@dataclass(frozen=True)
class MaxPods:
    instance_type: str
    spec: InstanceType
    prefix_delegation: bool
    uncapped: int
    max_pods: int

    @property
    def formula(self) -> str:
        s = self.spec
        if not self.prefix_delegation:
            return f"{s.enis} ENIs x ({s.ipv4_per_eni} - 1) + 2 = {self.max_pods}"
        cap = CAP_LARGE if s.vcpus > CAP_VCPU_THRESHOLD else CAP_SMALL
        return (
            f"min({s.enis} ENIs x ({s.ipv4_per_eni} - 1) x {PREFIX_SIZE} + 2 = {self.uncapped}, "
            f"cap {cap} for {s.vcpus} vCPUs) = {self.max_pods}"
        )


def max_pods(table: InstanceTable, instance_type: str, prefix_delegation: bool = False) -> MaxPods:
    """Raises KeyError with a readable message for a type the table lacks."""
    spec = table.instance_types.get(instance_type)
    if spec is None:
        known = ", ".join(sorted(table.instance_types))
        raise KeyError(f"unknown instance type {instance_type!r}; known: {known} (add it to the table)")
    # Each ENI's primary address belongs to the ENI; aws-node and kube-proxy use the host network (+2).
    slots = spec.enis * (spec.ipv4_per_eni - 1)
    if not prefix_delegation:
        value = slots + 2
        return MaxPods(instance_type, spec, False, value, value)
    uncapped = slots * PREFIX_SIZE + 2
    cap = CAP_LARGE if spec.vcpus > CAP_VCPU_THRESHOLD else CAP_SMALL
    return MaxPods(instance_type, spec, True, uncapped, min(uncapped, cap))
