"""What the API and the dashboard show of a run: the row, plus figures merged from its shards (live while it
runs, frozen once it ends) and the verdict of its thresholds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from load_harness.context import iso
from load_harness.driver.state import DriverState, Summary
from load_harness.driver.summary import StateError
from load_harness.driver.thresholds import ThresholdError, ThresholdResult, evaluate, parse_threshold
from load_harness.runs import repository as run_store
from load_harness.runs.store_sink import merged_summary, state_of


def shard_states(engine: Engine, run: run_store.Run) -> list[DriverState]:
    """The states the run's shards last wrote; a row that does not validate (a foreign writer) is left out."""
    states = []
    for shard in run_store.shards_of(engine, run.id):
        if shard.state:
            try:
                states.append(state_of(shard.state))
            except ValidationError:
                continue
    return states


def current_summary(engine: Engine, run: run_store.Run) -> Summary | None:
    """The frozen summary of a finished run, or the live merge of its shards' latest states."""
    if run.summary is not None and not run.active:
        try:
            return Summary.model_validate(run.summary)
        except ValidationError:
            return None
    states = shard_states(engine, run)
    if not states:
        return None
    try:
        return merged_summary(states)
    except StateError:
        return None


def threshold_results(run: run_store.Run, summary: Summary | None) -> list[ThresholdResult]:
    if summary is None:
        return []
    try:
        return evaluate([parse_threshold(t) for t in run.options.get("thresholds", [])], summary)
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


def run_view(engine: Engine, run: run_store.Run, detail: bool = False) -> dict[str, Any]:
    """The JSON of GET /runs/{id} (and of each item of GET /runs)."""
    summary = current_summary(engine, run)
    checks = threshold_results(run, summary)
    head = headline(summary)
    plan = run.plan
    view: dict[str, Any] = {
        "run_id": run.id,
        "status": run.status,
        "source": run.source,
        "target": run.target,
        "mode": "rate" if plan.get("mode") == "open" else "concurrency",
        "start_target": plan.get("start_target"),
        "stages": plan.get("stages"),
        "duration_s": plan.get("duration_s"),
        "shards": run.shards,
        "pod": run.pod,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "stop_requested": run.stop_requested,
        "error": run.error,
        "thresholds": [check.model_dump(mode="json") for check in checks],
        "passed": all(check.passed for check in checks) if checks else None,
        "headline": None if head is None else head.model_dump(mode="json"),
        "links": {"self": f"/runs/{run.id}", "stop": f"/runs/{run.id}/stop"},
    }
    if detail:
        view["summary"] = None if summary is None else summary.model_dump(mode="json")
        view["shard_status"] = [
            {
                "index": s.shard_index,
                "host": s.host,
                "pid": s.pid,
                "finished": s.finished,
                "updated_at": iso(s.updated_at),
            }
            for s in run_store.shards_of(engine, run.id)
        ]
        view["options"] = run.options
    return view
