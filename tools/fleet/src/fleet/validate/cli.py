"""`fleet validate`: the offline platform checks that `make validate` runs.

Exit codes (fleet/exits.py): 0 every check passed (warnings allowed); 1 at least one check failed; 3 bad input
(no such --root, a Kubernetes version kubernetes-validate has no schemas for, an unknown --check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from kubernetes_validate.utils import all_versions, major_minor
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.exits import die
from fleet.output import emit
from fleet.validate.base import DEFAULT_K8S_VERSION, CheckResult, Context, registered, run_checks

EXIT_FAILED, EXIT_BAD_INPUT = exits.FINDINGS, exits.BAD_INPUT
MAX_LINES = 40  # per check in the human output; --json carries every finding


def _supported(version: str) -> bool:
    wanted = major_minor(version.removeprefix("v"))
    return any(major_minor(v) == wanted for v in all_versions())


def results_json(ctx: Context, results: list[CheckResult]) -> dict[str, Any]:
    return {
        "root": str(ctx.root),
        "k8s_version": ctx.k8s_version,
        "ok": all(r.ok for r in results),
        "checks": [
            {"name": r.name, "ok": r.ok, "summary": r.summary, "errors": r.errors, "warnings": r.warnings}
            for r in results
        ],
    }


def _render(results: list[CheckResult]) -> Any:
    def render(console: Console) -> None:
        table = Table(title="fleet validate")
        table.add_column("Check")
        table.add_column("Result")
        table.add_column("Summary")
        table.add_column("Errors", justify="right")
        table.add_column("Warnings", justify="right")
        for r in results:
            verdict = "[green]PASS" if r.ok else "[red]FAIL"
            table.add_row(r.name, verdict, r.summary, str(len(r.errors)), str(len(r.warnings)))
        console.print(table)
        for r in results:
            for level, lines in (("error", r.errors), ("warning", r.warnings)):
                for line in lines[:MAX_LINES]:
                    colour = "red" if level == "error" else "yellow"
                    console.print(f"[{colour}]{r.name} {level}:[/] {line}", highlight=False, soft_wrap=True)
                if len(lines) > MAX_LINES:
                    console.print(f"{r.name}: {len(lines) - MAX_LINES} more {level}(s); see --json")
        failed = [r.name for r in results if not r.ok]
        console.print("[red]FAILED:[/] " + ", ".join(failed) if failed else "[green]all checks passed")

    return render


def validate_command(
    root: Annotated[Path, typer.Option(help="Repository root (holds k8s/ and .yamllint.yaml).")] = Path("."),
    k8s_version: Annotated[
        str, typer.Option("--k8s-version", help="Kubernetes version for the schemas.")
    ] = DEFAULT_K8S_VERSION,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Run only this check (repeatable); see --list.")
    ] = None,
    list_checks: Annotated[bool, typer.Option("--list", help="List the checks and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Offline platform checks: yamllint, Kubernetes schemas, custom resources, kustomize refs, new-app."""
    if list_checks:
        listing = [{"name": c.name, "description": c.description} for c in registered()]

        def render_list(console: Console) -> None:
            for item in listing:
                console.print(f"[bold]{item['name']}[/]: {item['description']}")

        emit(listing, render_list, as_json)
        return
    if not root.is_dir():
        die(f"--root {root}: not a directory", EXIT_BAD_INPUT)
    if not _supported(k8s_version):
        known = ", ".join(sorted({major_minor(v) for v in all_versions()}, key=lambda v: tuple(map(int, v.split(".")))))
        die(f"--k8s-version {k8s_version}: no schemas for it; kubernetes-validate has {known}", EXIT_BAD_INPUT)
    ctx = Context(root=root.resolve(), k8s_version=k8s_version)
    try:
        results = run_checks(ctx, check)
    except KeyError as exc:
        die(str(exc.args[0]), EXIT_BAD_INPUT)
    emit(results_json(ctx, results), _render(results), as_json)
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_FAILED)
