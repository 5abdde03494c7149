"""The `fleet` command: one typer app, one sub-app per operations area.

Each area lives in its own module and exposes `app`; this file only wires them together.
"""

from __future__ import annotations

import typer

from fleet import capacity, cleanup, cost, dora, eks, newapp, validate

app = typer.Typer(
    name="fleet",
    help="Platform operations: cost, capacity, EKS versions, cleanup, DORA metrics, onboarding.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cost.app, name="cost")
app.add_typer(capacity.app, name="capacity")
app.add_typer(eks.app, name="eks")
app.add_typer(dora.app, name="dora")
app.command("cleanup")(cleanup.cleanup_command)
app.command("new-app")(newapp.new_app_command)
app.command("validate")(validate.validate_command)


def main() -> None:
    app()
