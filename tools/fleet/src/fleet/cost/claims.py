"""The claims file behind `fleet cost audit`: figures a document states, and what they should add up to.

Each claim is one stated figure with a unit, and one or more ways to check it:

- `items`: the line items the document lists for it; their sum must equal the stated figure;
- `shape` (and optionally `minus`): the platform shape it describes, recomputed with a pricing file; with `minus`,
  the figure is the difference between two shapes (a saving: `shape` minus the alternative);
- `price`: a single price, a dotted path into the pricing file (`nat_gateway.per_hour`);
- `breakeven`: with `shape` and unit `hours`, the destroy-vs-idle break-even under the stated rebuild assumptions.

A claim also names a `pricing` file, else the audit's `--pricing`, else the file's own `pricing`, else the packaged
eu-west-2 prices. `fleet cost compare` reuses the claims' shapes as named scenarios.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fleet.cost.model import RebuildCosts
from fleet.cost.options import Shape
from fleet.datafiles import load_model, packaged

ORIGINAL_CLAIMS = "original-cost-claims.yaml"

Unit = Literal["usd_per_month", "usd_per_year", "usd_per_hour", "usd_per_running_hour", "usd_per_gb", "hours"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Minutes = Annotated[float, Field(ge=0)]

# How each unit reads in output.
UNIT_SUFFIX: dict[str, str] = {
    "usd_per_month": "/month",
    "usd_per_year": "/year",
    "usd_per_hour": "/h",
    "usd_per_running_hour": "/running h",
    "usd_per_gb": "/GB",
    "hours": " h",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatedItem(_Strict):
    name: Text
    usd: float


class BreakevenAssumptions(_Strict):
    """What the document assumed about one destroy-and-rebuild cycle (RebuildCosts' fields)."""

    rebuild_minutes: Minutes = RebuildCosts.rebuild_minutes
    destroy_minutes: Minutes = RebuildCosts.destroy_minutes
    image_pull_gb: Annotated[float, Field(ge=0)] = RebuildCosts.image_pull_gb
    per_cycle_usd: Annotated[float, Field(ge=0)] = RebuildCosts.per_cycle_usd

    def costs(self) -> RebuildCosts:
        return RebuildCosts(self.rebuild_minutes, self.destroy_minutes, self.image_pull_gb, self.per_cycle_usd)


class Claim(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    source: Text  # where the document states it
    stated: float
    unit: Unit
    note: str | None = None
    items: Annotated[list[StatedItem], Field(min_length=1)] | None = None
    pricing: Text | None = None
    shape: Shape | None = None
    minus: Shape | None = None
    price: Text | None = None
    breakeven: BreakevenAssumptions | None = None

    @model_validator(mode="after")
    def _checkable(self) -> Claim:
        if self.items is None and self.shape is None and self.price is None:
            raise ValueError("a claim needs at least one of items, shape or price, or there is nothing to check")
        if self.price is not None and (self.shape is not None or self.items is not None):
            raise ValueError("price checks one price; it cannot be combined with shape or items")
        if (self.minus is not None or self.breakeven is not None) and self.shape is None:
            raise ValueError("minus and breakeven need a shape")
        if (self.unit == "hours") != (self.breakeven is not None):
            raise ValueError("unit hours and breakeven go together (a break-even is the only figure in hours)")
        if self.breakeven is not None and self.minus is not None:
            raise ValueError("a break-even cannot be a difference: drop minus")
        if self.unit == "usd_per_gb" and self.price is None:
            raise ValueError("unit usd_per_gb is a price: use price, e.g. nat_gateway.per_gb")
        return self


class ClaimsFile(_Strict):
    pricing: Text | None = None  # the claims' pricing file unless a claim or --pricing says otherwise
    claims: Annotated[list[Claim], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> ClaimsFile:
        names = [c.name for c in self.claims]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"claim names must be unique; repeated: {', '.join(repeated)}")
        return self

    def claim(self, name: str) -> Claim:
        """The claim called `name`. Raises ValueError listing the names there are."""
        for claim in self.claims:
            if claim.name == name:
                return claim
        raise ValueError(f"no claim named {name!r}; the file has: {', '.join(c.name for c in self.claims)}")


def load_claims(path: Path | None = None) -> ClaimsFile:
    """Load `path`, or the packaged original-cost-claims.yaml. Raises DataFileError naming file and field."""
    return load_model(path or packaged(ORIGINAL_CLAIMS), ClaimsFile)
