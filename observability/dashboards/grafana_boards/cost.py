"""The platform's cost: nodes and fixed services per hour, requested CPU and memory by namespace, and what the
LoadHarness pods and their traffic cost.

Every price comes from fleet's price list (tools/fleet/src/fleet/data/pricing-eu-west-2.yaml, read through
fleet.cost.pricing, the one place prices live) for the platform shape its `defaults` describe; a node's price is
split into a vCPU-hour and a GiB-hour with fleet cost allocate's rule (OpenCost's ratio). The constants are written
into the queries when the dashboards are generated, and each panel's description names them and their source:
regenerate after a price changes. All figures exclude VAT.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.capacity.enis import load_instance_types
from fleet.cost.allocate import DEFAULT_CPU_RAM_RATIO, split_node_price
from fleet.cost.pricing import Pricing, load_pricing
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models

from grafana_boards.common import (
    APP,
    APP_PODS,
    RATE,
    TRAFFIC,
    Item,
    add,
    app_variable,
    finish,
    graph,
    namespace_variable,
    new_dashboard,
    single,
    target,
)

UID = "load-harness-cost"
PRICE_FILE = "tools/fleet/src/fleet/data/pricing-eu-west-2.yaml"
# Memory of the instance types the default shape may name (AWS's EC2 instance type pages): neither the price list
# nor fleet's instance-type table (vCPUs and ENIs only) carries memory sizes.
RAM_GIB = {"t3.small": 2.0, "t3.medium": 4.0, "t3.large": 8.0, "t3a.large": 8.0, "t4g.large": 8.0}
GIB = "2^30"
# A subquery step for counting pods over the range: pod-hours to the nearest 30 s.
POD_STEP_S = 30


@dataclass(frozen=True)
class Prices:
    """USD per hour, excluding VAT, for the price list's default shape; `sources` says where each comes from."""

    instance_type: str
    capacity: str
    node: float  # one node, with its root volume
    fixed: float  # what runs whatever the node count: EKS, NAT gateway, load balancer, public IPv4 addresses
    cpu_core: float  # one requested vCPU-hour
    ram_gib: float  # one requested GiB-hour
    running_hours: float  # the default running month (hours_per_day × days)
    sources: str


def prices(pricing: Pricing | None = None) -> Prices:
    pricing = pricing or load_pricing()
    shape = pricing.defaults
    if shape.instance_type not in RAM_GIB:
        raise ValueError(f"no memory size for {shape.instance_type!r}: add it to RAM_GIB ({__file__})")
    instance = pricing.instance_rate(shape.instance_type, shape.capacity)
    vcpus = load_instance_types().instance_types[shape.instance_type].vcpus
    cpu_core, ram_gib = split_node_price(instance, vcpus, RAM_GIB[shape.instance_type], DEFAULT_CPU_RAM_RATIO)
    volume = shape.ebs_gb_per_node * pricing.ebs_gb_month / pricing.hours_per_month
    balancer = 0.0
    addresses = shape.nat_gateways
    if shape.load_balancer != "none":
        lb = getattr(pricing.load_balancers, shape.load_balancer)
        balancer = lb.per_hour + lb.capacity_units_per_hour
        addresses += lb.public_ipv4_addresses
    if shape.public_ipv4 is not None:
        addresses = shape.public_ipv4
    fixed = (
        pricing.eks.standard_per_hour
        + shape.nat_gateways * pricing.nat_gateway.per_hour
        + balancer
        + addresses * pricing.public_ipv4_per_hour
    )
    sources = (
        f"Prices from {PRICE_FILE} (defaults: {shape.instance_type} {shape.capacity}, {shape.load_balancer}, "
        f"{shape.nat_gateways} NAT gateway): node ${instance:g}/h (ec2.{shape.instance_type}.{shape.capacity}) + "
        f"{shape.ebs_gb_per_node:g} GB gp3 (ebs.gb_month ${pricing.ebs_gb_month:g} / {pricing.hours_per_month:g} h); "
        f"fixed ${fixed:.4f}/h = EKS ${pricing.eks.standard_per_hour:g} (eks.standard_per_hour) + NAT "
        f"${pricing.nat_gateway.per_hour:g} (nat_gateway.per_hour) + {shape.load_balancer.upper()} "
        f"${balancer:g} (load_balancers.{shape.load_balancer}: per_hour + capacity_units_per_hour) + {addresses} "
        f"public IPv4 × ${pricing.public_ipv4_per_hour:g} (public_ipv4.per_hour). A vCPU-hour ${cpu_core:.5f} and "
        f"a GiB-hour ${ram_gib:.5f}: the node price split {vcpus} vCPU / {RAM_GIB[shape.instance_type]:g} GiB with "
        f"OpenCost's CPU:RAM ratio {DEFAULT_CPU_RAM_RATIO:.4f} (fleet.cost.allocate.split_node_price). Excluding VAT."
    )
    return Prices(
        shape.instance_type,
        shape.capacity,
        node=instance + volume,
        fixed=fixed,
        cpu_core=cpu_core,
        ram_gib=ram_gib,
        running_hours=shape.hours_per_day * shape.days,
        sources=sources,
    )


def _requested(p: Prices, selector: str, by: str = "", pods: str = "") -> str:
    """Requested CPU and memory priced per hour; `pods` joins each container's request to a pod filter."""
    join = f" * {pods}" if pods else ""
    group = f" by ({by})" if by else ""

    def resource(name: str) -> str:
        return f'sum{group} (kube_pod_container_resource_requests{{{selector}resource="{name}"}}{join})'

    return f"{resource('cpu')} * {p.cpu_core:.6f} + {resource('memory')} / {GIB} * {p.ram_gib:.6f}"


def _platform(p: Prices) -> str:
    return f"count(kube_node_info) * {p.node:.6f} + {p.fixed:.6f}"


def _platform_items(p: Prices) -> list[Item]:
    return [
        dashboard.Row("Platform"),
        single(
            "Platform cost now",
            f"Nodes (kube_node_info) × the node price, plus the fixed services. {p.sources}",
            "currencyUSD",
            target(_platform(p)),
        ),
        single(
            "Month at this rate",
            f"The cost now × {p.running_hours:g} h: the price list's default running month (defaults.hours_per_day "
            f"× defaults.days; the cluster is destroyed outside them). {p.sources}",
            "currencyUSD",
            target(f"({_platform(p)}) * {p.running_hours:g}"),
        ),
        graph(
            "Platform cost per hour",
            f"The cost per hour over time: it steps when nodes come and go. {p.sources}",
            "currencyUSD",
            target(_platform(p), "platform $/h"),
        ),
        graph(
            "Requested CPU and memory by namespace",
            "What each namespace's requests cost per hour: kube_pod_container_resource_requests priced per "
            f"vCPU-hour and GiB-hour. {p.sources}",
            "currencyUSD",
            target(_requested(p, "", by="namespace"), "{{namespace}}"),
        ),
    ]


def _load_harness_items(p: Prices) -> list[Item]:
    pods_cost = _requested(p, 'namespace=~"$namespace", ', pods=APP_PODS)
    return [
        dashboard.Row("LoadHarness"),
        single(
            "LoadHarness pods per hour",
            f"The LoadHarness pods' CPU and memory requests, priced. {p.sources}",
            "currencyUSD",
            target(pods_cost),
        ),
        single(
            "Cost per 1,000 requests",
            "The pods' cost per hour / the requests they answered in that hour, × 1,000 (probes and scrapes left "
            f"out). High when the pods idle: requested capacity costs whether or not it serves. {p.sources}",
            "currencyUSD",
            target(f"1000 * ({pods_cost}) / (3600 * sum(rate(flask_http_request_total{{{TRAFFIC}}}[{RATE}])))"),
        ),
        single(
            "CPU-seconds used in the range",
            "CPU time the pods used over the dashboard's range, from each pod's own cgroup "
            "(load_harness_container_cpu_seconds_total).",
            "s",
            target(f"sum(increase(load_harness_container_cpu_seconds_total{{{APP}}}[$__range]))"),
        ),
        single(
            "Pod-hours in the range",
            f"Pods up, counted every {POD_STEP_S} s over the dashboard's range, in hours.",
            "h",
            target(f"sum_over_time(count(up{{{APP}}} == 1)[$__range:{POD_STEP_S}s]) * {POD_STEP_S} / 3600"),
        ),
        graph(
            "CPU used, priced",
            "The CPU the pods used (their own cgroups), priced per vCPU-hour, beside what their CPU requests cost: "
            f"the gap is capacity paid for and left idle. {p.sources}",
            "currencyUSD",
            target(
                f"sum(rate(load_harness_container_cpu_seconds_total{{{APP}}}[{RATE}])) * {p.cpu_core:.6f}",
                "CPU used $/h",
            ),
            target(
                f'sum(kube_pod_container_resource_requests{{namespace=~"$namespace", resource="cpu"}} * {APP_PODS}) '
                f"* {p.cpu_core:.6f}",
                "CPU requested $/h",
            ),
        ),
    ]


def build() -> models.Dashboard:
    p = prices()
    board = (
        new_dashboard(
            UID,
            "Platform cost",
            f"What the platform costs per hour, by namespace, and per LoadHarness request ({p.instance_type} "
            f"{p.capacity} prices from fleet's price list, excluding VAT).",
            ["cost"],
        )
        .with_variable(namespace_variable())
        .with_variable(app_variable())
    )
    return finish(add(board, [*_platform_items(p), *_load_harness_items(p)]))
