"""The cost model: pure functions from a price list and a usage pattern to line items.

The platform is destroyed when idle and rebuilt on demand, so almost everything is billed per running hour:
control plane, NAT gateway, nodes, load balancer, public IPv4 addresses, and the EBS volumes that die with the
cluster. Two things do not scale with running hours: NAT data (driven by traffic, entered per month) and the
always-on fixed items (state bucket and the like).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fleet.cost.pricing import Capacity, LoadBalancer, Pricing, TaxScope
from fleet.cost.provenance import PriceSource


@dataclass(frozen=True)
class Usage:
    """How the cluster is used in one month. Build one with `usage_from_defaults` and override fields."""

    hours: float
    instance_type: str
    capacity: Capacity
    nodes: int
    load_balancer: LoadBalancer
    nat_gateways: int
    nat_data_gb: float
    ebs_gb_per_node: float  # each node's root volume: created and deleted with the node
    public_ipv4: int | None  # None: one per NAT gateway plus the load balancer's per-AZ addresses
    extended_support: bool
    tax_rate: float
    tax_scope: TaxScope
    extras: tuple[tuple[str, float], ...] = ()  # other monthly items the model does not know (name, USD)


@dataclass(frozen=True)
class LineItem:
    component: str
    detail: str
    hourly: float  # USD per running hour; 0 for items that do not scale with running hours
    monthly: float  # USD for the month
    eks: bool = False  # the EKS control plane: the only thing the original taxed
    price_source: PriceSource | None = None  # where its price comes from; None for tax and --extra figures


@dataclass(frozen=True)
class Estimate:
    usage: Usage
    items: list[LineItem] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(item.monthly for item in self.items)

    @property
    def running_rate(self) -> float:
        """USD per hour while the cluster runs (hourly items and the tax on them)."""
        return sum(item.hourly for item in self.items)

    @property
    def effective_rate(self) -> float:
        """Month total / running hours: the original's "$0.172/h" figure (includes fixed items)."""
        return self.total / self.usage.hours if self.usage.hours else 0.0


def usage_from_defaults(pricing: Pricing, **overrides: object) -> Usage:
    """A Usage built from the pricing file's `defaults`, with any field overridden by keyword."""
    d = pricing.defaults
    base = Usage(
        hours=d.hours_per_day * d.days,
        instance_type=d.instance_type,
        capacity=d.capacity,
        nodes=d.nodes,
        load_balancer=d.load_balancer,
        nat_gateways=d.nat_gateways,
        nat_data_gb=d.nat_data_gb,
        ebs_gb_per_node=d.ebs_gb_per_node,
        public_ipv4=d.public_ipv4,
        extended_support=False,
        tax_rate=pricing.tax.rate,
        tax_scope=pricing.tax.scope,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def _usd(price: float) -> str:
    """$0.10 rather than $0.1; keep every significant digit of sub-cent prices ($0.0062)."""
    return f"${price:.2f}" if round(price, 2) == price else f"${price:g}"


def public_ipv4_count(pricing: Pricing, usage: Usage) -> int:
    if usage.public_ipv4 is not None:
        return usage.public_ipv4
    lb_addresses = 0
    if usage.load_balancer != "none":
        lb_addresses = getattr(pricing.load_balancers, usage.load_balancer).public_ipv4_addresses
    return usage.nat_gateways + lb_addresses


def _hourly(component: str, detail: str, rate: float, hours: float, source: PriceSource, eks: bool = False) -> LineItem:
    return LineItem(component, detail, hourly=rate, monthly=rate * hours, eks=eks, price_source=source)


def estimate(pricing: Pricing, usage: Usage) -> Estimate:
    """Price one month of `usage`. Raises ValueError for an instance type the price list lacks."""
    h = usage.hours
    items: list[LineItem] = []
    support = "extended" if usage.extended_support else "standard"
    eks_rate = pricing.eks.extended_per_hour if usage.extended_support else pricing.eks.standard_per_hour
    eks_line = _hourly("EKS control plane", f"{support} support, {_usd(eks_rate)}/h", eks_rate, h, pricing.eks, True)
    items.append(eks_line)
    nat = pricing.nat_gateway
    if usage.nat_gateways:
        rate = nat.per_hour * usage.nat_gateways
        items.append(_hourly("NAT gateway", f"{usage.nat_gateways} x {_usd(nat.per_hour)}/h", rate, h, nat))
    if usage.nat_data_gb:
        monthly = usage.nat_data_gb * nat.per_gb
        detail = f"{usage.nat_data_gb:g} GB x {_usd(nat.per_gb)}/GB"
        items.append(LineItem("NAT data processed", detail, hourly=0.0, monthly=monthly, price_source=nat))
    if usage.nodes:
        node_rate = pricing.instance_rate(usage.instance_type, usage.capacity)
        detail = f"{usage.nodes} x {usage.instance_type} {usage.capacity}, {_usd(node_rate)}/h"
        node_source = pricing.instance_source(usage.capacity)
        items.append(_hourly("EC2 nodes", detail, node_rate * usage.nodes, h, node_source))
    if usage.load_balancer != "none":
        lb = getattr(pricing.load_balancers, usage.load_balancer)
        rate = lb.per_hour + lb.capacity_units_per_hour
        detail = f"{_usd(lb.per_hour)}/h + ~{_usd(lb.capacity_units_per_hour)}/h capacity units"
        items.append(_hourly(usage.load_balancer.upper(), detail, rate, h, lb))
    addresses = public_ipv4_count(pricing, usage)
    if addresses and pricing.public_ipv4_per_hour:
        rate = addresses * pricing.public_ipv4_per_hour
        detail = f"{addresses} x {_usd(pricing.public_ipv4_per_hour)}/h"
        items.append(_hourly("Public IPv4 addresses", detail, rate, h, pricing.public_ipv4))
    if usage.nodes and usage.ebs_gb_per_node and pricing.ebs_gb_month:
        # One root volume per node, created and deleted with it: the line scales with the node count and bills
        # for running hours only.
        gb = usage.nodes * usage.ebs_gb_per_node
        rate = gb * pricing.ebs_gb_month / pricing.hours_per_month
        detail = (
            f"{usage.nodes} x {usage.ebs_gb_per_node:g} GB x {_usd(pricing.ebs_gb_month)}/GB-month, running hours only"
        )
        items.append(_hourly("EBS volumes", detail, rate, h, pricing.ebs))
    items.extend(
        LineItem(f.name, "always on", hourly=0.0, monthly=f.monthly, price_source=f) for f in pricing.fixed_monthly
    )
    items.extend(LineItem(name, "extra (--extra)", hourly=0.0, monthly=usd) for name, usd in usage.extras)
    if usage.tax_scope != "none" and usage.tax_rate:
        taxed = [i for i in items if i.eks or usage.tax_scope == "all"]
        items.append(
            LineItem(
                "Tax",
                f"{usage.tax_rate:.0%} on {'EKS only' if usage.tax_scope == 'eks-only' else 'everything'}",
                hourly=usage.tax_rate * sum(i.hourly for i in taxed),
                monthly=usage.tax_rate * sum(i.monthly for i in taxed),
            )
        )
    return Estimate(usage=usage, items=items)


def always_on(pricing: Pricing, usage: Usage) -> Estimate:
    """The same platform running all month. NAT data stays the same: traffic follows work, not uptime.

    A month is `hours_per_month` (AWS's 730-hour average), or the pattern's own hours when it is a longer month
    (up to 744), so that running 24/7 is never cheaper than running part of the time.
    """
    return estimate(pricing, replace(usage, hours=max(pricing.hours_per_month, usage.hours)))


# --- break-even: when does destroying beat idling? ---------------------------------------------------------


@dataclass(frozen=True)
class RebuildCosts:
    """What one destroy-and-rebuild cycle costs, on top of nothing running in between."""

    rebuild_minutes: float = 25.0  # `terraform apply` + Flux reconcile until the platform is usable again
    destroy_minutes: float = 10.0  # resources keep billing while `terraform destroy` tears them down
    image_pull_gb: float = 0.0  # images pulled again through the NAT gateway on every rebuild
    per_cycle_usd: float = 0.0  # any other fixed cost per cycle (CI minutes, ...)
    engineer_rate: float = 0.0  # USD/h of someone waiting for the rebuild; 0 when it runs before anyone starts
    wait_minutes: float | None = None  # how long that person waits; defaults to the rebuild time


@dataclass(frozen=True)
class BreakEven:
    running_rate: float
    cycle_items: list[tuple[str, float]]

    @property
    def cycle_cost(self) -> float:
        return sum(usd for _, usd in self.cycle_items)

    @property
    def hours(self) -> float | None:
        """Idle hours above which destroying is cheaper than keeping the cluster up; None when running costs
        nothing, because then no idle gap is long enough (JSON has no infinity)."""
        return self.cycle_cost / self.running_rate if self.running_rate else None


def break_even(running_rate: float, costs: RebuildCosts, nat_per_gb: float = 0.0) -> BreakEven:
    """Idling T hours costs running_rate x T. Destroying costs one cycle: the destroy and rebuild windows,
    billed at the full running rate (an upper bound: nodes appear late in a rebuild), plus per-cycle costs and
    the waiting engineer. Destroying wins when T > cycle cost / running rate."""
    window_h = (costs.rebuild_minutes + costs.destroy_minutes) / 60
    wait_h = (costs.rebuild_minutes if costs.wait_minutes is None else costs.wait_minutes) / 60
    items = [
        ("billed during destroy + rebuild", running_rate * window_h),
        ("images pulled through NAT", costs.image_pull_gb * nat_per_gb),
        ("other per-cycle costs", costs.per_cycle_usd),
        ("engineer waiting", costs.engineer_rate * wait_h),
    ]
    return BreakEven(running_rate=running_rate, cycle_items=[(n, usd) for n, usd in items if usd])
