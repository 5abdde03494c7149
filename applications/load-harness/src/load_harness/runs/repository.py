"""The runs repository: driver runs and the cumulative state each shard writes about once a second.

A run's live figures are the exact merge of its shards' states (HDR histograms and counters add), whichever
process or pod each shard ran in. When the last shard finishes, the merged summary is frozen on the run row."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from load_harness.driver.plan import PlanRecord
from load_harness.driver.state import DriverState, StopReason, Summary
from load_harness.driver.summary import merge, summarize
from load_harness.runs.model import ACTIVE_STATUSES, RunOptions, RunOrigin, RunStatus
from load_harness.store.jobs import _lock_pod as lock_pod  # one admission lock per pod for jobs and runs
from load_harness.store.tables import run_shards, runs
from load_harness.store.upsert import insert_ignore

Clock = Callable[[], float]
# A shard that has not written for this long is presumed dead (its process or pod is gone).
STALE_SHARD_S = 30.0
# The driver's stop reason (a summary's stop_reason) → the run's final status.
STOP_REASON_TO_STATUS = {
    StopReason.COMPLETED: RunStatus.COMPLETED,
    StopReason.REQUESTS: RunStatus.COMPLETED,
    StopReason.STOPPED: RunStatus.STOPPED,
    StopReason.INTERRUPTED: RunStatus.INTERRUPTED,
    StopReason.ABORTED: RunStatus.FAILED,
}


def _summary(data: object) -> Summary | None:
    """A stored summary, or None when there is none or it no longer validates (a row from a foreign writer)."""
    if data is None:
        return None
    try:
        return Summary.model_validate(data)
    except ValidationError:
        return None


@dataclass(frozen=True)
class Run:
    """A run row, typed: the JSON columns are read into the driver's and the feature's records here."""

    id: str
    status: RunStatus
    source: RunOrigin
    pod: str | None
    claimed_by: str | None
    target: str
    plan: PlanRecord
    options: RunOptions
    shards: int
    stop_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    summary: Summary | None
    error: str | None

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Run:
        values = row._asdict()
        return cls(
            **{
                **values,
                "status": RunStatus(values["status"]),
                "source": RunOrigin(values["source"]),
                "plan": PlanRecord.model_validate(values["plan"]),
                "options": RunOptions.model_validate(values["options"] or {}),
                "summary": _summary(values["summary"]),
            }
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class Shard:
    run_id: str
    shard_index: int
    host: str
    pid: int
    finished: bool
    state: DriverState | None  # None before the first report, or when the stored state does not validate
    updated_at: float

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Shard:
        values = row._asdict()
        return cls(**{**values, "state": _state(values["state"])})


def _state(data: object) -> DriverState | None:
    if data is None:
        return None
    try:
        return DriverState.model_validate(data)
    except ValidationError:
        return None


@dataclass(frozen=True)
class RunBudget:
    """What one pod's supervisor may run at once: runs (pending or running) and their shard processes."""

    max_runs: int
    max_shard_processes: int


class RunAdmissionError(Exception):
    """The pod has no room for this run; the message names the limit and its setting."""


class DuplicateRun(Exception):
    """An active run already holds the dedupe key; `run` is that run."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.id} with the same dedupe key is still {run.status}")
        self.run = run


def new_run_id(now: float) -> str:
    return f"run_{int(now * 1000)}_{secrets.token_hex(3)}"


def create(
    engine: Engine,
    *,
    target: str,
    plan: PlanRecord,
    options: RunOptions,
    shards: int,
    source: RunOrigin,
    pod: str | None,
    budget: RunBudget | None = None,
    dedupe_key: str | None = None,
    clock: Clock = time.time,
) -> Run:
    """Insert a pending run. With `budget`, a run for a pod is admitted only within the pod's budget (else
    RunAdmissionError); with `dedupe_key`, an active run holding the same key raises DuplicateRun instead.

    Checks and insert share one write transaction, as job admission does: BEGIN IMMEDIATE on SQLite serialises
    every writer; on PostgreSQL an advisory lock on the key and a row lock on the pod row serialise the requests
    that could collide. So concurrent requests cannot all pass a check before any of them has inserted."""
    now = clock()
    run_id = new_run_id(now)
    if dedupe_key is not None:
        options = options.model_copy(update={"dedupe": dedupe_key})
    with engine.begin() as conn:
        if dedupe_key is not None:
            _lock_key(conn, dedupe_key)  # taken before the pod lock, always: no lock-order deadlock
            for row in conn.execute(runs.select().where(runs.c.status.in_(ACTIVE_STATUSES))):
                if (row.options or {}).get("dedupe") == dedupe_key:  # raw JSON: no need to validate every row
                    raise DuplicateRun(Run.from_row(row))
        if pod is not None and budget is not None:
            lock_pod(conn, pod)
            _admit(conn, pod, shards, budget)
        conn.execute(
            runs.insert().values(
                id=run_id,
                status=RunStatus.PENDING,
                source=source,
                pod=pod,
                target=target,
                plan=plan.model_dump(mode="json"),
                options=options.model_dump(mode="json", exclude_none=True),
                shards=shards,
                stop_requested=False,
                created_at=now,
            )
        )
        return Run.from_row(conn.execute(runs.select().where(runs.c.id == run_id)).one())


def _lock_key(conn: sa.Connection, key: str) -> None:
    # A transaction-scoped lock without a table or a migration; SQLite's BEGIN IMMEDIATE already serialises.
    if conn.dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(number)))


def _admit(conn: sa.Connection, pod: str, shards: int, budget: RunBudget) -> None:
    active = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(runs.c.shards), 0)).where(
            runs.c.pod == pod, runs.c.status.in_(ACTIVE_STATUSES)
        )
    ).one()
    count, processes = int(active[0]), int(active[1])
    if count + 1 > budget.max_runs:
        raise RunAdmissionError(
            f"pod {pod} already has {count} active runs (pending or running); the limit is {budget.max_runs} "
            "(MAX_CONCURRENT_RUNS)"
        )
    if processes + shards > budget.max_shard_processes:
        raise RunAdmissionError(
            f"pod {pod} already runs {processes} driver shard processes; {shards} more would exceed "
            f"{budget.max_shard_processes} (MAX_SHARD_PROCESSES)"
        )


def get(engine: Engine, run_id: str) -> Run | None:
    with engine.connect() as conn:
        row = conn.execute(runs.select().where(runs.c.id == run_id)).first()
    return Run.from_row(row) if row else None


def list_runs(
    engine: Engine,
    limit: int = 50,
    statuses: Sequence[str] | None = None,
    source: str | None = None,
    target_contains: str | None = None,
) -> list[Run]:
    query = runs.select().order_by(runs.c.created_at.desc()).limit(limit)
    if statuses:
        query = query.where(runs.c.status.in_(statuses))
    if source:
        query = query.where(runs.c.source == source)
    if target_contains:
        query = query.where(runs.c.target.contains(target_contains, autoescape=True))
    with engine.connect() as conn:
        return [Run.from_row(row) for row in conn.execute(query)]


def shards_of(engine: Engine, run_id: str) -> list[Shard]:
    with engine.connect() as conn:
        query = run_shards.select().where(run_shards.c.run_id == run_id).order_by(run_shards.c.shard_index)
        return [Shard.from_row(row) for row in conn.execute(query)]


def request_stop(engine: Engine, run_id: str) -> bool:
    """Flag an active run; its shards see the flag within a second, wherever they run."""
    with engine.begin() as conn:
        result = conn.execute(
            runs.update().where(runs.c.id == run_id, runs.c.status.in_(ACTIVE_STATUSES)).values(stop_requested=True)
        )
    return bool(result.rowcount)


def stop_requested(engine: Engine, run_id: str) -> bool:
    with engine.connect() as conn:
        flag = conn.execute(sa.select(runs.c.stop_requested).where(runs.c.id == run_id)).scalar()
    return bool(flag)


def claim(engine: Engine, pod: str, supervisor_id: str) -> list[Run]:
    """Pending runs this pod's supervisor must launch."""
    with engine.begin() as conn:
        where = [runs.c.pod == pod, runs.c.status == RunStatus.PENDING, runs.c.claimed_by.is_(None)]
        claimed = [Run.from_row(r) for r in conn.execute(runs.select().where(*where))]
        if claimed:
            ids = [r.id for r in claimed]
            conn.execute(runs.update().where(runs.c.id.in_(ids)).values(claimed_by=supervisor_id))
    return claimed


def shard_started(engine: Engine, run_id: str, index: int, host: str, pid: int, clock: Clock = time.time) -> None:
    now = clock()
    with engine.begin() as conn:
        insert_ignore(
            conn, run_shards, run_id=run_id, shard_index=index, host=host, pid=pid, finished=False, updated_at=now
        )
        conn.execute(
            run_shards.update()
            .where(run_shards.c.run_id == run_id, run_shards.c.shard_index == index)
            .values(host=host, pid=pid, finished=False, updated_at=now)
        )
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == RunStatus.PENDING)
            .values(status=RunStatus.RUNNING, started_at=now)
        )


def shard_progress(
    engine: Engine, run_id: str, index: int, state: DriverState, finished: bool = False, clock: Clock = time.time
) -> None:
    with engine.begin() as conn:
        conn.execute(
            run_shards.update()
            .where(run_shards.c.run_id == run_id, run_shards.c.shard_index == index)
            .values(state=state.model_dump(mode="json"), finished=finished, updated_at=clock())
        )


def merged_summary(states: list[DriverState]) -> Summary:
    """The one function that turns shard states into a run's figures (live view and frozen summary alike)."""
    return summarize(merge(states))


def finish_if_complete(engine: Engine, run_id: str, clock: Clock = time.time) -> Run | None:
    """Close the run once every shard has finished: freeze the merged summary and derive the status."""
    with engine.begin() as conn:
        run = conn.execute(runs.select().where(runs.c.id == run_id).with_for_update()).first()
        if run is None or run.status not in ACTIVE_STATUSES:
            return None
        shard_rows = conn.execute(run_shards.select().where(run_shards.c.run_id == run_id)).all()
        if len(shard_rows) < run.shards or not all(s.finished for s in shard_rows):
            return None
        states = [state for state in (_state(s.state) for s in shard_rows) if state is not None]
        summary = merged_summary(states) if states else None
        reason = (summary.stop_reason if summary else None) or StopReason.COMPLETED
        status = (
            RunStatus.STOPPED
            if run.stop_requested and reason is StopReason.COMPLETED
            else STOP_REASON_TO_STATUS.get(reason, RunStatus.FAILED)
        )
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                status=status,
                finished_at=clock(),
                summary=None if summary is None else summary.model_dump(mode="json"),
                error=summary.message if summary else None,
            )
        )
        return Run.from_row(conn.execute(runs.select().where(runs.c.id == run_id)).one())


def fail(engine: Engine, run_id: str, status: RunStatus, error: str, clock: Clock = time.time) -> None:
    """End an active run that can no longer finish on its own (its launcher died, a shard went silent)."""
    with engine.begin() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status.in_(ACTIVE_STATUSES))
            .values(status=status, finished_at=clock(), error=error)
        )


def mark_interrupted(engine: Engine, pod: str, supervisor_id: str, clock: Clock = time.time) -> int:
    """Runs this pod launched under an earlier supervisor died with it."""
    with engine.begin() as conn:
        result = conn.execute(
            runs.update()
            .where(
                runs.c.pod == pod,
                runs.c.status.in_(ACTIVE_STATUSES),
                runs.c.claimed_by.is_not(None),
                runs.c.claimed_by != supervisor_id,
            )
            .values(status=RunStatus.INTERRUPTED, finished_at=clock(), error="the process that ran this run died")
        )
    return int(result.rowcount or 0)


def stale_runs(engine: Engine, clock: Clock = time.time) -> list[str]:
    """Running runs whose every shard has gone silent for STALE_SHARD_S (their processes were killed)."""
    cutoff = clock() - STALE_SHARD_S
    with engine.connect() as conn:
        latest = (
            sa.select(run_shards.c.run_id, sa.func.max(run_shards.c.updated_at).label("latest"))
            .group_by(run_shards.c.run_id)
            .subquery()
        )
        query = (
            sa.select(runs.c.id)
            .join(latest, latest.c.run_id == runs.c.id)
            .where(runs.c.status == RunStatus.RUNNING, latest.c.latest < cutoff)
        )
        return list(conn.execute(query).scalars())
