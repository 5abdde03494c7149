"""Options shared by the `fleet cost` commands, and how a platform shape becomes a Usage.

Every option defaults to None, meaning "take it from the pricing file's `defaults`", so a pricing file can
carry a whole platform shape (pricing-original-docs.yaml carries the original's). A shape has one model, `Shape`,
whether it comes from these flags, from a claims file (`cost audit`) or from `cost compare --a/--b KEY=VALUE`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from fleet.cost.model import Usage, usage_from_defaults
from fleet.cost.pricing import Capacity, LoadBalancer, Pricing, TaxScope


class CapacityChoice(StrEnum):
    spot = "spot"
    on_demand = "on-demand"


class LbChoice(StrEnum):
    none = "none"
    alb = "alb"
    nlb = "nlb"


class TaxScopeChoice(StrEnum):
    eks_only = "eks-only"
    all = "all"
    none = "none"


PricingOpt = Annotated[
    Path | None,
    typer.Option("--pricing", help="Pricing YAML to use instead of the packaged eu-west-2 prices.", dir_okay=False),
]
HoursPerDayOpt = Annotated[float | None, typer.Option(min=0, max=24, help="Running hours per day.")]
# --days and --hours are bounded in `build_usage`, not by typer, so that a value out of range is bad input (exit 3)
# with a message naming the flag and the bound; typer's own range errors are usage errors (exit 2).
DaysOpt = Annotated[int | None, typer.Option(help="Running days per month, 1 to 31.")]
HoursOpt = Annotated[
    float | None, typer.Option(help="Total running hours per month, 0 to 744 (31 x 24); overrides hours/day x days.")
]
InstanceOpt = Annotated[str | None, typer.Option("--instance-type", help="Node instance type, e.g. t3.large.")]
CapacityOpt = Annotated[CapacityChoice | None, typer.Option(help="Spot or on-demand nodes.")]
NodesOpt = Annotated[int | None, typer.Option(min=0, help="Number of nodes.")]
LbOpt = Annotated[LbChoice | None, typer.Option("--lb", help="Load balancer in front of the ingress.")]
NatGbOpt = Annotated[float | None, typer.Option(min=0, help="GB processed by the NAT gateway per month.")]
Ipv4Opt = Annotated[
    int | None, typer.Option(min=0, help="Public IPv4 addresses in use (default: NAT EIPs + LB addresses).")
]
EbsOpt = Annotated[
    float | None, typer.Option(min=0, help="GB of EBS gp3 root volume per node (the line scales with --nodes).")
]
ExtendedOpt = Annotated[bool, typer.Option("--extended-support", help="Price the control plane in extended support.")]
TaxRateOpt = Annotated[float | None, typer.Option(min=0, max=1, help="Tax rate, e.g. 0.2 for 20 % VAT.")]
TaxScopeOpt = Annotated[TaxScopeChoice | None, typer.Option(help="What the tax applies to.")]
ExtraOpt = Annotated[
    list[str] | None,
    typer.Option("--extra", help="Another monthly item the model lacks, NAME=USD (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DateOpt = Annotated[
    str | None,
    typer.Option("--date", help="Date of the estimate (YYYY-MM-DD), for the age of each price; default today, UTC."),
]


def parse_extras(values: list[str] | None) -> tuple[tuple[str, float], ...]:
    """`--extra "Route 53 zone=0.50"` -> (("Route 53 zone", 0.5),). Raises ValueError naming the bad value."""
    out: list[tuple[str, float]] = []
    for raw in values or []:
        name, sep, amount = raw.rpartition("=")
        try:
            usd = float(amount)
        except ValueError:
            usd = -1.0
        if not sep or not name.strip() or usd < 0:
            raise ValueError(f"--extra {raw!r}: expected NAME=USD with a non-negative amount")
        out.append((name.strip(), usd))
    return tuple(out)


MAX_DAYS_PER_MONTH = 31
MAX_HOURS_PER_MONTH = 24 * MAX_DAYS_PER_MONTH  # 744: the longest month; more hours than that cannot be run


def check_period(days: int | None, hours: float | None, flag_prefix: str = "--", sep: str = " ") -> None:
    """Refuse a month that cannot exist. Raises ValueError naming the flag (`--days 0`, or `--a days=0` with a
    prefix and sep "=") and the bound."""
    if days is not None and not 1 <= days <= MAX_DAYS_PER_MONTH:
        raise ValueError(
            f"{flag_prefix}days{sep}{days}: running days per month must be 1 to {MAX_DAYS_PER_MONTH}"
            " (for a month with the cluster destroyed throughout, use --hours 0)"
        )
    if hours is not None and not 0 <= hours <= MAX_HOURS_PER_MONTH:
        raise ValueError(
            f"{flag_prefix}hours{sep}{hours:g}: running hours per month must be 0 to {MAX_HOURS_PER_MONTH}"
            f" ({MAX_DAYS_PER_MONTH} days x 24 h, the longest month)"
        )


def _extras_from_mapping(value: object) -> object:
    """A claims file writes extras as a mapping {name: USD}; the model keeps (name, USD) pairs in order."""
    return tuple(value.items()) if isinstance(value, dict) else value


NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class Shape(BaseModel):
    """A platform shape: any subset of the usage fields. What it leaves out comes from the pricing file's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours_per_day: Annotated[float, Field(ge=0, le=24)] | None = None
    days: int | None = None  # bounded by check_period, which names the flag
    hours: float | None = None  # idem
    instance_type: str | None = None
    capacity: Capacity | None = None
    nodes: Count | None = None
    load_balancer: LoadBalancer | None = None
    nat_gateways: Count | None = None
    nat_data_gb: NonNegative | None = None
    public_ipv4: Count | None = None
    ebs_gb_per_node: NonNegative | None = None
    extended_support: bool | None = None
    tax_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    tax_scope: TaxScope | None = None
    extras: Annotated[tuple[tuple[str, NonNegative], ...] | None, BeforeValidator(_extras_from_mapping)] = None

    def over(self, base: Shape) -> Shape:
        """This shape's fields on top of `base`: a field set here wins, one left out keeps `base`'s."""
        return base.model_copy(update=self.model_dump(exclude_none=True))


# The Usage fields a shape sets directly (the month is computed from hours_per_day, days and hours).
_DIRECT_FIELDS = (
    "instance_type", "capacity", "nodes", "load_balancer", "nat_gateways", "nat_data_gb", "public_ipv4",
    "ebs_gb_per_node", "tax_rate", "tax_scope", "extras",
)  # fmt: skip


def shape_usage(pricing: Pricing, shape: Shape, flag_prefix: str = "--", sep: str = " ") -> Usage:
    """The month `shape` describes, with the pricing file's defaults for what it leaves out.
    Raises ValueError for a month that cannot exist, naming it as check_period does."""
    check_period(shape.days, shape.hours, flag_prefix, sep)
    d = pricing.defaults
    per_day = d.hours_per_day if shape.hours_per_day is None else shape.hours_per_day
    total_hours = shape.hours if shape.hours is not None else per_day * (d.days if shape.days is None else shape.days)
    overrides = {name: getattr(shape, name) for name in _DIRECT_FIELDS if getattr(shape, name) is not None}
    return usage_from_defaults(pricing, hours=total_hours, extended_support=bool(shape.extended_support), **overrides)


def flags_shape(
    *,
    hours_per_day: float | None = None,
    days: int | None = None,
    hours: float | None = None,
    instance_type: str | None = None,
    capacity: CapacityChoice | None = None,
    nodes: int | None = None,
    lb: LbChoice | None = None,
    nat_data_gb: float | None = None,
    public_ipv4: int | None = None,
    ebs_gb_per_node: float | None = None,
    extended_support: bool = False,
    tax_rate: float | None = None,
    tax_scope: TaxScopeChoice | None = None,
    extra: list[str] | None = None,
) -> Shape:
    """The shape the command-line flags describe. Raises ValueError for a bad --extra."""
    return Shape(
        hours_per_day=hours_per_day,
        days=days,
        hours=hours,
        instance_type=instance_type,
        capacity=capacity.value if capacity else None,
        nodes=nodes,
        load_balancer=lb.value if lb else None,
        nat_data_gb=nat_data_gb,
        public_ipv4=public_ipv4,
        ebs_gb_per_node=ebs_gb_per_node,
        extended_support=extended_support or None,  # an unset flag must not override a shape that says True
        tax_rate=tax_rate,
        tax_scope=tax_scope.value if tax_scope else None,
        extras=parse_extras(extra) or None,
    )


def build_usage(
    pricing: Pricing,
    *,
    hours_per_day: float | None,
    days: int | None,
    hours: float | None,
    instance_type: str | None,
    capacity: CapacityChoice | None,
    nodes: int | None,
    lb: LbChoice | None,
    nat_data_gb: float | None,
    public_ipv4: int | None,
    ebs_gb_per_node: float | None,
    extended_support: bool,
    tax_rate: float | None,
    tax_scope: TaxScopeChoice | None,
    extra: list[str] | None,
) -> Usage:
    """Merge the options over the pricing file's defaults. Raises ValueError for a value out of range."""
    shape = flags_shape(
        hours_per_day=hours_per_day,
        days=days,
        hours=hours,
        instance_type=instance_type,
        capacity=capacity,
        nodes=nodes,
        lb=lb,
        nat_data_gb=nat_data_gb,
        public_ipv4=public_ipv4,
        ebs_gb_per_node=ebs_gb_per_node,
        extended_support=extended_support,
        tax_rate=tax_rate,
        tax_scope=tax_scope,
        extra=extra,
    )
    return shape_usage(pricing, shape)
