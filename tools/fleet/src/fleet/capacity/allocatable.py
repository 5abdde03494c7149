"""What one node leaves for pods: its capacity minus EKS's kube-reserved and the kubelet's eviction threshold.

The formulas are the EKS AMI's (AL2023 nodeadm, awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go at
81fec2e8, read 2026-12-02): `getCPUMillicoresToReserve` (6 % of the first core, 1 % of the second, 0.5 % of
cores 3-4, 0.25 % of the rest, each range truncated to whole millicores), `getMemoryMebibytesToReserve`
(11 MiB x maxPods + 255 MiB) and the default `evictionHard` `memory.available: 100Mi`. No system-reserved is set,
so allocatable = capacity - kube-reserved - eviction threshold. Capacity is the instance type's nominal memory
(data/instance-types.yaml); the kernel keeps a little of it, so the real figure is slightly lower still.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.capacity.enis import InstanceType
from fleet.capacity.requests import MIB, Requests

# (start, end) in millicores and the share reserved in hundredths of a percent, as nodeadm writes them.
CPU_RANGES: tuple[tuple[int, int | None, int], ...] = ((0, 1000, 600), (1000, 2000, 100), (2000, 4000, 50))
CPU_REST_SHARE = 25
MEMORY_PER_POD_MIB = 11
MEMORY_BASE_MIB = 255
EVICTION_MEMORY_MIB = 100


def kube_reserved_cpu_m(vcpus: int) -> int:
    total_m = vcpus * 1000
    ranges = [*CPU_RANGES, (4000, None, CPU_REST_SHARE)]
    reserved = 0
    for start, end, share in ranges:
        if total_m <= start:
            continue
        top = total_m if end is None else min(total_m, end)
        reserved += (top - start) * share // 10000
    return reserved


def kube_reserved_memory_mib(max_pods: int) -> int:
    return MEMORY_PER_POD_MIB * max_pods + MEMORY_BASE_MIB


@dataclass(frozen=True)
class Allocatable:
    instance_type: str
    capacity: Requests
    reserved_cpu_m: int
    reserved_memory_mib: int
    eviction_memory_mib: int
    max_pods: int

    @property
    def requests(self) -> Requests:
        """What pods may request in all: allocatable CPU and memory."""
        memory = self.capacity.memory_bytes - (self.reserved_memory_mib + self.eviction_memory_mib) * MIB
        return Requests(cpu_m=self.capacity.cpu_m - self.reserved_cpu_m, memory_bytes=memory)

    @property
    def formula(self) -> str:
        return (
            f"{self.capacity.cpu_m}m - {self.reserved_cpu_m}m kube-reserved CPU; "
            f"{self.capacity.memory_mib:.0f} MiB - {self.reserved_memory_mib} MiB kube-reserved "
            f"(255 + 11 x {self.max_pods} pods) - {self.eviction_memory_mib} MiB eviction"
        )


def node_allocatable(instance_type: str, spec: InstanceType, max_pods: int) -> Allocatable | None:
    """None when the table gives no memory for the type (a user's own table may lack it)."""
    if spec.memory_mib is None:
        return None
    return Allocatable(
        instance_type=instance_type,
        capacity=Requests(cpu_m=spec.vcpus * 1000, memory_bytes=spec.memory_mib * MIB),
        reserved_cpu_m=kube_reserved_cpu_m(spec.vcpus),
        reserved_memory_mib=kube_reserved_memory_mib(max_pods),
        eviction_memory_mib=EVICTION_MEMORY_MIB,
        max_pods=max_pods,
    )
