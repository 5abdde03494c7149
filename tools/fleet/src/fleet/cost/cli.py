"""`fleet cost estimate` and `fleet cost breakeven`; `audit` (audit.py) and `compare` (compare.py) register here.

Exit codes (fleet/exits.py): 0 success (stale-price warnings do not change it); 1 findings (`audit`: a stated figure
does not add up); 3 bad input (unreadable or invalid pricing or claims file, unknown instance type, bad --extra,
--days or --hours outside a month, bad --date, bad --a/--b); 2 usage error from the command-line parser.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet import exits
from fleet.cost.model import BreakEven, Estimate, RebuildCosts, always_on, break_even, estimate
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
    TaxRateOpt,
    TaxScopeOpt,
    build_usage,
)
from fleet.cost.pricing import Pricing, load_pricing, pricing_label
from fleet.cost.report import item_json, price_warnings, provenance_json, usage_json, warn
from fleet.datafiles import DataFileError
from fleet.dates import parse_day
from fleet.exits import die
from fleet.output import emit

app = typer.Typer(
    help="Monthly cost model, side-by-side comparison, destroy-vs-idle break-even, and an audit of stated figures.",
    no_args_is_help=True,
)

EXIT_BAD_INPUT = exits.BAD_INPUT
_DEFAULTS = RebuildCosts()


def _pricing(path: Path | None) -> Pricing:
    try:
        return load_pricing(path)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)


def _usd(value: float) -> float:
    return round(value, 2)


def estimate_json(est: Estimate, full: Estimate, pricing: Pricing, source: str, on: date) -> dict[str, Any]:
    u = est.usage
    return {
        **provenance_json(price_warnings(est, on), on),
        "region": pricing.region,
        "currency": pricing.currency,
        "pricing_file": source,
        "hours": u.hours,
        "usage": usage_json(u),
        "items": [item_json(i, on) for i in est.items],
        "total_usd": _usd(est.total),
        "running_rate_usd_per_hour": round(est.running_rate, 4),
        "effective_rate_usd_per_hour": round(est.effective_rate, 4),
        "always_on": {
            "hours": full.usage.hours,
            "total_usd": _usd(full.total),
            "saving_usd": _usd(full.total - est.total),
            "saving_percent": round(100 * (1 - est.total / full.total), 1) if full.total else 0.0,
        },
    }


def _render_estimate(data: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        table = Table(title=f"Monthly cost, {data['hours']:g} running hours ({data['region']}, {data['currency']})")
        table.add_column("Component")
        table.add_column("Detail", style="dim")
        table.add_column("$/running h", justify="right")
        table.add_column("Month", justify="right")
        table.add_column("Price checked")
        sources: list[str] = []  # footnotes, numbered in order of first use
        for item in data["items"]:
            hourly = f"{item['hourly_usd']:.4f}" if item["hourly_usd"] else "-"
            checked = "-"
            if item["source"]:
                if item["source"] not in sources:
                    sources.append(item["source"])
                stale = " [yellow](old)[/]" if item["price_stale"] else ""
                checked = escape(f"{item['checked']} [{sources.index(item['source']) + 1}]") + stale
            table.add_row(item["component"], item["detail"], hourly, f"{item['monthly_usd']:.2f}", checked)
        table.add_section()
        table.add_row("[bold]Total", "", f"{data['running_rate_usd_per_hour']:.4f}", f"[bold]{data['total_usd']:.2f}")
        console.print(table)
        for number, source in enumerate(sources, 1):
            console.print(f"[dim][{number}] {escape(source)}[/]", soft_wrap=True)
        full = data["always_on"]
        console.print(
            f"While running: ${data['running_rate_usd_per_hour']:.4f}/h "
            f"(${data['effective_rate_usd_per_hour']:.4f}/h including always-on items).\n"
            f"Running 24/7 ({full['hours']:g} h): ${full['total_usd']:.2f}/month; "
            f"this pattern saves ${full['saving_usd']:.2f} ({full['saving_percent']:g} %)."
        )

    return render


@app.command("estimate")
def estimate_command(
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
    """Monthly cost of the platform for a running pattern, line by line, against running it 24/7, with each
    price's source and the date it was checked (a warning when that is more than 90 days before --date)."""
    pricing = _pricing(pricing_file)
    try:
        day = parse_day(on)
        usage = build_usage(
            pricing,
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
        est, full = estimate(pricing, usage), always_on(pricing, usage)
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    data = estimate_json(est, full, pricing, pricing_label(pricing_file), day)
    warn(data["price_warnings"])
    emit(data, _render_estimate(data), as_json)


def breakeven_json(result: BreakEven, idle_hours: float | None, costs: RebuildCosts) -> dict[str, Any]:
    data: dict[str, Any] = {
        "running_rate_usd_per_hour": round(result.running_rate, 4),
        "rebuild_minutes": costs.rebuild_minutes,
        "destroy_minutes": costs.destroy_minutes,
        "cycle_items": [{"item": name, "usd": round(usd, 4)} for name, usd in result.cycle_items],
        "cycle_cost_usd": round(result.cycle_cost, 4),
        "break_even_idle_hours": None if result.hours is None else round(result.hours, 2),
    }
    if result.hours is None:
        # JSON has no Infinity: say in words why there is no number.
        data["break_even_note"] = "running costs nothing per hour, so destroying never pays off: keep it running"
    if idle_hours is not None:
        destroy = result.hours is not None and idle_hours > result.hours
        data["idle_hours"] = idle_hours
        data["decision"] = "destroy" if destroy else "keep running"
        data["saving_usd"] = round(abs(idle_hours * result.running_rate - result.cycle_cost), 4)
    return data


@app.command("breakeven")
def breakeven_command(
    rebuild_minutes: Annotated[float, typer.Option(min=0, help="Minutes until a rebuilt platform is usable.")] = (
        _DEFAULTS.rebuild_minutes
    ),
    destroy_minutes: Annotated[float, typer.Option(min=0, help="Minutes resources keep billing while destroyed.")] = (
        _DEFAULTS.destroy_minutes
    ),
    image_pull_gb: Annotated[float, typer.Option(min=0, help="GB of images re-pulled through NAT per rebuild.")] = 2.0,
    per_cycle_usd: Annotated[float, typer.Option(min=0, help="Other fixed USD per destroy+rebuild.")] = 0.0,
    engineer_rate: Annotated[float, typer.Option(min=0, help="USD/h of a person waiting for the rebuild.")] = 0.0,
    wait_minutes: Annotated[
        float | None, typer.Option(min=0, help="How long that person waits (default: the rebuild time).")
    ] = None,
    idle_hours: Annotated[float | None, typer.Option(min=0, help="An idle gap to decide for.")] = None,
    rate: Annotated[float | None, typer.Option(min=0, help="Running USD/h; default: computed like `estimate`.")] = None,
    instance_type: InstanceOpt = None,
    capacity: CapacityOpt = None,
    nodes: NodesOpt = None,
    lb: LbOpt = None,
    public_ipv4: Ipv4Opt = None,
    ebs_gb_per_node: EbsOpt = None,
    extended_support: ExtendedOpt = False,
    tax_rate: TaxRateOpt = None,
    tax_scope: TaxScopeOpt = None,
    pricing_file: PricingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Idle hours above which destroying the cluster beats leaving it running."""
    pricing = _pricing(pricing_file)
    costs = RebuildCosts(rebuild_minutes, destroy_minutes, image_pull_gb, per_cycle_usd, engineer_rate, wait_minutes)
    try:
        usage = build_usage(
            pricing,
            hours_per_day=None,
            days=None,
            hours=1.0,
            instance_type=instance_type,
            capacity=capacity,
            nodes=nodes,
            lb=lb,
            nat_data_gb=0.0,
            public_ipv4=public_ipv4,
            ebs_gb_per_node=ebs_gb_per_node,
            extended_support=extended_support,
            tax_rate=tax_rate,
            tax_scope=tax_scope,
            extra=None,
        )
        running = rate if rate is not None else estimate(pricing, usage).running_rate
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    # NAT data on a rebuild is taxed like everything else when the tax covers all services.
    nat_gb = pricing.nat_gateway.per_gb * (1 + usage.tax_rate if usage.tax_scope == "all" else 1)
    result = break_even(running, costs, nat_per_gb=nat_gb)
    data = breakeven_json(result, idle_hours, costs)

    def render(console: Console) -> None:
        table = Table(title="One destroy + rebuild cycle")
        table.add_column("Cost")
        table.add_column("USD", justify="right")
        for item in data["cycle_items"]:
            table.add_row(item["item"], f"{item['usd']:.4f}")
        table.add_section()
        table.add_row("[bold]Total", f"[bold]{data['cycle_cost_usd']:.4f}")
        console.print(table)
        if data["break_even_idle_hours"] is None:
            console.print(f"Running costs $0/h: {data['break_even_note']}.")
        else:
            console.print(
                f"Running costs ${data['running_rate_usd_per_hour']:.4f}/h, so destroying pays off when the "
                f"cluster would sit idle for more than [bold]{data['break_even_idle_hours']:g} h[/]."
            )
        if "decision" in data:
            console.print(f"Idle {idle_hours:g} h: [bold]{data['decision']}[/] (saves ${data['saving_usd']:.2f}).")

    emit(data, render, as_json)


# `audit` and `compare` live in their own modules; registered here, after `app`.
from fleet.cost.audit import audit_command  # noqa: E402
from fleet.cost.compare import compare_command  # noqa: E402

app.command("audit")(audit_command)
app.command("compare")(compare_command)

# Chargeback lives in its own modules (allocate*.py, prom_source.py); imported here, after `app`, to register it.
from fleet.cost.allocate_cli import allocate_command  # noqa: E402

app.command("allocate")(allocate_command)
