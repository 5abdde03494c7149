"""`fleet capacity max-pods` and `fleet capacity budget`.

Exit codes (fleet/exits.py): max-pods 0, or 3 for an unknown instance type or a bad table file.
budget 0 when the free pod slots are at least --buffer and the steady-state CPU and memory requests fit the node's
allocatable, 1 otherwise, 3 for bad input (a missing --manifests, a bad table file, an unknown --addons name, a bad
--system-pods).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.capacity.allocatable import node_allocatable
from fleet.capacity.budget import Scan, scan_manifests
from fleet.capacity.charts import ChartTable, load_chart_table
from fleet.capacity.enis import InstanceTable, MaxPods, load_instance_types, max_pods
from fleet.capacity.requests import Requests
from fleet.capacity.requests_budget import RequestsBudget, requesters
from fleet.capacity.system import SystemRow, SystemTable, load_system_table, parse_addons, system_rows
from fleet.datafiles import DataFileError
from fleet.exits import die
from fleet.output import emit

app = typer.Typer(help="Pod capacity per node (VPC CNI) and the platform's pod budget.", no_args_is_help=True)

EXIT_OVER_BUDGET = exits.FINDINGS
EXIT_BAD_INPUT = exits.BAD_INPUT

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PrefixOpt = Annotated[
    bool, typer.Option("--prefix-delegation", help="VPC CNI prefix delegation (/28 per address slot).")
]
TableOpt = Annotated[
    Path | None, typer.Option("--instance-types", help="Your own ENI table (see data/instance-types.yaml).")
]


def _max_pods(table_file: Path | None, instance_type: str, prefix: bool) -> MaxPods:
    try:
        table: InstanceTable = load_instance_types(table_file)
        return max_pods(table, instance_type, prefix)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    except KeyError as exc:
        die(str(exc.args[0]), EXIT_BAD_INPUT)


def _max_pods_json(result: MaxPods) -> dict[str, Any]:
    return {
        "instance_type": result.instance_type,
        "vcpus": result.spec.vcpus,
        "enis": result.spec.enis,
        "ipv4_per_eni": result.spec.ipv4_per_eni,
        "prefix_delegation": result.prefix_delegation,
        "max_pods": result.max_pods,
        "formula": result.formula,
    }


@app.command("max-pods")
def max_pods_command(
    instance_type: Annotated[str, typer.Argument(help="EC2 instance type, e.g. t3.large.")],
    prefix_delegation: PrefixOpt = False,
    table_file: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Maximum pods one node of INSTANCE_TYPE can run under the VPC CNI."""
    result = _max_pods(table_file, instance_type, prefix_delegation)
    data = _max_pods_json(result)
    emit(
        data,
        lambda c: c.print(f"{instance_type}: [bold]{result.max_pods}[/] pods ({result.formula})"),
        as_json,
    )


def _system(path: Path | None, addons: str | None, overrides: list[str] | None) -> list[SystemRow]:
    try:
        table: SystemTable = load_system_table(path)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    try:
        chosen = parse_addons(addons, table)
    except ValueError as exc:
        die(str(exc), EXIT_BAD_INPUT)
    counts: dict[str, int] = {}
    for raw in overrides or []:
        ns, sep, count = raw.partition("=")
        if not sep or not ns or not count.isdigit():
            die(f"--system-pods {raw!r}: expected NAMESPACE=COUNT", EXIT_BAD_INPUT)
        counts[ns] = int(count)
    return system_rows(table, chosen, counts)


def _charts(path: Path | None) -> ChartTable:
    try:
        return load_chart_table(path)
    except DataFileError as exc:
        die(str(exc), EXIT_BAD_INPUT)


def _system_row_json(row: SystemRow) -> dict[str, Any]:
    return {
        "namespace": row.namespace,
        "name": row.name,
        "pods": row.pods,
        "what": row.what,
        "source": row.source,
        "counted": row.counted,
        "addon": row.addon,
        "replaced_by": row.replaced_by,
        "requests": _requests_json(row.requests) if row.requests else None,
    }


def _requests_json(value: Requests) -> dict[str, Any]:
    return {"cpu_m": value.cpu_m, "memory_mib": round(value.memory_mib, 1)}


def _requests_budget(node: MaxPods, scan: Scan) -> RequestsBudget | None:
    room = node_allocatable(node.instance_type, node.spec, node.max_pods)
    return RequestsBudget(room, requesters(scan)) if room else None


def _budget_json(budget: RequestsBudget | None) -> dict[str, Any] | None:
    if budget is None:
        return None
    return {
        "capacity": _requests_json(budget.node.capacity),
        "kube_reserved": {"cpu_m": budget.node.reserved_cpu_m, "memory_mib": budget.node.reserved_memory_mib},
        "eviction_memory_mib": budget.node.eviction_memory_mib,
        "allocatable": _requests_json(budget.node.requests),
        "formula": budget.node.formula,
        "steady": _requests_json(budget.steady),
        "peak": _requests_json(budget.peak),
        "steady_fits": budget.steady_fits,
        "peak_nodes": budget.peak_nodes,
        "rows": [
            {
                "what": r.what,
                "steady_pods": r.steady_pods,
                "peak_pods": r.peak_pods,
                "steady": _requests_json(r.steady),
                "peak": _requests_json(r.peak),
            }
            for r in budget.requesters
        ],
    }


def _render_requests(console: Console, budget: RequestsBudget | None, instance_type: str) -> None:
    if budget is None:
        console.print(f"[yellow]warning:[/] no memory_mib for {instance_type} in the instance table: not sized")
        return
    room = budget.node.requests
    table = Table(title=f"CPU and memory requests on one {instance_type} (allocatable {room})")
    for col in ("Requester", "Pods", "Steady", "Peak"):
        table.add_column(col, justify="left" if col == "Requester" else "right")
    for r in sorted(budget.requesters, key=lambda r: -budget.share(r.peak)):
        pods = str(r.steady_pods) if r.steady_pods == r.peak_pods else f"{r.steady_pods}-{r.peak_pods}"
        table.add_row(r.what, pods, str(r.steady), str(r.peak))
    table.add_section()
    table.add_row("[bold]Total", "", f"[bold]{budget.steady}", f"[bold]{budget.peak}")
    console.print(table)
    console.print(f"[dim]allocatable: {budget.node.formula}")
    steady = "[green]fits" if budget.steady_fits else "[red]DOES NOT FIT"
    console.print(f"steady state {steady}[/]: {budget.used(budget.steady)}")
    console.print(f"peak needs {budget.peak_nodes} node(s): {budget.used(budget.peak)}")


@app.command("budget")
def budget_command(
    manifests: Annotated[Path, typer.Option(help="Directory (or file) of Kubernetes YAML to count.")],
    instance_type: Annotated[str, typer.Option("--instance-type", help="Node instance type.")] = "t3.large",
    buffer: Annotated[int, typer.Option(min=0, help="Free pod slots required (for rollouts, debugging).")] = 2,
    addons: Annotated[
        str | None,
        typer.Option(
            "--addons",
            help="EKS add-ons installed, comma-separated (replaces the default set), or +NAME,... to add to it.",
        ),
    ] = None,
    system_pods: Annotated[
        list[str] | None, typer.Option("--system-pods", help="Override a system namespace: NAMESPACE=COUNT.")
    ] = None,
    system_pods_file: Annotated[Path | None, typer.Option(help="Your own system pod table.")] = None,
    chart_pods_file: Annotated[
        Path | None, typer.Option("--chart-pods", help="Your own chart table (see data/chart-pods.yaml).")
    ] = None,
    prefix_delegation: PrefixOpt = False,
    table_file: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pods and CPU / memory requests the manifests (HelmReleases included) and the system components need,
    against one node's max pods and allocatable."""
    if not manifests.exists():
        die(f"--manifests {manifests}: no such file or directory", EXIT_BAD_INPUT)
    node = _max_pods(table_file, instance_type, prefix_delegation)
    scan = scan_manifests(manifests, _system(system_pods_file, addons, system_pods), _charts(chart_pods_file))
    total = scan.pods + scan.system_pods
    free = node.max_pods - total
    requests_budget = _requests_budget(node, scan)
    fits = requests_budget is None or requests_budget.steady_fits
    data = {
        "instance_type": instance_type,
        "prefix_delegation": prefix_delegation,
        "max_pods": node.max_pods,
        "buffer_required": buffer,
        "workloads": [w.model_dump() for w in scan.workloads],
        "system": [_system_row_json(row) for row in scan.system],
        "workload_pods": scan.pods,
        "system_pods": scan.system_pods,
        "total_pods": total,
        "free_slots": free,
        "requests": _budget_json(requests_budget),
        "ok": free >= buffer and fits,
        "warnings": scan.warnings,
    }

    def render(console: Console) -> None:
        table = Table(title=f"Pod budget on one {instance_type} ({node.max_pods} pods max)")
        for col in ("Namespace", "Workload", "Pods", "Basis"):
            table.add_column(col, justify="right" if col == "Pods" else "left")
        for row in scan.system:
            pods = str(row.pods) if row.counted else f"({row.pods})"
            basis = "EKS add-on (--addons)" if row.addon else "system table"
            basis = f"replaced by {row.replaced_by}" if row.replaced_by else basis
            table.add_row(row.namespace, f"[dim]{row.name}: {row.what}", pods, basis)
        for w in scan.workloads:
            table.add_row(w.namespace, f"{w.kind}/{w.name}", str(w.pods) if w.counted else f"({w.pods})", w.basis)
        table.add_section()
        table.add_row("", "[bold]Total", f"[bold]{total}", f"{free} free of {node.max_pods}")
        console.print(table)
        for warning in scan.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        _render_requests(console, requests_budget, instance_type)
        verdict = "[green]OK" if free >= buffer else "[red]NOT ENOUGH HEADROOM"
        console.print(f"{verdict}[/]: {free} free slot(s), {buffer} required.")
        if not fits:
            console.print("[red]NOT ENOUGH CPU OR MEMORY[/]: steady-state requests exceed the node's allocatable.")

    emit(data, render, as_json)
    if not data["ok"]:
        raise typer.Exit(EXIT_OVER_BUDGET)
