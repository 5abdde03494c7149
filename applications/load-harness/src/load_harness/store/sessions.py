"""Dashboard sessions, in the store: every worker and replica sees a logout at once. security/sessions.py decides
what a valid session is; this module only keeps the rows."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from load_harness.store.tables import dashboard_sessions


@dataclass(frozen=True)
class SessionRow:
    id: str
    key_fingerprint: str
    created_at: float
    expires_at: float


def create(engine: Engine, row: SessionRow, forget_before: float) -> None:
    """Store a new session, and drop every session that expired before `forget_before` (the table stays small)."""
    with engine.begin() as conn:
        conn.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at < forget_before))
        conn.execute(
            dashboard_sessions.insert().values(
                id=row.id, key_fingerprint=row.key_fingerprint, created_at=row.created_at, expires_at=row.expires_at
            )
        )


def get(engine: Engine, session_id: str) -> SessionRow | None:
    with engine.connect() as conn:
        row = conn.execute(dashboard_sessions.select().where(dashboard_sessions.c.id == session_id)).first()
    if row is None:
        return None
    return SessionRow(row.id, row.key_fingerprint, float(row.created_at), float(row.expires_at))


def delete(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(dashboard_sessions.delete().where(dashboard_sessions.c.id == session_id))


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dashboard_sessions)).scalar_one())
