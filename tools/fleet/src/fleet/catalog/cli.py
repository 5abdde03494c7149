"""`fleet catalog`: the service catalog, read from the annotations on the apps under k8s/applications/base/.

Exit codes (fleet/exits.py): 0 every app listed with every required annotation; 1 an app lacks a required
annotation or has an invalid one (listed anyway; no descriptor written for it), or no app was found; 3 bad input
(no such --root, a --backstage path that is a file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fleet import exits
from fleet.catalog.backstage import write_descriptors
from fleet.catalog.reader import CatalogEntry, base_dir, read_catalog
from fleet.exits import die
from fleet.output import emit, err_console


def entry_json(entry: CatalogEntry) -> dict[str, Any]:
    return {**entry.model_dump(mode="json"), "lifecycle": entry.lifecycle}


def _render(entries: list[CatalogEntry], written: list[Path]) -> Any:
    def render(console: Console) -> None:
        table = Table(title="fleet catalog")
        for column in ("App", "Owner", "Tier", "SLO", "Environments", "Runbook", "Dashboard", "Repo"):
            table.add_column(column, overflow="fold")
        for e in entries:
            table.add_row(
                e.name if not e.problems else f"[red]{e.name}",
                *(value or "-" for value in (e.owner, e.tier, e.slo)),
                ", ".join(e.environments) or "-",
                *(value or "-" for value in (e.runbook, e.dashboard, e.repo)),
            )
        console.print(table)
        for e in entries:
            for problem in e.problems:
                console.print(f"[red]{e.name}:[/] {problem}", highlight=False, soft_wrap=True)
        for path in written:
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)

    return render


def catalog_command(
    root: Annotated[Path, typer.Option(help="Repository root (holds k8s/applications/).")] = Path("."),
    backstage: Annotated[
        Path | None, typer.Option(help="Write DIR/<app>/catalog-info.yaml (Backstage Component) per app.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every app with its owner, tier, SLO and links; optionally write Backstage descriptors."""
    if not root.is_dir():
        die(f"--root {root}: not a directory", exits.BAD_INPUT)
    if backstage is not None and backstage.exists() and not backstage.is_dir():
        die(f"--backstage {backstage}: exists and is not a directory", exits.BAD_INPUT)
    entries = read_catalog(root)
    if not entries:
        # An empty catalog is a finding, not a success: the tree is missing or --root points elsewhere.
        die(f"no apps found: no directories under {base_dir(root)}", exits.FINDINGS)
    written = write_descriptors(entries, backstage) if backstage is not None else []
    data = {
        "root": str(root),
        "apps": [entry_json(e) for e in entries],
        "backstage_files": [str(p) for p in written],
    }
    emit(data, _render(entries, written), as_json)
    incomplete = [e.name for e in entries if e.problems]
    if incomplete:
        skipped = "; no catalog-info.yaml written for them" if backstage is not None else ""
        err_console.print(f"[red]incomplete:[/] {', '.join(incomplete)}{skipped}", highlight=False, soft_wrap=True)
        raise typer.Exit(exits.FINDINGS)
