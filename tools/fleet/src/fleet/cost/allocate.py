"""Chargeback per namespace and workload (`fleet cost allocate`): the allocation model, pure functions, no HTTP.

The model follows OpenCost's allocation model:

1. A node's hourly price (from the pricing file, by instance type and capacity type) is split into a price per
   vCPU-hour and a price per GiB-hour of RAM with OpenCost's default relative prices: CPU is `cpu_ram_ratio` times
   as dear as one GiB (OpenCost's defaults $0.031611 per vCPU-hour and $0.004237 per GiB-hour give 7.46), so
       ram_price = node_price / (vcpus x ratio + ram_gib);  cpu_price = ram_price x ratio
   and vcpus x cpu_price + ram_gib x ram_price is the node price again, to the cent.
2. Each container is charged max(request, usage) for CPU and for RAM, each the average over the hours the
   container ran in the window, times those hours, at the prices of the node it ran on. A pod that ran half the
   week pays for half the week.
3. Idle = what a node cost over the hours it was observed minus what its containers were charged. It is shown
   separately and never spread. It is negative when containers together used more than the node's capacity
   (possible when one uses above its request while another requests above its use): max() counts both.
4. Shared namespaces (kube-system, flux-system, monitoring by default) serve every tenant: their cost is spread
   over the other namespaces in proportion to each one's own allocated cost (OpenCost's "weighted" share split).
   Each shared namespace shows its own cost and an equal negative `shared` amount, so totals still add up to the
   allocated cost. With no tenant cost to weigh by, nothing is spread and a warning says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fleet.cost.pricing import Capacity, Pricing

# OpenCost's default custom prices (its configs/default.json); only their ratio is used.
OPENCOST_DEFAULT_CPU_PER_CORE_HOUR = 0.031611
OPENCOST_DEFAULT_RAM_PER_GIB_HOUR = 0.004237
DEFAULT_CPU_RAM_RATIO = OPENCOST_DEFAULT_CPU_PER_CORE_HOUR / OPENCOST_DEFAULT_RAM_PER_GIB_HOUR
DEFAULT_SHARED_NAMESPACES = ("kube-system", "flux-system", "monitoring")
GIB = 2**30


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeObservation(_Model):
    """One node as Prometheus saw it over the window."""

    name: str
    instance_type: str | None  # label node.kubernetes.io/instance-type; None when kube-state-metrics hides it
    capacity_type: str | None  # raw label value: karpenter "spot"/"on-demand", EKS "SPOT"/"ON_DEMAND"
    hours: float = Field(ge=0)
    cpu_cores: float = Field(ge=0)
    ram_bytes: float = Field(ge=0)


class ContainerObservation(_Model):
    """One container of one pod: the hours it ran and its average request and usage over those hours."""

    namespace: str
    pod: str
    container: str
    node: str | None
    workload_kind: str
    workload: str
    hours: float = Field(ge=0)
    cpu_request_cores: float = Field(ge=0)
    cpu_usage_cores: float = Field(ge=0)
    ram_request_bytes: float = Field(ge=0)
    ram_usage_bytes: float = Field(ge=0)


class ClusterObservation(_Model):
    """Everything the model needs from Prometheus for one window."""

    start: datetime
    end: datetime
    step_seconds: int
    nodes: list[NodeObservation]
    containers: list[ContainerObservation]
    warnings: list[str] = Field(default_factory=list)


class PricedNode(_Model):
    name: str
    instance_type: str
    capacity: Capacity
    hours: float
    cpu_cores: float
    ram_gib: float
    hourly_usd: float
    cpu_core_hour_usd: float
    ram_gib_hour_usd: float

    @property
    def cost_usd(self) -> float:
        return self.hourly_usd * self.hours


class Charge(_Model):
    """Resource-hours charged and their cost; the unit every row of the report is made of."""

    cpu_core_hours: float = 0.0
    ram_gib_hours: float = 0.0
    cpu_usd: float = 0.0
    ram_usd: float = 0.0

    @property
    def usd(self) -> float:
        return self.cpu_usd + self.ram_usd

    def __add__(self, other: Charge) -> Charge:
        return Charge(
            cpu_core_hours=self.cpu_core_hours + other.cpu_core_hours,
            ram_gib_hours=self.ram_gib_hours + other.ram_gib_hours,
            cpu_usd=self.cpu_usd + other.cpu_usd,
            ram_usd=self.ram_usd + other.ram_usd,
        )


class WorkloadCost(_Model):
    namespace: str
    kind: str
    name: str
    pods: int
    charge: Charge
    shared_usd: float  # > 0: its part of the shared namespaces; < 0: its own cost, spread to the tenants

    @property
    def total_usd(self) -> float:
        return self.charge.usd + self.shared_usd


class NamespaceCost(_Model):
    namespace: str
    is_shared: bool
    charge: Charge
    shared_usd: float
    workloads: list[WorkloadCost]

    @property
    def total_usd(self) -> float:
        return self.charge.usd + self.shared_usd


class NodeCost(_Model):
    node: PricedNode
    allocated: Charge
    idle_cpu_usd: float
    idle_ram_usd: float

    @property
    def idle_usd(self) -> float:
        return self.idle_cpu_usd + self.idle_ram_usd


class Allocation(_Model):
    start: datetime
    end: datetime
    cpu_ram_ratio: float
    shared_namespaces: list[str]
    nodes: list[NodeCost]
    namespaces: list[NamespaceCost]
    warnings: list[str]

    @property
    def node_cost_usd(self) -> float:
        return sum(n.node.cost_usd for n in self.nodes)

    @property
    def allocated_usd(self) -> float:
        return sum(ns.charge.usd for ns in self.namespaces)

    @property
    def idle_usd(self) -> float:
        return sum(n.idle_usd for n in self.nodes)


def capacity_of(raw: str | None) -> tuple[Capacity, str | None]:
    """Normalise a capacity-type label to the pricing file's spot/on-demand, with a warning when it had to guess."""
    value = (raw or "").strip().lower().replace("_", "-")
    if value in ("spot", "on-demand"):
        return value, None  # type: ignore[return-value]  # narrowed by the membership test
    if not value:
        return "on-demand", "has no capacity-type label; priced on-demand"
    return "on-demand", f"has capacity type {raw!r}, which the pricing file has no price for; priced on-demand"


def split_node_price(hourly_usd: float, cpu_cores: float, ram_gib: float, cpu_ram_ratio: float) -> tuple[float, float]:
    """(USD per vCPU-hour, USD per GiB-hour) that add up to the node's hourly price (OpenCost's split)."""
    ram_multiple = cpu_cores * cpu_ram_ratio + ram_gib
    if ram_multiple <= 0:
        return 0.0, 0.0
    ram_price = hourly_usd / ram_multiple
    return ram_price * cpu_ram_ratio, ram_price


def price_nodes(
    nodes: Iterable[NodeObservation], pricing: Pricing, cpu_ram_ratio: float
) -> tuple[list[PricedNode], list[str]]:
    """Price every node from the pricing file. Raises ValueError naming the node when it cannot be priced: a
    chargeback that silently leaves a node out would not add up to the bill."""
    priced: list[PricedNode] = []
    warnings: list[str] = []
    for node in nodes:
        if not node.instance_type:
            raise ValueError(
                f"node {node.name} has no node.kubernetes.io/instance-type label in kube_node_labels; "
                "let kube-state-metrics export it (--metric-labels-allowlist=nodes=[node.kubernetes.io/instance-type,"
                "karpenter.sh/capacity-type,eks.amazonaws.com/capacityType])"
            )
        capacity, warning = capacity_of(node.capacity_type)
        if warning:
            warnings.append(f"node {node.name} {warning}")
        try:
            hourly = pricing.instance_rate(node.instance_type, capacity)
        except ValueError as exc:
            raise ValueError(f"node {node.name}: {exc}") from exc
        ram_gib = node.ram_bytes / GIB
        cpu_price, ram_price = split_node_price(hourly, node.cpu_cores, ram_gib, cpu_ram_ratio)
        priced.append(
            PricedNode(
                name=node.name,
                instance_type=node.instance_type,
                capacity=capacity,
                hours=node.hours,
                cpu_cores=node.cpu_cores,
                ram_gib=ram_gib,
                hourly_usd=hourly,
                cpu_core_hour_usd=cpu_price,
                ram_gib_hour_usd=ram_price,
            )
        )
    return priced, warnings


def charge_container(container: ContainerObservation, node: PricedNode) -> Charge:
    """max(request, usage) for CPU and RAM, over the hours the container ran, at its node's prices."""
    cpu_hours = max(container.cpu_request_cores, container.cpu_usage_cores) * container.hours
    ram_hours = max(container.ram_request_bytes, container.ram_usage_bytes) / GIB * container.hours
    return Charge(
        cpu_core_hours=cpu_hours,
        ram_gib_hours=ram_hours,
        cpu_usd=cpu_hours * node.cpu_core_hour_usd,
        ram_usd=ram_hours * node.ram_gib_hour_usd,
    )


def _spread(own: dict[str, float], shared: set[str]) -> tuple[dict[str, float], str | None]:
    """Each namespace's shared amount: tenants receive the shared namespaces' cost in proportion to their own."""
    pool = sum(usd for ns, usd in own.items() if ns in shared)
    tenant_total = sum(usd for ns, usd in own.items() if ns not in shared)
    if pool == 0:
        return dict.fromkeys(own, 0.0), None
    if tenant_total <= 0:
        return dict.fromkeys(own, 0.0), "no tenant namespace has any cost, so the shared namespaces' cost is not spread"
    return {ns: -usd if ns in shared else pool * usd / tenant_total for ns, usd in own.items()}, None


def allocate(
    observation: ClusterObservation,
    nodes: list[PricedNode],
    shared_namespaces: Iterable[str] = DEFAULT_SHARED_NAMESPACES,
    cpu_ram_ratio: float = DEFAULT_CPU_RAM_RATIO,
) -> Allocation:
    """Charge every container, sum by workload and namespace, spread the shared namespaces, and find idle."""
    by_name = {n.name: n for n in nodes}
    shared = set(shared_namespaces)
    warnings = list(observation.warnings)
    on_node: dict[str, Charge] = defaultdict(Charge)
    per_workload: dict[tuple[str, str, str], Charge] = defaultdict(Charge)
    pods: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for c in observation.containers:
        node = by_name.get(c.node or "")
        if node is None:
            warnings.append(
                f"{c.namespace}/{c.pod} container {c.container} ran {c.hours:g} h on node {c.node or '(unknown)'}, "
                "which kube_node_labels does not list: not priced"
            )
            continue
        charge = charge_container(c, node)
        on_node[node.name] += charge
        key = (c.namespace, c.workload_kind, c.workload)
        per_workload[key] += charge
        pods[key].add(c.pod)

    per_namespace: dict[str, Charge] = defaultdict(Charge)
    for (ns, _, _), charge in per_workload.items():
        per_namespace[ns] += charge
    share, warning = _spread({ns: ch.usd for ns, ch in per_namespace.items()}, shared)
    if warning:
        warnings.append(warning)

    namespaces = []
    for ns in sorted(per_namespace):
        ns_usd = per_namespace[ns].usd
        workloads = [
            WorkloadCost(
                namespace=ns,
                kind=kind,
                name=name,
                pods=len(pods[(ns, kind, name)]),
                charge=charge,
                # A workload carries its namespace's shared amount in proportion to its part of the namespace.
                shared_usd=share[ns] * charge.usd / ns_usd if ns_usd else 0.0,
            )
            for (w_ns, kind, name), charge in sorted(per_workload.items())
            if w_ns == ns
        ]
        namespaces.append(
            NamespaceCost(
                namespace=ns,
                is_shared=ns in shared,
                charge=per_namespace[ns],
                shared_usd=share[ns],
                workloads=workloads,
            )
        )

    node_costs = []
    for node in nodes:
        used = on_node.get(node.name, Charge())
        idle_cpu = (node.cpu_cores * node.hours - used.cpu_core_hours) * node.cpu_core_hour_usd
        idle_ram = (node.ram_gib * node.hours - used.ram_gib_hours) * node.ram_gib_hour_usd
        if idle_cpu + idle_ram < 0:
            warnings.append(
                f"node {node.name}: its containers were charged more than the node cost (max(request, usage) "
                "counts one container's use above its request and another's unused request); idle is negative"
            )
        node_costs.append(NodeCost(node=node, allocated=used, idle_cpu_usd=idle_cpu, idle_ram_usd=idle_ram))

    return Allocation(
        start=observation.start,
        end=observation.end,
        cpu_ram_ratio=cpu_ram_ratio,
        shared_namespaces=sorted(shared),
        nodes=node_costs,
        namespaces=namespaces,
        warnings=warnings,
    )
