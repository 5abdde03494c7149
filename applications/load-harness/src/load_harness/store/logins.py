"""Failed logins per client address, in the store: every web worker and replica counts against one limit."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from load_harness.store.tables import login_failures


def record_failure(engine: Engine, client: str, now: float, forget_before: float) -> None:
    """Record one failure, and drop every client's failures older than `forget_before` (the table stays small)."""
    with engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.at < forget_before))
        conn.execute(login_failures.insert().values(client=client[:64], at=now))


def failures_since(engine: Engine, client: str, since: float) -> list[float]:
    """The times of this client's failures after `since`, oldest first."""
    with engine.connect() as conn:
        query = (
            sa.select(login_failures.c.at)
            .where(login_failures.c.client == client[:64], login_failures.c.at > since)
            .order_by(login_failures.c.at)
        )
        return [float(at) for at in conn.execute(query).scalars()]


def clear(engine: Engine, client: str) -> None:
    with engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.client == client[:64]))
