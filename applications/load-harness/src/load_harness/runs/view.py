"""What the API and the dashboard show of a run: the row, plus figures merged from its shards (live while it
runs, frozen once it ends) and the verdict of its thresholds."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from load_harness.context import iso
from load_harness.driver.summary import StateError
from load_harness.driver.thresholds import ThresholdError, evaluate, parse_threshold
from load_harness.runs.sink import merged_summary
from load_harness.store import runs as run_store


def current_summary(engine: Engine, run: run_store.Run) -> dict[str, Any] | None:
    if run.summary is not None and not run.active:
        return run.summary
    states = [shard.state for shard in run_store.shards_of(engine, run.id) if shard.state]
    if not states:
        return None
    try:
        return merged_summary(states)
    except (StateError, KeyError, ValueError):
        return None


def threshold_results(run: run_store.Run, summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    if summary is None:
        return []
    try:
        return evaluate([parse_threshold(t) for t in run.options.get("thresholds", [])], summary)
    except ThresholdError:
        return []


def headline(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The few numbers a list row shows."""
    if summary is None:
        return None
    response = summary["latency_ms"]["response"]
    return {
        "completed": summary["requests"]["completed"],
        "errors": summary["requests"]["errors"],
        "error_rate_pct": summary["requests"]["error_rate_pct"],
        "completed_rps": summary["throughput"]["completed_rps"],
        "p50_ms": response.get("p50"),
        "p99_ms": response.get("p99"),
        "pods": len(summary["pods"]),
    }


def run_view(engine: Engine, run: run_store.Run, detail: bool = False) -> dict[str, Any]:
    summary = current_summary(engine, run)
    checks = threshold_results(run, summary)
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
        "thresholds": checks,
        "passed": all(c["passed"] for c in checks) if checks else None,
        "headline": headline(summary),
        "links": {"self": f"/runs/{run.id}", "stop": f"/runs/{run.id}/stop"},
    }
    if detail:
        view["summary"] = summary
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
