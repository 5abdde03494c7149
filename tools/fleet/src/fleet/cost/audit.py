"""`fleet cost audit CLAIMS.yaml`: check the figures a cost document states, two ways.

Every claim's stated figure is compared with the sum of its own line items, and with its shape recomputed from a
pricing file (or with the price it quotes). A figure that is off by more than the tolerance is a slip: a finding
(exit 1). The tolerance lives here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet import exits
from fleet.cost.claims import ORIGINAL_CLAIMS, UNIT_SUFFIX, Claim, ClaimsFile, load_claims
from fleet.cost.model import break_even, estimate
from fleet.cost.options import JsonOpt, PricingOpt, Shape, shape_usage
from fleet.cost.pricing import Pricing, load_pricing, pricing_label, resolve_pricing
from fleet.datafiles import DataFileError, packaged
from fleet.exits import die
from fleet.output import emit

# A stated figure agrees with a computed one when they differ by at most 0.5 % of the stated figure, or by half a unit
# of the precision such a figure is written with (monthly figures in cents, hourly rates and prices to 4 decimals),
# whichever is larger: that much is rounding. Every slip in the original's documents is 3 % or more; every figure
# they got right is within 0.02 %.
RELATIVE_TOLERANCE = 0.005
ABSOLUTE_TOLERANCE: dict[str, float] = {
    "usd_per_month": 0.005,
    "usd_per_year": 0.005,
    "usd_per_hour": 0.00005,
    "usd_per_running_hour": 0.00005,
    "usd_per_gb": 0.00005,
    "hours": 0.005,
}
# Decimals a figure of each unit is printed with.
_DECIMALS = {"usd_per_month": 2, "usd_per_year": 2, "hours": 2}


def tolerance(stated: float, unit: str) -> float:
    return max(ABSOLUTE_TOLERANCE[unit], RELATIVE_TOLERANCE * abs(stated))


@dataclass(frozen=True)
class Check:
    kind: str  # "items", "recomputed" or "price"
    basis: str  # what was computed, in a few words
    computed: float
    pricing_file: str | None = None  # the price list a recomputation or price check used

    def off_by(self, stated: float) -> float:
        """Stated minus computed: negative when the document states too little."""
        return stated - self.computed

    def agrees(self, claim: Claim) -> bool:
        return abs(self.off_by(claim.stated)) <= tolerance(claim.stated, claim.unit)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    checks: list[Check]

    @property
    def slip(self) -> bool:
        return any(not check.agrees(self.claim) for check in self.checks)


class _PricingFiles:
    """Each pricing file a claims file names, loaded once. Raises DataFileError for a missing or invalid one."""

    def __init__(self, claims_path: Path, claims: ClaimsFile, override: Path | None) -> None:
        self._claims_path = claims_path
        self._fallback = override or (resolve_pricing(claims.pricing, claims_path) if claims.pricing else None)
        self._loaded: dict[Path | None, Pricing] = {}

    def for_claim(self, claim: Claim) -> tuple[Path | None, Pricing]:
        path = resolve_pricing(claim.pricing, self._claims_path) if claim.pricing else self._fallback
        if path not in self._loaded:
            self._loaded[path] = load_pricing(path)
        return path, self._loaded[path]


def _measure(pricing: Pricing, shape: Shape, claim: Claim) -> float:
    """The figure `claim.unit` names, for one shape. Raises ValueError for a shape the pricing file cannot price."""
    est = estimate(pricing, shape_usage(pricing, shape, f"claim {claim.name}: ", "="))
    if claim.breakeven is not None:
        nat_gb = pricing.nat_gateway.per_gb * (1 + est.usage.tax_rate if est.usage.tax_scope == "all" else 1)
        hours = break_even(est.running_rate, claim.breakeven.costs(), nat_per_gb=nat_gb).hours
        if hours is None:
            raise ValueError(f"claim {claim.name}: the shape costs nothing per hour, so it has no break-even")
        return hours
    by_unit = {
        "usd_per_month": est.total,
        "usd_per_year": est.total * 12,
        "usd_per_hour": est.effective_rate,  # month total / running hours, as the original computed "$0.172/h"
        "usd_per_running_hour": est.running_rate,
    }
    return by_unit[claim.unit]


def price_at(pricing: Pricing, path: str) -> float:
    """`nat_gateway.per_hour`, `ec2.t3.large.spot`: walk the pricing model. Raises ValueError naming the path."""
    node: Any = pricing
    parts = path.split(".")
    while parts:
        if isinstance(node, dict):
            # Keys contain dots (t3.large): take the longest run of parts that is a key.
            key = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node), None)
            if key is None:
                raise ValueError(f"price {path!r}: no {parts[0]!r} here; there is: {', '.join(sorted(node))}")
            node, parts = node[key], parts[len(key.split(".")) :]
        elif isinstance(node, BaseModel) and parts[0] in type(node).model_fields:
            node, parts = getattr(node, parts[0]), parts[1:]
        else:
            raise ValueError(f"price {path!r}: {parts[0]!r} is not a field of the pricing file at that point")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ValueError(f"price {path!r} is not a single price")
    return float(node)


def audit_claim(claim: Claim, files: _PricingFiles) -> ClaimResult:
    """Run every check the claim carries. Raises ValueError / DataFileError for a claim that cannot be computed."""
    checks: list[Check] = []
    if claim.items is not None:
        basis = f"sum of {len(claim.items)} item{'s' if len(claim.items) > 1 else ''}"
        checks.append(Check("items", basis, sum(item.usd for item in claim.items)))
    if claim.shape is not None or claim.price is not None:
        path, pricing = files.for_claim(claim)
        label = pricing_label(path)
        if claim.price is not None:
            checks.append(Check("price", f"price {claim.price}", price_at(pricing, claim.price), label))
        elif claim.shape is not None:
            value = _measure(pricing, claim.shape, claim)
            basis = "recomputed"
            if claim.minus is not None:
                value -= _measure(pricing, claim.minus, claim)
                basis = "recomputed: shape - minus"
            checks.append(Check("recomputed", basis, value, label))
    return ClaimResult(claim, checks)


def _figure(value: float, unit: str) -> str:
    digits = _DECIMALS.get(unit, 4)
    if unit == "hours":
        return f"{value:.{digits}f} h"
    sign = "-" if round(value, digits) < 0 else ""  # no "-$0.00" for a value that rounds to zero
    return f"{sign}${abs(value):,.{digits}f}{UNIT_SUFFIX[unit]}"


def _note(result: ClaimResult, check: Check) -> str | None:
    stated = result.claim.stated
    if check.agrees(result.claim):
        return None
    if stated * check.computed < 0:
        return "opposite sign: a saving that is a cost, or the reverse"
    return f"states {'less' if check.off_by(stated) < 0 else 'more'}"


def audit_json(results: list[ClaimResult], claims_label: str) -> dict[str, Any]:
    rows = []
    for result in results:
        claim = result.claim
        rows.append(
            {
                "name": claim.name,
                "source": claim.source,
                "note": claim.note,
                "unit": claim.unit,
                "stated": claim.stated,
                "status": "slip" if result.slip else "agrees",
                "checks": [
                    {
                        "check": check.kind,
                        "basis": check.basis,
                        "pricing_file": check.pricing_file,
                        "computed": round(check.computed, 4),
                        "off_by": round(check.off_by(claim.stated), 4),
                        "agrees": check.agrees(claim),
                        "tolerance": tolerance(claim.stated, claim.unit),
                        "finding": _note(result, check),
                    }
                    for check in result.checks
                ],
            }
        )
    return {
        "claims_file": claims_label,
        "tolerance": {"relative": RELATIVE_TOLERANCE, "absolute_by_unit": ABSOLUTE_TOLERANCE},
        "claims": rows,
        "claims_checked": len(rows),
        "slips": sum(1 for r in rows if r["status"] == "slip"),
    }


def _render(data: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        table = Table(title=f"Stated figures in {data['claims_file']}")
        table.add_column("Claim", no_wrap=True)
        table.add_column("Stated", justify="right", no_wrap=True)
        table.add_column("Check", overflow="fold")
        table.add_column("Computed", justify="right", no_wrap=True)
        table.add_column("Off by", justify="right", no_wrap=True)
        table.add_column("Result")
        used: dict[str, list[str]] = {}  # pricing file -> the claims it priced
        for claim in data["claims"]:
            for n, check in enumerate(claim["checks"]):
                result = "[green]agrees[/]" if check["agrees"] else f"[bold red]slip[/]: {escape(check['finding'])}"
                if check["pricing_file"] and claim["name"] not in used.setdefault(check["pricing_file"], []):
                    used[check["pricing_file"]].append(claim["name"])
                table.add_row(
                    claim["name"] if n == 0 else "",
                    _figure(claim["stated"], claim["unit"]) if n == 0 else "",
                    escape(check["basis"]),
                    _figure(check["computed"], claim["unit"]),
                    _figure(check["off_by"], claim["unit"]),
                    result,
                )
            table.add_section()
        console.print(table)
        for pricing, names in used.items():
            console.print(f"Priced with {pricing}: {', '.join(names)}.", soft_wrap=True)
        tol = data["tolerance"]
        console.print(
            f"{data['claims_checked']} claims, {data['slips']} with a slip "
            f"(tolerance: {tol['relative']:.1%} of the stated figure, or rounding: half a cent on monthly figures, "
            "half of the 4th decimal on rates)."
        )

    return render


def audit_command(
    claims_file: Annotated[
        Path | None,
        typer.Argument(
            help=f"Claims YAML; default: the packaged {ORIGINAL_CLAIMS}.", dir_okay=False, show_default=False
        ),
    ] = None,
    pricing_file: PricingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check stated cost figures: each against its own line items and against its shape recomputed with a
    pricing file. Exit 1 when any figure is off by more than the tolerance."""
    path = claims_file or packaged(ORIGINAL_CLAIMS)
    try:
        claims = load_claims(path)
        files = _PricingFiles(path, claims, pricing_file)
        results = [audit_claim(claim, files) for claim in claims.claims]
    except (DataFileError, ValueError) as exc:
        die(f"{path}: {exc}" if isinstance(exc, ValueError) else str(exc), exits.BAD_INPUT)
    data = audit_json(results, str(claims_file) if claims_file else f"packaged:{ORIGINAL_CLAIMS}")
    emit(data, _render(data), as_json)
    if data["slips"]:
        raise typer.Exit(exits.FINDINGS)
