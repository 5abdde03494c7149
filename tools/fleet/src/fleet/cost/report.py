"""Output pieces the `fleet cost` commands share: a line item as JSON with its price's source and age, the stale-price
warnings, and printing those warnings to stderr."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.markup import escape

from fleet.cost.model import Estimate, LineItem, Usage
from fleet.cost.provenance import STALE_AFTER_DAYS, stale_prices
from fleet.output import err_console


def usage_json(u: Usage) -> dict[str, Any]:
    return {
        "instance_type": u.instance_type,
        "capacity": u.capacity,
        "nodes": u.nodes,
        "load_balancer": u.load_balancer,
        "nat_data_gb": u.nat_data_gb,
        "ebs_gb_per_node": u.ebs_gb_per_node,
        "extended_support": u.extended_support,
        "tax_rate": u.tax_rate,
        "tax_scope": u.tax_scope,
    }


def item_json(item: LineItem, on: date) -> dict[str, Any]:
    """One line item; `source`/`checked` are null for tax and for --extra figures, which are the user's own."""
    price = item.price_source
    return {
        "component": item.component,
        "detail": item.detail,
        "hourly_usd": round(item.hourly, 4),
        "monthly_usd": round(item.monthly, 2),
        "source": price.source if price else None,
        "checked": price.checked if price else None,
        "price_age_days": price.age_days(on) if price else None,
        "price_stale": price.is_stale(on) if price else False,
    }


def price_warnings(est: Estimate, on: date) -> list[str]:
    """One message per source whose check is older than STALE_AFTER_DAYS on `on`."""
    used = [(item.component, item.price_source) for item in est.items if item.price_source]
    return [stale.message for stale in stale_prices(used, on)]


def provenance_json(warnings: list[str], on: date) -> dict[str, Any]:
    return {"date": on.isoformat(), "stale_after_days": STALE_AFTER_DAYS, "price_warnings": warnings}


def warn(messages: list[str]) -> None:
    """Warnings go to stderr, also with --json, so that stdout stays parseable. soft_wrap: never break a message
    mid-line when stderr is a file."""
    for message in messages:
        err_console.print(f"[bold yellow]warning:[/] {escape(message)}", soft_wrap=True)
