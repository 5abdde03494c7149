"""`fleet gitops generate [--check]`: write (or, with --check, compare) the generated manifests under k8s/.

Exit codes (fleet/exits.py): 0 written, or no drift; 1 (FINDINGS) --check found drift; 3 (BAD_INPUT) no such
--root or an unreadable source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from fleet import exits
from fleet.exits import die
from fleet.gitops import generate

app = typer.Typer(help="The GitOps tree: manifests generated from observability/ and the app's deploy files.")


@app.callback()
def _group() -> None:
    """The GitOps tree under k8s/ (a callback keeps `generate` a subcommand while it is the only one)."""


@app.command("generate")
def generate_command(
    root: Annotated[Path, typer.Option("--root", help="The repository root.")] = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Compare only; exit 1 when a file would change.")] = False,
) -> None:
    """Render PrometheusRules, the Alertmanager Secret, dashboards, the driver Job template and the RBAC."""
    if not root.is_dir():
        die(f"--root {root}: no such directory", exits.BAD_INPUT)
    try:
        if check:
            problems = generate.drift(root)
            for problem in problems:
                typer.echo(problem)
            if problems:
                typer.echo("run `fleet gitops generate` and commit the result")
                raise typer.Exit(exits.FINDINGS)
            typer.echo(f"{generate.OUT}: up to date")
            return
        for path in generate.write(root):
            typer.echo(f"wrote {path.relative_to(root)}")
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        die(f"cannot render the generated manifests: {exc}", exits.BAD_INPUT)
