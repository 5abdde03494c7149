"""The exact merge of shard states, and the human-facing summary of a state (driver/state.py has the records).

Counters and histograms add exactly, so merge(states) of shards equals one process having done all the work.
"""

from __future__ import annotations

from collections.abc import Iterable

from load_harness.driver import histo
from load_harness.driver.plan import Plan, target_integral
from load_harness.driver.recorder import MAX_PODS, OTHER_POD
from load_harness.driver.series import merge_series
from load_harness.driver.state import (
    Connections,
    Counters,
    DriverState,
    LatencyData,
    LatencyReport,
    LatencyStats,
    PodCounts,
    PodRow,
    RequestCounts,
    ShardSet,
    StopReason,
    Summary,
    TargetCurve,
    Throughput,
)

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


class StateError(ValueError):
    pass


def _add_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return total


def _add_counters(parts: list[Counters]) -> Counters:
    names = Counters.model_fields
    return Counters(**{name: sum(getattr(part, name) for part in parts) for name in names})


def merge(states: list[DriverState]) -> DriverState:
    """Add shard/replica states together: counters and histograms exactly, series per epoch second."""
    if not states:
        raise StateError("nothing to merge")
    first = states[0]
    started = min(s.started_at for s in states)
    ended = max(s.started_at + s.duration_s for s in states)
    reasons = {s.stop_reason for s in states if s.stop_reason}
    messages = list(dict.fromkeys(s.message for s in states if s.message))
    return DriverState(
        run_id=next((s.run_id for s in states if s.run_id), None),
        shards=ShardSet(
            count=max(s.shards.count for s in states),
            indices=sorted({i for s in states for i in s.shards.indices}),
        ),
        plan=first.plan.model_copy(update={"shard_index": 0, "shards": 1}),
        started_at=started,
        updated_at=max(s.updated_at for s in states),
        duration_s=ended - started,
        finished=all(s.finished for s in states),
        stop_reason=next((r for r in StopReason if r in reasons), None),  # the most severe reason
        message="; ".join(messages) or None,
        in_flight=sum(s.in_flight for s in states),
        connections=Connections(
            opened=sum(s.connections.opened for s in states),
            reconnects=sum(s.connections.reconnects for s in states),
        ),
        counters=_add_counters([s.counters for s in states]),
        status_codes=dict(sorted(_add_counts(s.status_codes for s in states).items())),
        error_classes=_add_counts(s.error_classes for s in states),
        error_details=_add_counts(s.error_details for s in states),
        latency=LatencyData(
            response=histo.encode(histo.merge_encoded([s.latency.response for s in states])),
            service=histo.encode(histo.merge_encoded([s.latency.service for s in states])),
            max_response_us=max(s.latency.max_response_us for s in states),
            max_service_us=max(s.latency.max_service_us for s in states),
        ),
        pods=_merge_pods(states),
        series=merge_series([s.series for s in states]),
    )


def _merge_pods(states: list[DriverState]) -> dict[str, PodCounts]:
    by_name: dict[str, list[PodCounts]] = {}
    for state in states:
        for name, pod in state.pods.items():
            by_name.setdefault(name, []).append(pod)
    ranked = sorted(by_name, key=lambda n: -sum(p.count for p in by_name[n]))
    keep = [n for n in ranked if n != OTHER_POD][:MAX_PODS]
    groups: dict[str, list[PodCounts]] = {n: by_name[n] for n in keep}
    overflow = [p for n in ranked if n not in groups for p in by_name[n]]
    if overflow:
        groups[OTHER_POD] = overflow
    return {
        name: PodCounts(
            count=sum(p.count for p in pods),
            errors=sum(p.errors for p in pods),
            service=histo.encode(histo.merge_encoded([p.service for p in pods])),
        )
        for name, pods in groups.items()
    }


def _ms(us: float) -> float:
    return round(us / 1000.0, 3)


def latency_summary(payload: str, exact_max_us: int) -> LatencyStats:
    hist = histo.decode(payload)
    pcts = histo.percentiles(hist, list(PERCENTILES))
    # HDR reports the top of a value's bucket; clamp to the exact max so no percentile exceeds max.
    top = exact_max_us or hist.get_max_value()
    return LatencyStats(
        count=hist.total_count,
        p50=_ms(min(pcts[50.0], top)),
        p90=_ms(min(pcts[90.0], top)),
        p95=_ms(min(pcts[95.0], top)),
        p99=_ms(min(pcts[99.0], top)),
        p99_9=_ms(min(pcts[99.9], top)),
        max=_ms(top),
        min=_ms(hist.get_min_value()) if hist.total_count else 0.0,
        mean=_ms(histo.mean_us(hist)),
    )


def summarize(state: DriverState) -> Summary:
    """The human-facing summary (what --json prints): percentiles in ms, rates, classes, pods, series."""
    plan = Plan.from_record(state.plan)
    open_loop = plan.mode == "open"
    counters = state.counters
    duration = state.duration_s
    completed = counters.completed
    dropped = counters.total_dropped()
    latency = state.latency
    throughput = Throughput(
        sent_rps=round(counters.sent / duration, 2) if duration > 0 else 0.0,
        completed_rps=round(completed / duration, 2) if duration > 0 else 0.0,
    )
    if open_loop and duration > 0:
        # A state holding only some shards of a run (one pod's share) owes only their share of the arrivals.
        share = len(state.shards.indices) / max(state.shards.count, 1)
        expected = target_integral(plan, duration) * share
        throughput.target_rps = round(expected / duration, 2)
        throughput.pacing_error_pct = round((counters.sent - expected) / expected * 100, 3) if expected else 0.0
    pods_total = sum(p.count for p in state.pods.values()) or 1
    pods = []
    for name, pod in sorted(state.pods.items(), key=lambda kv: -kv[1].count):
        pcts = histo.percentiles(histo.decode(pod.service), [50.0, 99.0])
        pods.append(
            PodRow(
                pod=name,
                count=pod.count,
                share_pct=round(pod.count / pods_total * 100, 2),
                errors=pod.errors,
                p50_ms=_ms(pcts[50.0]),
                p99_ms=_ms(pcts[99.0]),
            )
        )
    return Summary(
        run_id=state.run_id,
        url=plan.url,
        method=plan.method,
        mode=plan.mode,
        target=TargetCurve(
            kind="rate" if open_loop else "concurrency", start=plan.start_target, stages=state.plan.stages
        ),
        shards=state.shards.count,
        started_at=state.started_at,
        duration_s=round(duration, 3),
        finished=state.finished,
        stop_reason=state.stop_reason,
        message=state.message,
        requests=RequestCounts(
            **counters.model_dump(),
            dropped=dropped,
            in_flight=state.in_flight,
            error_rate_pct=round(counters.errors / completed * 100, 3) if completed else 0.0,
            dropped_pct=round(dropped / counters.scheduled * 100, 3) if counters.scheduled else 0.0,
        ),
        throughput=throughput,
        latency_ms=LatencyReport(
            corrected=open_loop,
            note=(
                "response: from the scheduled send time (coordinated-omission corrected); service: from the actual send"
                if open_loop
                else "closed loop: service time from the actual send (no schedule to correct against)"
            ),
            response=latency_summary(latency.response, latency.max_response_us),
            service=latency_summary(latency.service, latency.max_service_us),
        ),
        status_codes=state.status_codes,
        error_classes=state.error_classes,
        error_details=state.error_details,
        pods=pods,
        connections=state.connections,
        series=state.series,
    )
