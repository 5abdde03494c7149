"""The chargeback model (fleet/cost/allocate.py) and the duration parser, on small typed inputs: no Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fleet.cost.allocate import (
    DEFAULT_CPU_RAM_RATIO,
    GIB,
    ClusterObservation,
    ContainerObservation,
    NodeObservation,
    PricedNode,
    allocate,
    capacity_of,
    charge_container,
    price_nodes,
    split_node_price,
)
from fleet.cost.pricing import load_pricing
from fleet.cost.prom_source import parse_duration

END = datetime(2026, 11, 9, tzinfo=UTC)


def node(name: str = "n1", hourly: float = 0.10, cpu: float = 2, ram_gib: float = 8, hours: float = 10) -> PricedNode:
    # A ratio of 4 makes the split easy by hand: ram = 0.10 / (2 x 4 + 8) = 0.00625, cpu = 0.025.
    cpu_price, ram_price = split_node_price(hourly, cpu, ram_gib, 4.0)
    return PricedNode(
        name=name,
        instance_type="t3.large",
        capacity="on-demand",
        hours=hours,
        cpu_cores=cpu,
        ram_gib=ram_gib,
        hourly_usd=hourly,
        cpu_core_hour_usd=cpu_price,
        ram_gib_hour_usd=ram_price,
    )


def container(
    ns: str, name: str, cpu: tuple[float, float], ram_gib: tuple[float, float], **kw: object
) -> ContainerObservation:
    """cpu and ram_gib are (request, usage)."""
    fields: dict[str, object] = {
        "namespace": ns,
        "pod": f"{name}-pod",
        "container": name,
        "node": "n1",
        "workload_kind": "Deployment",
        "workload": name,
        "hours": 10.0,
        "cpu_request_cores": cpu[0],
        "cpu_usage_cores": cpu[1],
        "ram_request_bytes": ram_gib[0] * GIB,
        "ram_usage_bytes": ram_gib[1] * GIB,
        **kw,
    }
    return ContainerObservation.model_validate(fields)


def observe(*containers: ContainerObservation) -> ClusterObservation:
    return ClusterObservation(
        start=END - timedelta(hours=10), end=END, step_seconds=300, nodes=[], containers=list(containers)
    )


def test_opencost_default_ratio_and_the_split_gives_the_node_price_back() -> None:
    assert pytest.approx(7.4607, abs=1e-4) == DEFAULT_CPU_RAM_RATIO  # 0.031611 / 0.004237
    cpu_price, ram_price = split_node_price(0.10, 2, 8, 4.0)
    assert ram_price == pytest.approx(0.10 / 16)  # 2 x 4 + 8 = 16 "GiB equivalents"
    assert cpu_price == pytest.approx(4 * 0.10 / 16)
    assert 2 * cpu_price + 8 * ram_price == pytest.approx(0.10)
    assert split_node_price(0.10, 0, 0, 4.0) == (0.0, 0.0)  # a node without capacity data cannot be split


def test_each_resource_is_charged_the_larger_of_request_and_usage_independently() -> None:
    n = node()
    # CPU: request 0.5 > use 0.2 -> 0.5; RAM: use 2 GiB > request 1 GiB -> 2. Over 10 h.
    charge = charge_container(container("t", "a", cpu=(0.5, 0.2), ram_gib=(1, 2)), n)
    assert charge.cpu_core_hours == pytest.approx(5.0)
    assert charge.ram_gib_hours == pytest.approx(20.0)
    assert charge.usd == pytest.approx(5 * 0.025 + 20 * 0.00625)
    # The other way round: CPU use 0.5 > request 0.2, RAM request 2 GiB > use 1 GiB: the same charge.
    mirrored = charge_container(container("t", "b", cpu=(0.2, 0.5), ram_gib=(2, 1)), n)
    assert (mirrored.cpu_core_hours, mirrored.ram_gib_hours) == pytest.approx((5.0, 20.0))
    # A container that ran 2.5 of the 10 hours pays a quarter.
    short = charge_container(container("t", "a", cpu=(0.5, 0.2), ram_gib=(1, 2), hours=2.5), n)
    assert short.usd == pytest.approx(charge.usd / 4)


def test_shared_namespaces_are_spread_by_weight_and_idle_is_what_is_left() -> None:
    result = allocate(
        observe(
            container("kube-system", "coredns", cpu=(0.2, 0.1), ram_gib=(0, 0)),  # 2 core-h = $0.05
            container("shop", "web", cpu=(0.6, 0.1), ram_gib=(0, 0)),  # 6 core-h = $0.15
            container("batch", "job", cpu=(0.2, 0.2), ram_gib=(0, 0)),  # 2 core-h = $0.05
        ),
        [node()],
        shared_namespaces=["kube-system"],
    )
    ns = {n.namespace: n for n in result.namespaces}
    # kube-system's $0.05 goes 3:1 to shop and batch, by their own $0.15 and $0.05.
    assert ns["shop"].shared_usd == pytest.approx(0.05 * 0.15 / 0.20)
    assert ns["batch"].shared_usd == pytest.approx(0.05 * 0.05 / 0.20)
    assert ns["kube-system"].shared_usd == pytest.approx(-0.05)
    assert ns["kube-system"].total_usd == pytest.approx(0)
    assert sum(n.total_usd for n in result.namespaces) == pytest.approx(result.allocated_usd)
    # The node cost $1.00 (10 h x $0.10); $0.25 was allocated, all of it CPU; every GiB-hour is idle.
    idle = result.nodes[0]
    assert idle.idle_usd == pytest.approx(1.00 - 0.25)
    assert idle.idle_ram_usd == pytest.approx(8 * 10 * 0.00625)
    assert result.node_cost_usd == pytest.approx(result.allocated_usd + result.idle_usd)
    assert result.warnings == []


def test_with_no_tenant_cost_nothing_is_spread_and_a_warning_says_so() -> None:
    result = allocate(observe(container("kube-system", "coredns", cpu=(0.2, 0.1), ram_gib=(0, 0))), [node()])
    assert result.namespaces[0].shared_usd == 0
    assert result.namespaces[0].total_usd == pytest.approx(0.05)
    assert any("not spread" in w for w in result.warnings)


def test_a_container_on_an_unlisted_node_is_a_warning_not_a_silent_zero() -> None:
    result = allocate(observe(container("shop", "web", cpu=(1, 1), ram_gib=(1, 1), node="gone")), [node()])
    assert result.namespaces == []
    assert any("shop/web-pod" in w and "gone" in w and "not priced" in w for w in result.warnings)


def test_negative_idle_is_reported_not_hidden() -> None:
    # Two containers on a 2-core node: one requests 1.5 and uses 0.1, the other requests 0.1 and uses 1.5:
    # max() charges 3 cores of a 2-core node.
    result = allocate(
        observe(
            container("a", "greedy-request", cpu=(1.5, 0.1), ram_gib=(0, 0)),
            container("b", "greedy-use", cpu=(0.1, 1.5), ram_gib=(0, 0)),
        ),
        [node(ram_gib=0)],
    )
    assert result.nodes[0].idle_cpu_usd < 0
    assert any("idle is negative" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("raw", "capacity", "warns"),
    [
        ("spot", "spot", False),  # karpenter.sh/capacity-type
        ("on-demand", "on-demand", False),
        ("SPOT", "spot", False),  # eks.amazonaws.com/capacityType
        ("ON_DEMAND", "on-demand", False),
        (None, "on-demand", True),
        ("reserved", "on-demand", True),
    ],
)
def test_capacity_labels_of_karpenter_and_eks_are_understood(raw: str | None, capacity: str, warns: bool) -> None:
    got, warning = capacity_of(raw)
    assert got == capacity
    assert (warning is not None) == warns


def test_pricing_a_node_uses_the_pricing_file_and_names_what_is_missing() -> None:
    pricing = load_pricing()
    observed = NodeObservation(
        name="n1", instance_type="t3.large", capacity_type="SPOT", hours=5, cpu_cores=2, ram_bytes=8 * GIB
    )
    [priced], warnings = price_nodes([observed], pricing, DEFAULT_CPU_RAM_RATIO)
    assert priced.hourly_usd == pricing.instance_rate("t3.large", "spot")
    assert priced.cost_usd == pytest.approx(5 * priced.hourly_usd)
    assert warnings == []
    with pytest.raises(ValueError, match=r"node n2: no price for instance type 'x9.huge'"):
        price_nodes([observed.model_copy(update={"name": "n2", "instance_type": "x9.huge"})], pricing, 7.0)
    with pytest.raises(ValueError, match=r"node n3 has no node.kubernetes.io/instance-type label.*allowlist"):
        price_nodes([observed.model_copy(update={"name": "n3", "instance_type": None})], pricing, 7.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("90m", 5400), ("1h30m", 5400), ("7d", 604800), ("1w", 604800), ("90d", 7776000), ("1500ms", 1.5)],
)
def test_prometheus_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7days", "1.5h", "30m1h", "1h1h", "-1h", "1 h"])
def test_what_is_not_a_prometheus_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Prometheus duration"):
        parse_duration(text)
