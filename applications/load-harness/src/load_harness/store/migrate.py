"""Alembic, driven from code so `load-harness db upgrade` needs no alembic.ini on disk.

Importing Alembic costs more than half a second, so start-up first compares the database's revision with
HEAD_REVISION using plain SQL, and only imports Alembic when there is work to do. A test keeps HEAD_REVISION
equal to the newest migration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0004"
# pg_advisory_xact_lock's key (a bigint): the CRC-32 of "load-harness migrations", chosen once and never changed,
# since replicas of two releases must agree on it.
MIGRATION_LOCK_KEY = 0xC3E368B1


def lock_for_migration(connection: sa.Connection) -> None:
    """Take the migration lock for the rest of the connection's transaction.

    PostgreSQL: a transaction-level advisory lock, released by COMMIT or ROLLBACK (so a migrator that dies does not
    leave it held). SQLite: nothing more to take; the transaction began with BEGIN IMMEDIATE (engine.py), which
    holds the database's only write lock until it ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def current(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.OperationalError:
        return None
    except sa.exc.ProgrammingError:
        return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> bool:
    """Upgrade to head when needed; True when migrations ran."""
    if current(engine) == HEAD_REVISION:
        return False
    upgrade(engine)
    return True


def script_head() -> str | None:
    """The newest revision according to Alembic itself (for the test that guards HEAD_REVISION)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://"))).get_current_head()
