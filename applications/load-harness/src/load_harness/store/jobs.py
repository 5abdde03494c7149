"""The jobs repository: every read and write of job rows goes through here.

Web workers create rows and request stops; the pod's supervisor claims rows, records measurements and finishes
them. Because both sides only talk through these rows, any worker or replica sees and can stop any job.

A `POST /load/memory/sync` holds memory inside a web worker, not in a job; it reserves its bytes with a row of
kind "memory-sync" for as long as it runs, so syncs and memory jobs share one memory budget per pod. Such a row is
owned by the web worker (claimed_by names the process), never claimed by the supervisor, and deleted when the
sync returns. If the worker dies first, the supervisor marks the row lost (`reap_syncs`); until then its deadline
bounds how long it can count.
"""

from __future__ import annotations

import os
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
SYNC_KIND = "memory-sync"
JOB_KINDS = ("cpu", "memory")  # what the supervisor runs, and what lists and counts show
ID_PREFIX = {"cpu": "job", "memory": "mem", SYNC_KIND: "sync"}


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


def _memory_held(conn: sa.Connection, pod: str, now: float) -> int:
    """Bytes held on this pod by running memory jobs and by syncs still within their deadline."""
    live_sync = sa.and_(jobs.c.kind == SYNC_KIND, jobs.c.deadline_at > now)
    query = sa.select(sa.func.coalesce(sa.func.sum(jobs.c.memory_bytes), 0)).where(
        jobs.c.pod == pod, jobs.c.status == ACTIVE_STATUS, sa.or_(jobs.c.kind != SYNC_KIND, live_sync)
    )
    return int(conn.execute(query).scalar_one())


def _memory_refusal(pod: str, held: int, adding: int, budget_bytes: int) -> AdmissionError | None:
    if held + adding <= budget_bytes:
        return None
    return AdmissionError(
        f"pod {pod} holds {held // 2**20} MiB in memory jobs and /load/memory/sync requests; adding "
        f"{adding // 2**20} MiB would exceed {budget_bytes // 2**20} MiB (the memory limit minus MEMORY_SAFETY_MB)"
    )


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
            ).where(jobs.c.pod == new.pod, jobs.c.status == ACTIVE_STATUS, jobs.c.kind.in_(JOB_KINDS))
        ).one()
        count, cores = int(running[0]), float(running[1])
        if count + 1 > budget.max_jobs:
            raise AdmissionError(
                f"pod {new.pod} already runs {count} jobs; the limit is {budget.max_jobs} (MAX_CONCURRENT_JOBS)"
            )
        if new.cpu_cores and cores + new.cpu_cores > budget.cpu_cores + 1e-9:
            raise AdmissionError(
                f"pod {new.pod} burns {cores:g} cores in running jobs; adding {new.cpu_cores:g} would exceed "
                f"the budget of {budget.cpu_cores:g} cores (available cores × CPU_OVERCOMMIT)"
            )
        if new.memory_bytes:
            refusal = _memory_refusal(new.pod, _memory_held(conn, new.pod, now), new.memory_bytes, budget.memory_bytes)
            if refusal is not None:
                raise refusal
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


def reserve_memory(
    engine: Engine,
    pod: str,
    memory_bytes: int,
    hold_s: float,
    budget_bytes: int,
    params: dict[str, Any],
    owner: str,
    clock: Clock = time.time,
) -> Job:
    """Reserve memory for a sync allocation in the pod's one memory budget; raise AdmissionError when it is full.

    Atomic like `create` (same lock). The row counts until `release` deletes it, the supervisor reaps it because
    its owner died, or `hold_s` has passed, whichever comes first. Syncs are requests, not jobs: they do not count
    against MAX_CONCURRENT_JOBS, only against memory."""
    now = clock()
    with engine.begin() as conn:
        _lock_pod(conn, pod)
        refusal = _memory_refusal(pod, _memory_held(conn, pod, now), memory_bytes, budget_bytes)
        if refusal is not None:
            raise refusal
        job_id = new_job_id(SYNC_KIND, now)
        conn.execute(
            jobs.insert().values(
                id=job_id,
                kind=SYNC_KIND,
                params=params,
                pod=pod,
                status=ACTIVE_STATUS,
                claimed_by=owner,  # never NULL, so the supervisor never claims it as a job to start
                stop_requested=False,
                cpu_cores=0.0,
                memory_bytes=memory_bytes,
                created_at=now,
                started_at=now,
                deadline_at=now + hold_s,
            )
        )
        return Job.from_row(conn.execute(jobs.select().where(jobs.c.id == job_id)).one())


def release(engine: Engine, job_id: str) -> None:
    """End a sync's reservation. Deleted rather than finished: a load test makes one per request."""
    with engine.begin() as conn:
        conn.execute(jobs.delete().where(jobs.c.id == job_id, jobs.c.kind == SYNC_KIND))


_OWNER: tuple[int, str] | None = None


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses): state is [0]."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        return stat.read().rpartition(")")[2].split()


def owner_of(pid: int) -> str:
    """A process, named so that a reused pid does not pass for it: pid and start time in clock ticks since boot.

    The raw ticks, not psutil's create_time(): that adds /proc/stat's btime, which the kernel derives from the
    wall clock and which moves by a second on a busy VM, so the same process would read as another one."""
    return f"pid:{pid}:{_stat_fields(pid)[19]}"


def process_owner() -> str:
    """This process's owner_of name, computed once per process."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:  # a forked worker must not keep its parent's name
        _OWNER = (pid, owner_of(pid))
    return _OWNER[1]


def owner_alive(owner: str) -> bool:
    """True while the process that `process_owner()` named still runs (on this host)."""
    try:
        _, pid, started = owner.split(":")
        fields = _stat_fields(int(pid))
    except (ValueError, OSError):
        return False
    return len(fields) > 19 and fields[19] == started and fields[0] != "Z"


def reap_syncs(engine: Engine, pod: str, alive: Callable[[str], bool] = owner_alive, clock: Clock = time.time) -> int:
    """Mark lost the sync reservations of this pod whose web worker died or whose deadline passed: their memory
    went back to the kernel with the process. Run by the pod's supervisor, which shares the web workers' host."""
    now = clock()
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.claimed_by, jobs.c.deadline_at).where(
                jobs.c.pod == pod, jobs.c.kind == SYNC_KIND, jobs.c.status == ACTIVE_STATUS
            )
        ).all()
        gone = [row.id for row in rows if row.deadline_at <= now or not alive(row.claimed_by or "")]
        if gone:
            conn.execute(
                jobs.update()
                .where(jobs.c.id.in_(gone), jobs.c.status == ACTIVE_STATUS)
                .values(status="lost", finished_at=now, error="the web worker that held this allocation died")
            )
    return len(gone)


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
    """Jobs, newest first: one kind, or every job kind (sync reservations are requests, not jobs)."""
    query = jobs.select().order_by(jobs.c.created_at.desc()).limit(limit)
    query = query.where(jobs.c.kind == kind) if kind else query.where(jobs.c.kind.in_(JOB_KINDS))
    if statuses:
        query = query.where(jobs.c.status.in_(statuses))
    with engine.connect() as conn:
        return [Job.from_row(row) for row in conn.execute(query)]


def count(engine: Engine, kind: str | None = None, status: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(jobs)
    query = query.where(jobs.c.kind == kind) if kind else query.where(jobs.c.kind.in_(JOB_KINDS))
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
        # Sync reservations belong to web workers, which may well outlive a supervisor; reap_syncs handles them.
        result = conn.execute(
            jobs.update()
            .where(jobs.c.pod == pod, jobs.c.status == ACTIVE_STATUS, jobs.c.kind.in_(JOB_KINDS), stale)
            .values(status="lost", finished_at=clock(), error="the process that ran this job died")
        )
    return int(result.rowcount or 0)


def claim(engine: Engine, pod: str, supervisor_id: str, clock: Clock = time.time) -> list[Job]:
    """Take ownership of this pod's new rows; the caller starts their processes."""
    now = clock()
    with engine.begin() as conn:
        where = [
            jobs.c.pod == pod,
            jobs.c.status == ACTIVE_STATUS,
            jobs.c.claimed_by.is_(None),
            jobs.c.kind.in_(JOB_KINDS),
        ]
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
