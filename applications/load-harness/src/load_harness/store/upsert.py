"""Race-free "create the row if missing", in each dialect's own syntax (INSERT ... ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: sa.Connection, table: sa.Table, **values: Any) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())
    else:
        # Other dialects are not supported stores; keep a plain insert so errors stay visible.
        conn.execute(table.insert().values(**values))
