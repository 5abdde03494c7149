"""The run state (what shards and replicas exchange), its exact merge, and the human-facing summary.

State format "load-harness/driver-state@1", a JSON object:

    format        "load-harness/driver-state@1"
    run_id        str | null
    shards        {"count": N, "indices": [shard indices included in this state]}
    plan          Plan.to_dict() (targets are the whole run's, before splitting)
    started_at    epoch seconds of the first scheduled send (min over merged states)
    updated_at    epoch seconds of this snapshot
    duration_s    send window so far (merged: latest end minus earliest start)
    finished      bool (merged: all finished)
    stop_reason   null while running; completed | requests | stopped | interrupted | aborted
    message       str | null (why it stopped early)
    in_flight     requests awaiting an answer at the snapshot
    connections   {"opened": n, "reconnects": n}
    counters      {"scheduled", "sent", "completed", "responses", "errors", "sent_late", "dropped_late",
                   "dropped_max_in_flight"}
    status_codes  {"200": n, ...}
    error_classes {"connect", "timeout", "4xx", "5xx", "other"}: counts
    error_details {"ConnectionRefusedError": n, "Timeout": n, ...} (at most 32 names + "(other)")
    latency       {"response": HDR, "service": HDR, "max_response_us": int, "max_service_us": int}
                  HDR = base64 compressed HdrHistogram (µs, 1 µs–60 s, 3 digits). "response" is timed from the
                  scheduled send in open loop (corrected), "service" from the actual send; equal in closed loop.
    pods          {name: {"count": n, "errors": n, "service": HDR}} (at most 256 names + "(other)")
    series        {"interval_s": 1, "fields": [t, sent, completed, errors, p50_us, p99_us], "points": [[...]]}

Counters and histograms add exactly, so merge(states) of shards equals one process having done all the work.
"""

from __future__ import annotations

from typing import Any

from load_harness.driver import histo
from load_harness.driver.plan import plan_from_dict, target_integral
from load_harness.driver.recorder import MAX_PODS, OTHER_POD
from load_harness.driver.series import merge_series

STATE_FORMAT = "load-harness/driver-state@1"
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_STOP_PRIORITY = ("aborted", "interrupted", "stopped", "requests", "completed")


class StateError(ValueError):
    pass


def _add_counts(target: dict[str, int], source: dict[str, int]) -> None:
    for key, value in source.items():
        target[key] = target.get(key, 0) + value


def merge(states: list[dict[str, Any]]) -> dict[str, Any]:
    """Add shard/replica states together: counters and histograms exactly, series per epoch second."""
    if not states:
        raise StateError("nothing to merge")
    for state in states:
        if state.get("format") != STATE_FORMAT:
            raise StateError(f"unknown state format {state.get('format')!r}")
    first = states[0]
    started = min(s["started_at"] for s in states)
    ended = max(s["started_at"] + s["duration_s"] for s in states)
    reasons = [s["stop_reason"] for s in states if s["stop_reason"]]
    reason = next((r for r in _STOP_PRIORITY if r in reasons), reasons[0] if reasons else None)
    messages = list(dict.fromkeys(s["message"] for s in states if s.get("message")))
    merged: dict[str, Any] = {
        "format": STATE_FORMAT,
        "run_id": next((s["run_id"] for s in states if s.get("run_id")), None),
        "shards": {
            "count": max(s["shards"]["count"] for s in states),
            "indices": sorted({i for s in states for i in s["shards"]["indices"]}),
        },
        "plan": {**first["plan"], "shard_index": 0, "shards": 1},
        "started_at": started,
        "updated_at": max(s["updated_at"] for s in states),
        "duration_s": ended - started,
        "finished": all(s["finished"] for s in states),
        "stop_reason": reason,
        "message": "; ".join(messages) or None,
        "in_flight": sum(s["in_flight"] for s in states),
        "connections": {},
        "counters": {},
        "status_codes": {},
        "error_classes": {},
        "error_details": {},
    }
    for key in ("connections", "counters", "status_codes", "error_classes", "error_details"):
        for state in states:
            _add_counts(merged[key], state[key])
    merged["status_codes"] = dict(sorted(merged["status_codes"].items()))
    merged["latency"] = {
        "response": histo.encode(histo.merge_encoded([s["latency"]["response"] for s in states])),
        "service": histo.encode(histo.merge_encoded([s["latency"]["service"] for s in states])),
        "max_response_us": max(s["latency"]["max_response_us"] for s in states),
        "max_service_us": max(s["latency"]["max_service_us"] for s in states),
    }
    merged["pods"] = _merge_pods(states)
    merged["series"] = merge_series([s["series"] for s in states])
    return merged


def _merge_pods(states: list[dict[str, Any]]) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for state in states:
        for name, pod in state["pods"].items():
            by_name.setdefault(name, []).append(pod)
    ranked = sorted(by_name, key=lambda n: -sum(p["count"] for p in by_name[n]))
    keep = [n for n in ranked if n != OTHER_POD][:MAX_PODS]
    groups: dict[str, list[dict[str, Any]]] = {n: by_name[n] for n in keep}
    overflow = [p for n in ranked if n not in groups for p in by_name[n]]
    if overflow:
        groups[OTHER_POD] = overflow
    return {
        name: {
            "count": sum(p["count"] for p in pods),
            "errors": sum(p["errors"] for p in pods),
            "service": histo.encode(histo.merge_encoded([p["service"] for p in pods])),
        }
        for name, pods in groups.items()
    }


def _ms(us: float) -> float:
    return round(us / 1000.0, 3)


def latency_summary(payload: str, exact_max_us: int) -> dict[str, Any]:
    hist = histo.decode(payload)
    pcts = histo.percentiles(hist, list(PERCENTILES))
    # HDR reports the top of a value's bucket; clamp to the exact max so no percentile exceeds max.
    top = exact_max_us or hist.get_max_value()
    out: dict[str, Any] = {"count": hist.total_count}
    for point in PERCENTILES:
        out[f"p{point:g}"] = _ms(min(pcts[point], top))
    out["max"] = _ms(top)
    out["min"] = _ms(hist.get_min_value()) if hist.total_count else 0.0
    out["mean"] = _ms(histo.mean_us(hist))
    return out


def summarize(state: dict[str, Any]) -> dict[str, Any]:
    """The human-facing summary (what --json prints): percentiles in ms, rates, classes, pods, series."""
    plan = plan_from_dict(state["plan"])
    open_loop = plan.mode == "open"
    counters = state["counters"]
    duration = state["duration_s"]
    completed = counters["completed"]
    dropped = counters["dropped_late"] + counters["dropped_max_in_flight"]
    latency = state["latency"]
    throughput: dict[str, Any] = {
        "sent_rps": round(counters["sent"] / duration, 2) if duration > 0 else 0.0,
        "completed_rps": round(completed / duration, 2) if duration > 0 else 0.0,
    }
    if open_loop and duration > 0:
        # A state holding only some shards of a run (one pod's share) owes only their share of the arrivals.
        share = len(state["shards"]["indices"]) / max(state["shards"]["count"], 1)
        expected = target_integral(plan, duration) * share
        throughput["target_rps"] = round(expected / duration, 2)
        throughput["pacing_error_pct"] = round((counters["sent"] - expected) / expected * 100, 3) if expected else 0.0
    pods_total = sum(p["count"] for p in state["pods"].values()) or 1
    pods = []
    for name, pod in sorted(state["pods"].items(), key=lambda kv: -kv[1]["count"]):
        hist = histo.decode(pod["service"])
        pcts = histo.percentiles(hist, [50.0, 99.0])
        pods.append(
            {
                "pod": name,
                "count": pod["count"],
                "share_pct": round(pod["count"] / pods_total * 100, 2),
                "errors": pod["errors"],
                "p50_ms": _ms(pcts[50.0]),
                "p99_ms": _ms(pcts[99.0]),
            }
        )
    return {
        "run_id": state.get("run_id"),
        "url": plan.url,
        "method": plan.method,
        "mode": plan.mode,
        "target": {
            "kind": "rate" if open_loop else "concurrency",
            "start": plan.start_target,
            "stages": state["plan"]["stages"],
        },
        "shards": state["shards"]["count"],
        "started_at": state["started_at"],
        "duration_s": round(duration, 3),
        "finished": state["finished"],
        "stop_reason": state["stop_reason"],
        "message": state.get("message"),
        "requests": {
            **counters,
            "dropped": dropped,
            "in_flight": state["in_flight"],
            "error_rate_pct": round(counters["errors"] / completed * 100, 3) if completed else 0.0,
            "dropped_pct": round(dropped / counters["scheduled"] * 100, 3) if counters["scheduled"] else 0.0,
        },
        "throughput": throughput,
        "latency_ms": {
            "corrected": open_loop,
            "note": (
                "response: from the scheduled send time (coordinated-omission corrected); service: from the actual send"
                if open_loop
                else "closed loop: service time from the actual send (no schedule to correct against)"
            ),
            "response": latency_summary(latency["response"], latency["max_response_us"]),
            "service": latency_summary(latency["service"], latency["max_service_us"]),
        },
        "status_codes": state["status_codes"],
        "error_classes": state["error_classes"],
        "error_details": state["error_details"],
        "pods": pods,
        "connections": state["connections"],
        "series": state["series"],
    }
