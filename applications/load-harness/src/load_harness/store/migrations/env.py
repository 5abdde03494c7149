"""Alembic environment: uses the engine handed over by load_harness.store.migrate."""

from __future__ import annotations

from alembic import context
from load_harness.store.migrate import lock_for_migration
from load_harness.store.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # transactional_ddl: one transaction for the whole upgrade, SQLite included (Alembic's default there is a
    # transaction per migration, which lets another replica's migration run between two of ours: see migrate.py).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, transactional_ddl=True)
    with context.begin_transaction():
        lock_for_migration(connection)
        context.run_migrations()
