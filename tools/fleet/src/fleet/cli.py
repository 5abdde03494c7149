"""The `fleet` command: one typer app, one sub-app per operations area.

Each area lives in its own module and exposes `app`; this file only wires them together.
"""

from __future__ import annotations

import typer

from fleet import capacity, catalog, cleanup, cost, dora, eks, gitops, newapp, predestroy, validate

app = typer.Typer(
    name="fleet",
    help="Platform operations: cost, capacity, EKS versions, cleanup, DORA metrics, onboarding.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from fleet import __version__  # here, not at the top: keeps this option's change to one block

        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print fleet's version and exit."
    ),
) -> None:
    """Platform operations: cost, capacity, EKS versions, cleanup, DORA metrics, onboarding."""


app.add_typer(cost.app, name="cost")
app.add_typer(capacity.app, name="capacity")
app.add_typer(eks.app, name="eks")
app.add_typer(dora.app, name="dora")
app.add_typer(gitops.app, name="gitops")
app.command("cleanup")(cleanup.cleanup_command)
app.command("pre-destroy")(predestroy.pre_destroy_command)
app.command("new-app")(newapp.new_app_command)
app.command("catalog")(catalog.catalog_command)
app.command("validate")(validate.validate_command)


def main() -> None:
    app()
