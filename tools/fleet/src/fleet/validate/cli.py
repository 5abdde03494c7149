"""`fleet validate`: the offline platform checks that `make validate` runs.

Exit codes (fleet/exits.py): 0 no check failed and at least one had something to check (warnings allowed);
1 a check failed, or no check had anything to check (an empty or wrong --root must not read as a pass);
3 bad input (no such --root, a Kubernetes version kubernetes-validate has no schemas for, an unknown --check).
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
from fleet.validate.base import DEFAULT_K8S_VERSION, CheckResult, Context, Status, registered, run_checks

EXIT_FAILED, EXIT_BAD_INPUT = exits.FINDINGS, exits.BAD_INPUT
MAX_LINES = 40  # per check in the human output; --json carries every finding


def _supported(version: str) -> bool:
    wanted = major_minor(version.removeprefix("v"))
    return any(major_minor(v) == wanted for v in all_versions())


class Outcome:
    """The verdict over all results, and the one line that says it."""

    def __init__(self, ctx: Context, results: list[CheckResult]) -> None:
        self.failed = [r.name for r in results if r.status is Status.FAIL]
        self.nothing = [r.name for r in results if r.status is Status.NOTHING]
        self.checked = [r.name for r in results if r.status is not Status.NOTHING]
        self.root = ctx.root
        self.total = len(results)

    @property
    def name(self) -> str:
        return "failed" if self.failed else "nothing-to-check" if not self.checked else "passed"

    @property
    def ok(self) -> bool:
        return self.name == "passed"

    def line(self) -> str:
        skipped = f"; {len(self.nothing)} had nothing to check: {', '.join(self.nothing)}" if self.nothing else ""
        if self.failed:
            return f"[red]FAILED:[/] {', '.join(self.failed)}{skipped}"
        if not self.checked:
            return f"[red]nothing to check:[/] no check found anything to look at under {self.root}{skipped}"
        if not self.nothing:
            return f"[green]all {self.total} checks passed"
        return f"[green]{len(self.checked)} of {self.total} checks had something to check and passed[/]{skipped}"


def results_json(ctx: Context, results: list[CheckResult]) -> dict[str, Any]:
    outcome = Outcome(ctx, results)
    return {
        "root": str(ctx.root),
        "k8s_version": ctx.k8s_version,
        "ok": outcome.ok,
        "outcome": outcome.name,
        "checked_something": len(outcome.checked),
        "nothing_to_check": outcome.nothing,
        "checks": [{**r.model_dump(), "status": r.status.value} for r in results],
    }


VERDICTS = {Status.PASS: "[green]PASS", Status.FAIL: "[red]FAIL", Status.NOTHING: "[yellow]NOTHING"}


def _render(ctx: Context, results: list[CheckResult]) -> Any:
    def render(console: Console) -> None:
        table = Table(title="fleet validate")
        table.add_column("Check")
        table.add_column("Result")
        table.add_column("Summary")
        table.add_column("Errors", justify="right")
        table.add_column("Warnings", justify="right")
        for r in results:
            table.add_row(r.name, VERDICTS[r.status], r.summary, str(len(r.errors)), str(len(r.warnings)))
        console.print(table)
        for r in results:
            for level, lines in (("error", r.errors), ("warning", r.warnings)):
                for line in lines[:MAX_LINES]:
                    colour = "red" if level == "error" else "yellow"
                    console.print(f"[{colour}]{r.name} {level}:[/] {line}", highlight=False, soft_wrap=True)
                if len(lines) > MAX_LINES:
                    console.print(f"{r.name}: {len(lines) - MAX_LINES} more {level}(s); see --json")
        console.print(Outcome(ctx, results).line(), highlight=False, soft_wrap=True)

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
    """Offline platform checks: yamllint, schemas, custom resources, kustomize refs, new-app, app catalog."""
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
    emit(results_json(ctx, results), _render(ctx, results), as_json)
    if not Outcome(ctx, results).ok:
        raise typer.Exit(EXIT_FAILED)
