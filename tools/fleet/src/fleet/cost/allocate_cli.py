"""`fleet cost allocate`: chargeback per namespace and workload from Prometheus, priced from the pricing file.

The rules are in fleet/cost/allocate.py (the model) and fleet/cost/prom_source.py (the queries and the window
arithmetic); docs/fleet.md "Chargeback: fleet cost allocate" explains them for users.

Exit codes (fleet/exits.py): 0 the report; 2 usage error from the parser; 3 bad input (--window, --step, --at,
--cpu-ram-ratio, --prometheus URL, the pricing file, a node the pricing file cannot price, or no data in the
window); 6 Prometheus unreachable or a query refused (the message names the query).
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.cost.allocate import (
    DEFAULT_CPU_RAM_RATIO,
    DEFAULT_SHARED_NAMESPACES,
    Allocation,
    Charge,
    allocate,
    price_nodes,
)
from fleet.cost.options import JsonOpt, PricingOpt
from fleet.cost.pricing import DEFAULT_PRICING, load_pricing
from fleet.cost.prom_source import PrometheusClient, PrometheusError, collect, parse_duration
from fleet.datafiles import DataFileError
from fleet.exits import die
from fleet.output import emit, err_console

MIN_WINDOW, MAX_WINDOW = 3600, 90 * 86400
MIN_STEP, MAX_STEP = 60, 3600
DEFAULT_SHARED = ",".join(DEFAULT_SHARED_NAMESPACES)
CSV_COLUMNS = (
    "level",
    "namespace",
    "kind",
    "name",
    "pods",
    "cpu_core_hours",
    "ram_gib_hours",
    "cpu_usd",
    "ram_usd",
    "allocated_usd",
    "shared_usd",
    "total_usd",
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _usd(value: float) -> float:
    # Six decimals: a week of a small pod costs cents, and a sum of rounded cents would not add up.
    return round(value, 6)


def _charge_json(charge: Charge) -> dict[str, float]:
    return {
        "cpu_core_hours": round(charge.cpu_core_hours, 4),
        "ram_gib_hours": round(charge.ram_gib_hours, 4),
        "cpu_usd": _usd(charge.cpu_usd),
        "ram_usd": _usd(charge.ram_usd),
        "allocated_usd": _usd(charge.usd),
    }


def allocation_json(result: Allocation, *, prometheus: str, window: str, currency: str, source: str) -> dict[str, Any]:
    return {
        "prometheus": prometheus,
        "window": window,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "currency": currency,
        "pricing_file": source,
        "cpu_ram_ratio": round(result.cpu_ram_ratio, 4),
        "shared_namespaces": result.shared_namespaces,
        "totals": {
            "node_cost_usd": _usd(result.node_cost_usd),
            "allocated_usd": _usd(result.allocated_usd),
            "idle_usd": _usd(result.idle_usd),
        },
        "namespaces": [
            {
                "namespace": ns.namespace,
                "shared": ns.is_shared,
                **_charge_json(ns.charge),
                "shared_usd": _usd(ns.shared_usd),
                "total_usd": _usd(ns.total_usd),
            }
            for ns in result.namespaces
        ],
        "workloads": [
            {
                "namespace": w.namespace,
                "kind": w.kind,
                "name": w.name,
                "pods": w.pods,
                **_charge_json(w.charge),
                "shared_usd": _usd(w.shared_usd),
                "total_usd": _usd(w.total_usd),
            }
            for ns in result.namespaces
            for w in ns.workloads
        ],
        "nodes": [
            {
                "node": n.node.name,
                "instance_type": n.node.instance_type,
                "capacity": n.node.capacity,
                "hours": round(n.node.hours, 4),
                "cpu_cores": n.node.cpu_cores,
                "ram_gib": round(n.node.ram_gib, 4),
                "hourly_usd": n.node.hourly_usd,
                "cpu_core_hour_usd": round(n.node.cpu_core_hour_usd, 8),
                "ram_gib_hour_usd": round(n.node.ram_gib_hour_usd, 8),
                "cost_usd": _usd(n.node.cost_usd),
                "allocated_usd": _usd(n.allocated.usd),
                "idle_cpu_usd": _usd(n.idle_cpu_usd),
                "idle_ram_usd": _usd(n.idle_ram_usd),
                "idle_usd": _usd(n.idle_usd),
            }
            for n in result.nodes
        ],
        "warnings": result.warnings,
    }


def allocation_csv(data: dict[str, Any]) -> str:
    """One CSV: a row per namespace, per workload and per node's idle cost, told apart by `level`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for ns in data["namespaces"]:
        writer.writerow({**ns, "level": "namespace", "kind": "", "name": "", "pods": ""})
    for w in data["workloads"]:
        writer.writerow({**w, "level": "workload"})
    for n in data["nodes"]:
        # Idle is nobody's allocation: it has CPU and RAM parts and a total, nothing allocated or shared.
        idle = {"cpu_usd": n["idle_cpu_usd"], "ram_usd": n["idle_ram_usd"], "total_usd": n["idle_usd"]}
        writer.writerow({"level": "idle", "kind": "Node", "name": n["node"], **idle})
    return out.getvalue()


def _render(data: dict[str, Any]) -> Any:
    def money(value: float) -> str:
        return f"{value:,.4f}"

    def render(console: Console) -> None:
        ns_table = Table(title=f"Cost per namespace, {data['start']} to {data['end']} ({data['currency']})")
        for column in ("Namespace", "CPU core-h", "RAM GiB-h", "CPU", "RAM", "Allocated", "Shared", "Total"):
            ns_table.add_column(column, justify="left" if column == "Namespace" else "right")
        for ns in sorted(data["namespaces"], key=lambda n: (n["shared"], -n["total_usd"])):
            label = f"{ns['namespace']} (shared)" if ns["shared"] else ns["namespace"]
            ns_table.add_row(
                label,
                f"{ns['cpu_core_hours']:,.2f}",
                f"{ns['ram_gib_hours']:,.2f}",
                money(ns["cpu_usd"]),
                money(ns["ram_usd"]),
                money(ns["allocated_usd"]),
                money(ns["shared_usd"]),
                money(ns["total_usd"]),
            )
        totals = data["totals"]
        ns_table.add_section()
        ns_table.add_row("[bold]Allocated", "", "", "", "", money(totals["allocated_usd"]), "", "")
        ns_table.add_row("Idle (not spread)", "", "", "", "", money(totals["idle_usd"]), "", "")
        ns_table.add_row("[bold]Node cost", "", "", "", "", f"[bold]{money(totals['node_cost_usd'])}", "", "")
        console.print(ns_table)

        wl_table = Table(title="Cost per workload")
        for column in ("Namespace", "Workload", "Pods", "Allocated", "Shared", "Total"):
            wl_table.add_column(
                column, justify="right" if column in ("Pods", "Allocated", "Shared", "Total") else "left"
            )
        for w in sorted(data["workloads"], key=lambda w: -w["total_usd"]):
            wl_table.add_row(
                w["namespace"],
                f"{w['kind']}/{w['name']}",
                str(w["pods"]),
                money(w["allocated_usd"]),
                money(w["shared_usd"]),
                money(w["total_usd"]),
            )
        console.print(wl_table)

        node_table = Table(title="Nodes")
        for column in ("Node", "Type", "Capacity", "Hours", "$/h", "Cost", "Allocated", "Idle"):
            node_table.add_column(column, justify="left" if column in ("Node", "Type", "Capacity") else "right")
        for n in data["nodes"]:
            node_table.add_row(
                n["node"],
                n["instance_type"],
                n["capacity"],
                f"{n['hours']:g}",
                f"{n['hourly_usd']:.4f}",
                money(n["cost_usd"]),
                money(n["allocated_usd"]),
                money(n["idle_usd"]),
            )
        console.print(node_table)
        console.print(
            f"Shared namespaces ({', '.join(data['shared_namespaces']) or 'none'}) are spread over the others in "
            "proportion to their allocated cost; CPU and RAM are charged max(request, usage)."
        )

    return render


def _end_time(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        end = datetime.fromisoformat(at)
    except ValueError:
        end = None
    if end is None or end.tzinfo is None:
        die(f"--at {at!r}: expected an RFC 3339 time with a zone, e.g. 2026-11-09T00:00:00Z", exits.BAD_INPUT)
    return end


def _bounded_duration(flag: str, text: str, low: int, high: int, names: tuple[str, str]) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        die(f"{flag} {exc}", exits.BAD_INPUT)
    if not low <= seconds <= high:
        die(f"{flag} {text!r}: must be {names[0]} to {names[1]}", exits.BAD_INPUT)
    return seconds


PrometheusOpt = Annotated[str, typer.Option("--prometheus", help="Prometheus base URL, e.g. http://localhost:9090.")]
WindowOpt = Annotated[str, typer.Option(help="How far back from --at: a Prometheus duration, 1h to 90d.")]
AtOpt = Annotated[str | None, typer.Option(help="End of the window, RFC 3339 (default: now).")]
StepOpt = Annotated[str, typer.Option(help="Resolution of the window's samples, 1m to 1h.")]
SharedOpt = Annotated[
    str,
    typer.Option(
        "--shared-namespaces",
        help="Comma-separated namespaces whose cost is spread over the others ('' for none).",
    ),
]
RatioOpt = Annotated[
    float, typer.Option(help="How many times dearer a vCPU-hour is than a GiB-hour of RAM (OpenCost's default).")
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv on standard output.")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Also write the CSV to this file.", dir_okay=False)]
TimeoutOpt = Annotated[float, typer.Option(min=1, help="Seconds to wait for each Prometheus query.")]


def allocate_command(
    prometheus: PrometheusOpt,
    window: WindowOpt = "7d",
    at: AtOpt = None,
    step: StepOpt = "5m",
    shared_namespaces: SharedOpt = DEFAULT_SHARED,
    cpu_ram_ratio: RatioOpt = DEFAULT_CPU_RAM_RATIO,
    pricing_file: PricingOpt = None,
    as_json: JsonOpt = False,
    output_format: FormatOpt = OutputFormat.table,
    csv_file: CsvOpt = None,
    timeout: TimeoutOpt = 60.0,
) -> None:
    """Chargeback: cost per namespace and workload over a window, from Prometheus metrics and the pricing file."""
    if as_json and output_format is OutputFormat.csv:
        die("--json and --format csv: choose one", exits.BAD_INPUT)
    window_seconds = _bounded_duration("--window", window, MIN_WINDOW, MAX_WINDOW, ("1h", "90d"))
    step_seconds = int(_bounded_duration("--step", step, MIN_STEP, MAX_STEP, ("1m", "1h")))
    end = _end_time(at)
    if cpu_ram_ratio <= 0:
        die(f"--cpu-ram-ratio {cpu_ram_ratio:g}: must be above 0", exits.BAD_INPUT)
    shared = [ns.strip() for ns in shared_namespaces.split(",") if ns.strip()]
    try:
        pricing = load_pricing(pricing_file)
        client = PrometheusClient(prometheus, timeout=timeout)
    except (DataFileError, ValueError) as exc:
        die(str(exc), exits.BAD_INPUT)
    try:
        observation = collect(client, end, window_seconds, step_seconds)
    except PrometheusError as exc:
        die(str(exc), exits.REMOTE_ERROR)
    if not observation.nodes:
        die(
            f"Prometheus at {prometheus} has no kube_node_labels series between {observation.start.isoformat()} "
            f"and {end.isoformat()} (--window {window}, --at {at or 'now'}): nothing to allocate. "
            "Is kube-state-metrics scraped, and is the window inside Prometheus' retention?",
            exits.BAD_INPUT,
        )
    try:
        nodes, price_warnings = price_nodes(observation.nodes, pricing, cpu_ram_ratio)
    except ValueError as exc:
        where = pricing_file or f"packaged:{DEFAULT_PRICING}"
        die(f"{exc} (pricing file {where}; add the price to a copy and pass --pricing)", exits.BAD_INPUT)
    result = allocate(
        observation.model_copy(update={"warnings": [*observation.warnings, *price_warnings]}),
        nodes,
        shared_namespaces=shared,
        cpu_ram_ratio=cpu_ram_ratio,
    )
    source = str(pricing_file or f"packaged:{DEFAULT_PRICING}")
    data = allocation_json(result, prometheus=prometheus, window=window, currency=pricing.currency, source=source)
    if csv_file is not None:
        try:
            csv_file.write_text(allocation_csv(data), encoding="utf-8")
        except OSError as exc:
            die(f"--csv {csv_file}: cannot write: {exc.strerror or exc}", exits.BAD_INPUT)
    if output_format is OutputFormat.csv:
        sys.stdout.write(allocation_csv(data))
    else:
        emit(data, _render(data), as_json or output_format is OutputFormat.json)
    # On stderr whatever the format, so that JSON and CSV on stdout stay parseable; the JSON lists them too.
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
