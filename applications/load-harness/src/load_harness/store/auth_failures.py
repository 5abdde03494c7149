"""Failed authentication attempts per client address, in the store: every web worker and replica counts against
one limit. The policy (how many, how long) is security/throttle.py's; this module only keeps the times."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from load_harness.store.tables import auth_failures

CLIENT_MAX = 64  # the column's width; an IPv6 address with a zone id still fits


def recent(engine: Engine, client: str, since: float) -> list[float]:
    """The times of this client's failures after `since`, oldest first."""
    with engine.connect() as conn:
        times = conn.execute(
            sa.select(auth_failures.c.failures).where(auth_failures.c.client == client[:CLIENT_MAX])
        ).scalar()
    return _within(times, since)


def record_unless_limited(engine: Engine, client: str, now: float, since: float, limit: int) -> list[float]:
    """One atomic check-and-record: when this client has fewer than `limit` failures after `since`, record one more
    at `now`. Returns the failures after `since` as they were *before* this call, oldest first, so the caller
    knows whether it was recorded (fewer than `limit`) or refused (the client is over the limit).

    The client's row is created or locked by a single upsert, and the transaction holds that lock until it commits,
    so concurrent failures from one client are counted one after the other on PostgreSQL (SQLite's BEGIN
    IMMEDIATE serialises every writer anyway). Separate SELECT-then-INSERT statements let 32 simultaneous guesses
    all see "4 so far" and all get through."""
    client = client[:CLIENT_MAX]
    with engine.begin() as conn:
        times = _within(conn.execute(_lock_row(conn, client, now)).scalar_one(), since)
        if len(times) >= limit:
            return times
        kept = [*times, now][-limit:]  # older failures can never matter again: the window needs `limit` of them
        conn.execute(auth_failures.update().where(auth_failures.c.client == client).values(failures=kept, last_at=now))
        _forget_idle(conn, since)
    return times


def clear(engine: Engine, client: str) -> None:
    with engine.begin() as conn:
        conn.execute(auth_failures.delete().where(auth_failures.c.client == client[:CLIENT_MAX]))


def _lock_row(conn: sa.Connection, client: str, now: float) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING: creates the row or locks the existing one, in one statement
    (a plain "insert if missing, then SELECT ... FOR UPDATE" can lose the row to a concurrent clean-up between
    the two). The no-op update (client = client) exists only to take the lock and return the stored times."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(auth_failures).values(client=client, failures=[], last_at=now)
    return insert.on_conflict_do_update(
        index_elements=[auth_failures.c.client], set_={"client": insert.excluded.client}
    ).returning(auth_failures.c.failures)


def _forget_idle(conn: sa.Connection, since: float) -> None:
    # Rows whose newest failure left the window hold nothing: drop them so the table stays as small as the set of
    # addresses failing right now. SKIP LOCKED (PostgreSQL; SQLite has one writer anyway) never waits for a row
    # another transaction is counting, so two clean-ups cannot deadlock.
    idle = sa.select(auth_failures.c.client).where(auth_failures.c.last_at <= since).with_for_update(skip_locked=True)
    conn.execute(auth_failures.delete().where(auth_failures.c.client.in_(idle.scalar_subquery())))


def _within(times: Any, since: float) -> list[float]:
    if not isinstance(times, list):
        return []
    return sorted(float(at) for at in times if float(at) > since)
