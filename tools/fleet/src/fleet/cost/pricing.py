"""The price list behind `fleet cost`: a pydantic model of data/pricing-*.yaml.

The models forbid unknown keys, so a misspelt field (`per_hours`) fails loudly instead of pricing at 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.datafiles import load_model, packaged

DEFAULT_PRICING = "pricing-eu-west-2.yaml"
ORIGINAL_DOCS_PRICING = "pricing-original-docs.yaml"

Usd = Annotated[float, Field(ge=0)]
Capacity = Literal["spot", "on-demand"]
LoadBalancer = Literal["none", "alb", "nlb"]
TaxScope = Literal["eks-only", "all", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EksPrices(_Strict):
    standard_per_hour: Usd
    extended_per_hour: Usd


class NatPrices(_Strict):
    per_hour: Usd
    per_gb: Usd


class LoadBalancerPrices(_Strict):
    per_hour: Usd
    # Expected LCU/NLCU spend per hour; depends on traffic, so it is an assumption, not a list price.
    capacity_units_per_hour: Usd
    public_ipv4_addresses: Annotated[int, Field(ge=0)]


class LoadBalancers(_Strict):
    alb: LoadBalancerPrices
    nlb: LoadBalancerPrices


class InstancePrices(_Strict):
    on_demand: Usd
    spot: Usd | None = None


class FixedItem(_Strict):
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
    public_ipv4_per_hour: Usd
    ebs_gb_month: Usd
    ec2: dict[str, InstancePrices]
    fixed_monthly: list[FixedItem] = Field(default_factory=list)
    tax: Tax
    defaults: Defaults

    @model_validator(mode="after")
    def _default_instance_is_priced(self) -> Pricing:
        if self.defaults.instance_type not in self.ec2:
            raise ValueError(f"defaults.instance_type {self.defaults.instance_type!r} has no entry under ec2")
        return self

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
