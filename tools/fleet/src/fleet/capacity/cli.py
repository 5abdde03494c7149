"""`fleet capacity max-pods` and `fleet capacity budget`.

Exit codes (fleet/exits.py): max-pods 0, or 3 for an unknown instance type or a bad table file.
budget 0 when the free pod slots are at least --buffer, 1 when they are fewer, 3 for bad input (a missing
--manifests, a bad table file, an unknown --addons name, a bad --system-pods).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.capacity.budget import scan_manifests
from fleet.capacity.charts import ChartTable, load_chart_table
from fleet.capacity.enis import InstanceTable, MaxPods, load_instance_types, max_pods
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
    }


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
    """Pods the manifests (HelmReleases included) and the system components need, against one node's max pods."""
    if not manifests.exists():
        die(f"--manifests {manifests}: no such file or directory", EXIT_BAD_INPUT)
    node = _max_pods(table_file, instance_type, prefix_delegation)
    scan = scan_manifests(manifests, _system(system_pods_file, addons, system_pods), _charts(chart_pods_file))
    total = scan.pods + scan.system_pods
    free = node.max_pods - total
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
        "ok": free >= buffer,
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
        verdict = "[green]OK" if data["ok"] else "[red]NOT ENOUGH HEADROOM"
        console.print(f"{verdict}[/]: {free} free slot(s), {buffer} required.")

    emit(data, render, as_json)
    if not data["ok"]:
        raise typer.Exit(EXIT_OVER_BUDGET)
