"""`load-harness db upgrade|current`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from load_harness.settings import get_settings
    from load_harness.store.engine import make_engine
    from load_harness.store.migrate import current, upgrade

    engine = make_engine(get_settings().resolved_database_url)
    upgrade(engine, revision)
    typer.echo(f"database at revision {current(engine)}")


@app.command("current")
def current_command() -> None:
    """Print the revision the database is at."""
    from load_harness.settings import get_settings
    from load_harness.store.engine import make_engine
    from load_harness.store.migrate import current

    typer.echo(current(make_engine(get_settings().resolved_database_url)) or "empty")
