"""The `load-harness` command: thin typer wrappers over the modules that do the work."""

from __future__ import annotations

import typer

from load_harness.cli import db, drive, serve

app = typer.Typer(
    name="load-harness",
    help="LoadHarness: workload target, load driver and live observer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve_command)
app.add_typer(db.app, name="db")
app.command("drive")(drive.drive_command)


def main() -> None:
    app()
