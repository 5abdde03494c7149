"""What the API and the dashboard show of a run: the row, plus figures merged from its shards (live while it
runs, frozen once it ends) and the verdict of its thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from load_harness.context import iso
from load_harness.driver.plan import StageRecord
from load_harness.driver.state import DriverState, Summary
from load_harness.driver.summary import StateError
from load_harness.driver.thresholds import ThresholdError, ThresholdResult, evaluate, parse_threshold
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOptions, RunOrigin, RunStatus


def shard_states(shards: list[run_store.Shard]) -> list[DriverState]:
    """The states the run's shards last wrote; a row that does not validate (a foreign writer) is left out."""
    return [shard.state for shard in shards if shard.state is not None]


def current_summary(engine: Engine, run: run_store.Run, shards: list[run_store.Shard] | None = None) -> Summary | None:
    """The frozen summary of a finished run, or the live merge of its shards' latest states (`shards`, when the
    caller has read them already)."""
    if not run.active:
        return run.summary
    states = shard_states(run_store.shards_of(engine, run.id) if shards is None else shards)
    if not states:
        return None
    try:
        return run_store.merged_summary(states)
    except StateError:
        return None


def threshold_results(run: run_store.Run, summary: Summary | None) -> list[ThresholdResult]:
    if summary is None:
        return []
    try:
        return evaluate([parse_threshold(t) for t in run.options.thresholds], summary)
    except ThresholdError:
        return []


class Headline(BaseModel):
    """The few numbers a list row shows."""

    completed: int
    errors: int
    error_rate_pct: float
    completed_rps: float
    p50_ms: float
    p99_ms: float
    pods: int


def headline(summary: Summary | None) -> Headline | None:
    if summary is None:
        return None
    return Headline(
        completed=summary.requests.completed,
        errors=summary.requests.errors,
        error_rate_pct=summary.requests.error_rate_pct,
        completed_rps=summary.throughput.completed_rps,
        p50_ms=summary.latency_ms.response.p50,
        p99_ms=summary.latency_ms.response.p99,
        pods=len(summary.pods),
    )


class Links(BaseModel):
    self: str
    stop: str


class ShardStatus(BaseModel):
    index: int
    host: str
    pid: int
    finished: bool
    updated_at: str | None


class RunView(BaseModel):
    """One run as GET /runs lists it."""

    run_id: str
    status: RunStatus
    source: RunOrigin
    target: str
    mode: Literal["rate", "concurrency"]
    start_target: float
    stages: list[StageRecord]
    duration_s: float | None
    shards: int
    pod: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    stop_requested: bool
    error: str | None
    thresholds: list[ThresholdResult]
    passed: bool | None  # None: no thresholds, or no figures yet
    headline: Headline | None
    links: Links


class RunDetailView(RunView):
    """One run as GET /runs/{id} shows it: the merged figures, the shards, the options."""

    summary: Summary | None
    shard_status: list[ShardStatus]
    options: RunOptions


def run_view(engine: Engine, run: run_store.Run) -> RunView:
    return _view(run, current_summary(engine, run))


def _view(run: run_store.Run, summary: Summary | None) -> RunView:
    checks = threshold_results(run, summary)
    return RunView(
        run_id=run.id,
        status=run.status,
        source=run.source,
        target=run.target,
        mode="rate" if run.plan.mode == "open" else "concurrency",
        start_target=run.plan.start_target,
        stages=run.plan.stages,
        duration_s=run.plan.duration_s,
        shards=run.shards,
        pod=run.pod,
        created_at=iso(run.created_at),
        started_at=iso(run.started_at),
        finished_at=iso(run.finished_at),
        stop_requested=run.stop_requested,
        error=run.error,
        thresholds=checks,
        passed=all(check.passed for check in checks) if checks else None,
        headline=headline(summary),
        links=Links(self=f"/runs/{run.id}", stop=f"/runs/{run.id}/stop"),
    )


def run_detail(engine: Engine, run: run_store.Run) -> RunDetailView:
    shards = run_store.shards_of(engine, run.id)  # read once: for the live figures and the shard table
    summary = current_summary(engine, run, shards)
    return RunDetailView(
        **dict(_view(run, summary)),
        summary=summary,
        shard_status=[
            ShardStatus(index=s.shard_index, host=s.host, pid=s.pid, finished=s.finished, updated_at=iso(s.updated_at))
            for s in shards
        ],
        options=run.options,
    )
