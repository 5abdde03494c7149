"""The jobs repository: every read and write of job rows goes through here.

Web workers create rows and request stops; the pod's supervisor claims rows, records measurements and finishes
them. Because both sides only talk through these rows, any worker or replica sees and can stop any job.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from load_harness.store.tables import ACTIVE_STATUS, jobs, pods
from load_harness.store.upsert import insert_ignore

Clock = Callable[[], float]
ID_PREFIX = {"cpu": "job", "memory": "mem"}


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    pod: str
    status: str
    claimed_by: str | None
    stop_requested: bool
    cpu_cores: float
    memory_bytes: int
    created_at: float
    started_at: float | None
    deadline_at: float
    finished_at: float | None
    cpu_seconds: float | None
    peak_rss_bytes: int | None
    error: str | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Job:
        return cls(**row._asdict())


@dataclass(frozen=True)
class NewJob:
    kind: str
    params: dict[str, Any]
    pod: str
    duration_s: float
    cpu_cores: float = 0.0
    memory_bytes: int = 0


@dataclass(frozen=True)
class Budget:
    """What admission control allows on one pod."""

    cpu_cores: float
    max_jobs: int
    memory_bytes: int


class AdmissionError(Exception):
    """The pod has no room for this job; the message says which limit and by how much."""


def new_job_id(kind: str, now: float) -> str:
    # The original's "job_<ms>" shape, plus a random suffix: two workers can start jobs in the same millisecond.
    return f"{ID_PREFIX[kind]}_{int(now * 1000)}_{secrets.token_hex(3)}"


def create(engine: Engine, new: NewJob, budget: Budget, clock: Clock = time.time) -> Job:
    """Insert a running job if the pod's budget allows it; raise AdmissionError otherwise.

    The check and the insert share one write transaction (BEGIN IMMEDIATE on SQLite, a row lock on the pod
    row on PostgreSQL), so concurrent requests cannot both squeeze into the last slot."""
    now = clock()
    with engine.begin() as conn:
        _lock_pod(conn, new.pod)
        running = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(jobs.c.cpu_cores), 0.0),
                sa.func.coalesce(sa.func.sum(jobs.c.memory_bytes), 0),
            ).where(jobs.c.pod == new.pod, jobs.c.status == ACTIVE_STATUS)
        ).one()
        count, cores, held = int(running[0]), float(running[1]), int(running[2])
        if count + 1 > budget.max_jobs:
            raise AdmissionError(
                f"pod {new.pod} already runs {count} jobs; the limit is {budget.max_jobs} (MAX_CONCURRENT_JOBS)"
            )
        if new.cpu_cores and cores + new.cpu_cores > budget.cpu_cores + 1e-9:
            raise AdmissionError(
                f"pod {new.pod} burns {cores:g} cores in running jobs; adding {new.cpu_cores:g} would exceed "
                f"the budget of {budget.cpu_cores:g} cores (available cores × CPU_OVERCOMMIT)"
            )
        if new.memory_bytes and held + new.memory_bytes > budget.memory_bytes:
            raise AdmissionError(
                f"pod {new.pod} holds {held // 2**20} MiB in running jobs; adding {new.memory_bytes // 2**20} MiB "
                f"would exceed {budget.memory_bytes // 2**20} MiB (the memory limit minus MEMORY_SAFETY_MB)"
            )
        job_id = new_job_id(new.kind, now)
        conn.execute(
            jobs.insert().values(
                id=job_id,
                kind=new.kind,
                params=new.params,
                pod=new.pod,
                status=ACTIVE_STATUS,
                claimed_by=None,
                stop_requested=False,
                cpu_cores=new.cpu_cores,
                memory_bytes=new.memory_bytes,
                created_at=now,
                deadline_at=now + new.duration_s,
            )
        )
        return Job.from_row(conn.execute(jobs.select().where(jobs.c.id == job_id)).one())


def _lock_pod(conn: sa.Connection, pod: str) -> None:
    # Serialises admission per pod on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises all writers.
    insert_ignore(conn, pods, name=pod)
    conn.execute(sa.select(pods.c.name).where(pods.c.name == pod).with_for_update())


def get(engine: Engine, job_id: str) -> Job | None:
    with engine.connect() as conn:
        row = conn.execute(jobs.select().where(jobs.c.id == job_id)).first()
    return Job.from_row(row) if row else None


def list_jobs(
    engine: Engine, kind: str | None = None, limit: int = 50, statuses: Sequence[str] | None = None
) -> list[Job]:
    query = jobs.select().order_by(jobs.c.created_at.desc()).limit(limit)
    if kind:
        query = query.where(jobs.c.kind == kind)
    if statuses:
        query = query.where(jobs.c.status.in_(statuses))
    with engine.connect() as conn:
        return [Job.from_row(row) for row in conn.execute(query)]


def count(engine: Engine, kind: str | None = None, status: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(jobs)
    if kind:
        query = query.where(jobs.c.kind == kind)
    if status:
        query = query.where(jobs.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def request_stop(engine: Engine, kind: str, job_id: str | None = None) -> list[str]:
    """Flag running jobs for stopping (one, or all of a kind). Their pod's supervisor acts on the flag."""
    where = [jobs.c.kind == kind, jobs.c.status == ACTIVE_STATUS]
    if job_id is not None:
        where.append(jobs.c.id == job_id)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(jobs.c.id).where(*where)).scalars())
        if ids:
            conn.execute(jobs.update().where(jobs.c.id.in_(ids)).values(stop_requested=True))
    return ids


# --- the supervisor's side -------------------------------------------------------------------------------


def mark_lost(engine: Engine, pod: str, supervisor_id: str, supervisor_started: float, clock: Clock = time.time) -> int:
    """Rows this pod left running under an earlier process cannot be running any more: their burners died with it."""
    with engine.begin() as conn:
        stale = sa.or_(
            sa.and_(jobs.c.claimed_by.is_not(None), jobs.c.claimed_by != supervisor_id),
            sa.and_(jobs.c.claimed_by.is_(None), jobs.c.created_at < supervisor_started),
        )
        result = conn.execute(
            jobs.update()
            .where(jobs.c.pod == pod, jobs.c.status == ACTIVE_STATUS, stale)
            .values(status="lost", finished_at=clock(), error="the process that ran this job died")
        )
    return int(result.rowcount or 0)


def claim(engine: Engine, pod: str, supervisor_id: str, clock: Clock = time.time) -> list[Job]:
    """Take ownership of this pod's new rows; the caller starts their processes."""
    now = clock()
    with engine.begin() as conn:
        where = [jobs.c.pod == pod, jobs.c.status == ACTIVE_STATUS, jobs.c.claimed_by.is_(None)]
        rows = [Job.from_row(r) for r in conn.execute(jobs.select().where(*where))]
        if rows:
            conn.execute(
                jobs.update()
                .where(jobs.c.id.in_([r.id for r in rows]))
                .values(claimed_by=supervisor_id, started_at=now)
            )
    return rows


def stop_requested_ids(engine: Engine, supervisor_id: str) -> set[str]:
    with engine.connect() as conn:
        query = sa.select(jobs.c.id).where(
            jobs.c.claimed_by == supervisor_id,
            jobs.c.status == ACTIVE_STATUS,
            jobs.c.stop_requested.is_(True),
        )
        return set(conn.execute(query).scalars())


def record(engine: Engine, job_id: str, cpu_seconds: float | None, peak_rss_bytes: int | None) -> None:
    """Write the latest measurements of a running job."""
    with engine.begin() as conn:
        conn.execute(
            jobs.update().where(jobs.c.id == job_id).values(cpu_seconds=cpu_seconds, peak_rss_bytes=peak_rss_bytes)
        )


def finish(
    engine: Engine,
    job_id: str,
    status: str,
    cpu_seconds: float | None,
    peak_rss_bytes: int | None,
    error: str | None = None,
    clock: Clock = time.time,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.status == ACTIVE_STATUS)
            .values(
                status=status,
                finished_at=clock(),
                cpu_seconds=cpu_seconds,
                peak_rss_bytes=peak_rss_bytes,
                error=error,
            )
        )
