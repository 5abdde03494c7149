"""The price list behind `fleet cost`: a pydantic model of data/pricing-*.yaml.

The models forbid unknown keys, so a misspelt field (`per_hours`) fails loudly instead of pricing at 0. Every price
section carries `source` and `checked` (provenance.py), so an estimate can say where each figure comes from and how
old it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.cost.provenance import PriceSource
from fleet.datafiles import DataFileError, load_model, packaged

DEFAULT_PRICING = "pricing-eu-west-2.yaml"
ORIGINAL_DOCS_PRICING = "pricing-original-docs.yaml"

Usd = Annotated[float, Field(ge=0)]
Capacity = Literal["spot", "on-demand"]
LoadBalancer = Literal["none", "alb", "nlb"]
TaxScope = Literal["eks-only", "all", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EksPrices(PriceSource):
    standard_per_hour: Usd
    extended_per_hour: Usd


class NatPrices(PriceSource):
    per_hour: Usd
    per_gb: Usd


class LoadBalancerPrices(PriceSource):
    per_hour: Usd
    # Expected LCU/NLCU spend per hour; depends on traffic, so it is an assumption, not a list price.
    capacity_units_per_hour: Usd
    public_ipv4_addresses: Annotated[int, Field(ge=0)]


class LoadBalancers(_Strict):
    alb: LoadBalancerPrices
    nlb: LoadBalancerPrices


class PublicIpv4Prices(PriceSource):
    per_hour: Usd


class EbsPrices(PriceSource):
    gb_month: Usd


class InstancePrices(_Strict):
    on_demand: Usd
    spot: Usd | None = None


class Ec2Sources(_Strict):
    """On-demand list prices and spot prices come from different places and age differently."""

    on_demand: PriceSource
    spot: PriceSource


class FixedItem(PriceSource):
    name: Annotated[str, Field(min_length=1)]
    monthly: Usd


class Tax(_Strict):
    rate: Annotated[float, Field(ge=0, le=1)]
    scope: TaxScope


class Defaults(_Strict):
    hours_per_day: Annotated[float, Field(gt=0, le=24)]
    days: Annotated[int, Field(ge=0, le=31)]
    instance_type: str
    capacity: Capacity
    nodes: Annotated[int, Field(ge=0)]
    load_balancer: LoadBalancer
    nat_gateways: Annotated[int, Field(ge=0)]
    nat_data_gb: Usd
    ebs_gb_per_node: Usd
    public_ipv4: Annotated[int, Field(ge=0)] | None = None


class Pricing(_Strict):
    region: str
    currency: str
    hours_per_month: Annotated[float, Field(gt=0)]
    eks: EksPrices
    nat_gateway: NatPrices
    load_balancers: LoadBalancers
    public_ipv4: PublicIpv4Prices
    ebs: EbsPrices
    ec2_sources: Ec2Sources
    ec2: dict[str, InstancePrices]
    fixed_monthly: list[FixedItem] = Field(default_factory=list)
    tax: Tax
    defaults: Defaults

    @model_validator(mode="after")
    def _default_instance_is_priced(self) -> Pricing:
        if self.defaults.instance_type not in self.ec2:
            raise ValueError(f"defaults.instance_type {self.defaults.instance_type!r} has no entry under ec2")
        return self

    @property
    def public_ipv4_per_hour(self) -> float:
        return self.public_ipv4.per_hour

    @property
    def ebs_gb_month(self) -> float:
        return self.ebs.gb_month

    def instance_source(self, capacity: Capacity) -> PriceSource:
        """Where the EC2 price for `capacity` comes from."""
        return self.ec2_sources.on_demand if capacity == "on-demand" else self.ec2_sources.spot

    def instance_rate(self, instance_type: str, capacity: Capacity) -> float:
        """Hourly price of one node; KeyError-free: raises ValueError with the known types listed."""
        prices = self.ec2.get(instance_type)
        if prices is None:
            known = ", ".join(sorted(self.ec2))
            raise ValueError(f"no price for instance type {instance_type!r}; the pricing file has: {known}")
        if capacity == "on-demand":
            return prices.on_demand
        if prices.spot is None:
            raise ValueError(
                f"no spot price for {instance_type!r}; add ec2.{instance_type}.spot or use --capacity on-demand"
            )
        return prices.spot


def load_pricing(path: Path | None = None) -> Pricing:
    """Load `path`, or the packaged eu-west-2 price list when no path is given."""
    return load_model(path or packaged(DEFAULT_PRICING), Pricing)


def pricing_label(path: Path | None) -> str:
    """How output names the price list: the path given, or `packaged:NAME` for a file fleet ships."""
    if path is None:
        return f"packaged:{DEFAULT_PRICING}"
    return f"packaged:{path.name}" if path.resolve() == packaged(path.name).resolve() else str(path)


def resolve_pricing(name: str, relative_to: Path | None = None) -> Path:
    """A pricing file named in a data file or a flag: a path (relative to `relative_to`'s folder when given), else
    a packaged file (`pricing-original-docs.yaml`). Raises DataFileError when neither exists."""
    given = Path(name).expanduser()
    candidates = [given] if given.is_absolute() else []
    if not given.is_absolute():
        candidates += [(relative_to.parent / given) if relative_to else given, packaged(name)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataFileError(f"pricing file {name!r} not found (looked at {', '.join(str(c) for c in candidates)})")
