"""The pods repository: one row per pod for the supervisor's heartbeat and the pod's run-time chaos settings."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from load_harness.store.tables import pods
from load_harness.store.upsert import insert_ignore


@dataclass(frozen=True)
class Chaos:
    fail_rate: float
    latency_ms: int


def register_supervisor(engine: Engine, pod: str, supervisor_id: str, clock: float | None = None) -> None:
    now = time.time() if clock is None else clock
    with engine.begin() as conn:
        updated = conn.execute(
            pods.update()
            .where(pods.c.name == pod)
            .values(supervisor_id=supervisor_id, started_at=now, heartbeat_at=now)
        )
        if not updated.rowcount:
            conn.execute(pods.insert().values(name=pod, supervisor_id=supervisor_id, started_at=now, heartbeat_at=now))


def heartbeat(engine: Engine, pod: str, now: float) -> None:
    with engine.begin() as conn:
        conn.execute(pods.update().where(pods.c.name == pod).values(heartbeat_at=now))


def get_chaos(engine: Engine, pod: str) -> Chaos | None:
    """The pod's run-time chaos override, or None when the environment defaults apply."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(pods.c.chaos_fail_rate, pods.c.chaos_latency_ms).where(pods.c.name == pod)).first()
    if row is None or row[0] is None:
        return None
    return Chaos(fail_rate=float(row[0]), latency_ms=int(row[1] or 0))


def set_chaos(engine: Engine, pod: str, chaos: Chaos | None) -> None:
    values: dict[str, float | int | None] = {"chaos_fail_rate": None, "chaos_latency_ms": None}
    if chaos is not None:
        values = {"chaos_fail_rate": chaos.fail_rate, "chaos_latency_ms": chaos.latency_ms}
    with engine.begin() as conn:
        insert_ignore(conn, pods, name=pod)
        conn.execute(pods.update().where(pods.c.name == pod).values(**values))


ALL_PODS = "*"  # the row that holds chaos settings for every pod; not a pod itself


def heartbeats(engine: Engine) -> list[tuple[str, float | None]]:
    """Every pod that ever ran a supervisor, with its last heartbeat (epoch seconds), by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(pods.c.name, pods.c.heartbeat_at).where(pods.c.name != ALL_PODS).order_by(pods.c.name)
        )
        return [(str(name), heartbeat) for name, heartbeat in rows]
