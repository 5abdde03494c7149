"""`fleet cost compare`: two platform shapes side by side, line by line, with the difference and the ratio.

The shared flags (the same as `cost estimate`'s) describe both sides; `--a` and `--b` then change one side each with
KEY=VALUE pairs: a shape field (`instance_type=t4g.large`, `nodes=2`, `lb=alb`, `extra=NAME=USD`), `pricing=FILE`
(another region's price list), `scenario=NAME` (a shape named in a claims file) or `label=TEXT`. Precedence, lowest
first: the pricing file's defaults, the scenario, the shared flags, the side's own pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet import exits
from fleet.cost.claims import ORIGINAL_CLAIMS, load_claims
from fleet.cost.model import Estimate, always_on, estimate
from fleet.cost.options import (
    CapacityOpt,
    DateOpt,
    DaysOpt,
    EbsOpt,
    ExtendedOpt,
    ExtraOpt,
    HoursOpt,
    HoursPerDayOpt,
    InstanceOpt,
    Ipv4Opt,
    JsonOpt,
    LbOpt,
    NatGbOpt,
    NodesOpt,
    PricingOpt,
    Shape,
    TaxRateOpt,
    TaxScopeOpt,
    check_period,
    flags_shape,
    parse_extras,
    shape_usage,
)
from fleet.cost.pricing import Pricing, load_pricing, pricing_label, resolve_pricing
from fleet.cost.report import item_json, price_warnings, provenance_json, usage_json, warn
from fleet.datafiles import DataFileError, describe, packaged
from fleet.dates import parse_day
from fleet.exits import die
from fleet.output import emit

_SIDE_KEYS = ("pricing", "scenario", "label", "extra")
_ALIASES = {"lb": "load_balancer"}  # the estimate flag is --lb
# Split "a=1,b=2" on the commas that start another KEY=: an extra's name may itself contain a comma.
_PAIR_START = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9_-]*=)")

_SIDE_HELP = (
    "KEY=VALUE (repeatable, or comma-separated): a shape field such as instance_type=t4g.large, nodes=2, lb=alb,"
    " hours=276; pricing=FILE; scenario=NAME (from --scenarios); label=TEXT."
)


@dataclass(frozen=True)
class SideSpec:
    shape: Shape
    pricing: str | None = None
    scenario: str | None = None
    label: str | None = None


def parse_side(flag: str, values: list[str] | None) -> SideSpec:
    """`--a instance_type=t4g.large --a pricing=x.yaml` -> SideSpec. Raises ValueError naming the flag and pair."""
    fields: dict[str, str] = {}
    special: dict[str, str] = {}
    extras: list[str] = []
    known = sorted({*Shape.model_fields, *_ALIASES, *_SIDE_KEYS} - {"extras"})
    for value in values or []:
        for pair in _PAIR_START.split(value):
            key, sep, text = pair.partition("=")
            key = key.strip().replace("-", "_")
            key = _ALIASES.get(key, key)
            if not sep or not key:
                raise ValueError(f"{flag} {pair!r}: expected KEY=VALUE, e.g. {flag} instance_type=t4g.large")
            if key == "extra":
                extras.append(text)
            elif key in _SIDE_KEYS:
                special[key] = text.strip()
            elif key in Shape.model_fields and key != "extras":
                fields[key] = text.strip()
            else:
                raise ValueError(f"{flag} {pair!r}: unknown key {key!r}; known keys: {', '.join(known)}")
    try:
        shape = Shape.model_validate({**fields, "extras": parse_extras(extras) or None})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        if key in fields:
            raise ValueError(f"{flag} {key}={fields[key]!r}: {first['msg']}") from None
        raise ValueError(f"{flag}: {describe(exc)}") from None
    return SideSpec(shape, special.get("pricing"), special.get("scenario"), special.get("label"))


@dataclass(frozen=True)
class Side:
    label: str
    pricing_path: Path | None
    pricing: Pricing
    est: Estimate
    full: Estimate


def build_side(flag: str, spec: SideSpec, shared: Shape, shared_pricing: Path | None, scenarios: Path | None) -> Side:
    """Resolve one side. Raises ValueError / DataFileError naming the flag."""
    base, path = Shape(), shared_pricing
    if spec.scenario:
        claims_path = scenarios or packaged(ORIGINAL_CLAIMS)
        claims = load_claims(claims_path)
        try:
            claim = claims.claim(spec.scenario)
        except ValueError as exc:
            raise ValueError(f"{flag} scenario={spec.scenario}: {exc}") from None
        if claim.shape is None:
            raise ValueError(f"{flag} scenario={spec.scenario}: that claim checks a price, it describes no shape")
        base = claim.shape
        scenario_pricing = claim.pricing or claims.pricing
        if scenario_pricing and shared_pricing is None:
            path = resolve_pricing(scenario_pricing, claims_path)
    if spec.pricing:
        try:
            path = resolve_pricing(spec.pricing)
        except DataFileError as exc:
            raise ValueError(f"{flag} pricing={spec.pricing}: {exc}") from None
    pricing = load_pricing(path)
    shape = spec.shape.over(shared.over(base))
    usage = shape_usage(pricing, shape, f"{flag} ", "=")
    label = spec.label or spec.scenario or _describe(spec) or flag.removeprefix("--").upper()
    return Side(label, path, pricing, estimate(pricing, usage), always_on(pricing, usage))


def _describe(spec: SideSpec) -> str:
    parts = [f"{k}={v}" for k, v in spec.shape.model_dump(exclude_none=True).items() if k != "extras"]
    if spec.pricing:
        parts.append(Path(spec.pricing).name)
    return ", ".join(parts)


def _ratio(a: float, b: float) -> float | None:
    """b / a; None when a is 0 (JSON has no infinity)."""
    return round(b / a, 3) if a else None


def _pair(a: float, b: float, digits: int = 2) -> dict[str, Any]:
    return {"a": round(a, digits), "b": round(b, digits), "difference": round(b - a, digits), "ratio": _ratio(a, b)}


def _merged_order(a: list[str], b: list[str]) -> list[str]:
    """A's components, with each one only B has placed after the component it follows in B (so Tax stays last)."""
    merged = list(a)
    for n, component in enumerate(b):
        if component not in merged:
            before = next((c for c in reversed(b[:n]) if c in merged), None)
            merged.insert(merged.index(before) + 1 if before else 0, component)
    return merged


def compare_json(a: Side, b: Side, on: date) -> dict[str, Any]:
    a_items = {i.component: i for i in a.est.items}
    b_items = {i.component: i for i in b.est.items}
    components = _merged_order(list(a_items), list(b_items))
    rows = []
    for component in components:
        left, right = a_items.get(component), b_items.get(component)
        rows.append(
            {
                "component": component,
                "a_detail": left.detail if left else None,
                "b_detail": right.detail if right else None,
                **_pair(left.monthly if left else 0.0, right.monthly if right else 0.0),
            }
        )
    warnings = list(dict.fromkeys(price_warnings(a.est, on) + price_warnings(b.est, on)))

    def side(s: Side) -> dict[str, Any]:
        return {
            "label": s.label,
            "pricing_file": pricing_label(s.pricing_path),
            "region": s.pricing.region,
            "currency": s.pricing.currency,
            "hours": s.est.usage.hours,
            "usage": usage_json(s.est.usage),
            "items": [item_json(i, on) for i in s.est.items],
        }

    return {
        **provenance_json(warnings, on),
        "a": side(a),
        "b": side(b),
        "currency": a.pricing.currency,
        "items": rows,
        "total_usd": _pair(a.est.total, b.est.total),
        "running_rate_usd_per_hour": _pair(a.est.running_rate, b.est.running_rate, 4),
        "always_on_usd": _pair(a.full.total, b.full.total),
    }


def _money(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{'-' if value < 0 else ''}{abs(value):,.{digits}f}"


def _render(data: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        for key in ("a", "b"):
            s = data[key]
            u = s["usage"]
            console.print(
                f"[bold]{key.upper()}[/] = {escape(s['label'])}: {s['pricing_file']} ({s['region']}), {s['hours']:g} h,"
                f" {u['nodes']} x {u['instance_type']} {u['capacity']}, LB {u['load_balancer']}",
                soft_wrap=True,
            )
        table = Table(title=f"A against B, per month ({data['currency']})")
        table.add_column("Component")
        for column in ("A", "B", "B - A", "B / A"):
            table.add_column(column, justify="right")
        for row in data["items"]:
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
            table.add_row(row["component"], _money(row["a"]), _money(row["b"]), _money(row["difference"]), ratio)
        table.add_section()
        for title, key, digits in (
            ("[bold]Total", "total_usd", 2),
            ("While running, $/h", "running_rate_usd_per_hour", 4),
            ("Running 24/7", "always_on_usd", 2),
        ):
            pair = data[key]
            ratio = "-" if pair["ratio"] is None else f"{pair['ratio']:.3f}"
            diff = _money(pair["difference"], digits)
            table.add_row(title, _money(pair["a"], digits), _money(pair["b"], digits), diff, ratio)
        console.print(table)

    return render


def compare_command(
    a: Annotated[list[str] | None, typer.Option("--a", help=f"Side A: {_SIDE_HELP}")] = None,
    b: Annotated[list[str] | None, typer.Option("--b", help="Side B: the same keys as --a.")] = None,
    scenarios: Annotated[
        Path | None,
        typer.Option(help=f"Claims file whose shapes scenario=NAME picks; default the packaged {ORIGINAL_CLAIMS}."),
    ] = None,
    hours_per_day: HoursPerDayOpt = None,
    days: DaysOpt = None,
    hours: HoursOpt = None,
    instance_type: InstanceOpt = None,
    capacity: CapacityOpt = None,
    nodes: NodesOpt = None,
    lb: LbOpt = None,
    nat_data_gb: NatGbOpt = None,
    public_ipv4: Ipv4Opt = None,
    ebs_gb_per_node: EbsOpt = None,
    extended_support: ExtendedOpt = False,
    tax_rate: TaxRateOpt = None,
    tax_scope: TaxScopeOpt = None,
    extra: ExtraOpt = None,
    pricing_file: PricingOpt = None,
    on: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Two shapes side by side, item by item, with B - A and B / A: regions, instance types or named scenarios.

    For example --a pricing=FILE, --b instance_type=t4g.large or --a scenario=NAME.
    """
    if not a and not b:
        die("give --a and/or --b KEY=VALUE: with neither, both sides are the same shape", exits.BAD_INPUT)
    try:
        day = parse_day(on)
        check_period(days, hours)
        shared = flags_shape(
            hours_per_day=hours_per_day, days=days, hours=hours, instance_type=instance_type, capacity=capacity,
            nodes=nodes, lb=lb, nat_data_gb=nat_data_gb, public_ipv4=public_ipv4, ebs_gb_per_node=ebs_gb_per_node,
            extended_support=extended_support, tax_rate=tax_rate, tax_scope=tax_scope, extra=extra,
        )  # fmt: skip
        left = build_side("--a", parse_side("--a", a), shared, pricing_file, scenarios)
        right = build_side("--b", parse_side("--b", b), shared, pricing_file, scenarios)
    except (DataFileError, ValueError) as exc:
        die(str(exc), exits.BAD_INPUT)
    if left.pricing.currency != right.pricing.currency:
        die(
            f"--a prices in {left.pricing.currency} and --b in {right.pricing.currency}:"
            " convert one pricing file first",
            exits.BAD_INPUT,
        )
    data = compare_json(left, right, day)
    warn(data["price_warnings"])
    emit(data, _render(data), as_json)
