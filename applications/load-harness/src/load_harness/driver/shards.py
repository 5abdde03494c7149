"""Local multi-process shards: one run split across N processes (one event loop per core), merged exactly.

Each child runs `Runner` on `plan.for_shard(i, N)` (rate/N, or its share of the concurrency) and reports its
cumulative state through a queue once a second; the parent merges the latest states with `summary.merge`, the
same path a store uses to merge pods. Children start their schedules at one common instant (a ready/go handshake),
so their phase-shifted arrivals interleave. Ctrl-C in the parent stops every child gracefully through an Event.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import queue
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import Any

from load_harness.driver import histo
from load_harness.driver.client import DriverError
from load_harness.driver.plan import Plan
from load_harness.driver.runner import LiveStats, Runner
from load_harness.driver.sink import NullSink, RunMeta, RunSink
from load_harness.driver.summary import merge

START_DELAY_S = 0.2  # from "all ready" to the common start: time for the go signal to reach every child
READY_TIMEOUT_S = 60.0


class _QueueSink:
    """A child's sink: states go to the parent, stop requests come from it."""

    def __init__(self, index: int, out: Any, stop: Event) -> None:
        self.index, self.out, self.stop = index, out, stop

    def start(self, meta: RunMeta) -> None:
        return None

    def progress(self, state: dict[str, Any]) -> None:
        self.out.put(("progress", self.index, state))

    def finish(self, state: dict[str, Any]) -> None:
        self.out.put(("final", self.index, state))

    def should_stop(self) -> bool:
        return self.stop.is_set()


def _child(
    plan: Plan, index: int, shards: int, run_id: str | None, out: Any, stop: Event, go: Event, start: Any
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and relays it through `stop`
    try:
        out.put(("ready", index, None))
        if not go.wait(READY_TIMEOUT_S):
            return
        runner = Runner(plan.for_shard(index, shards), sink=_QueueSink(index, out, stop), run_id=run_id)
        runner.start_at = start.value
        asyncio.run(runner.run())
    except DriverError as exc:
        out.put(("error", index, str(exc)))
    except Exception as exc:
        out.put(("error", index, f"shard {index} failed: {exc!r}"))


def live_from_state(state: dict[str, Any]) -> LiveStats:
    """Live-view numbers from a (merged) state, for runs whose counters live in other processes."""
    counters = state["counters"]
    points = state["series"]["points"]
    width = state["series"]["interval_s"]
    last = points[-1] if points else [0, 0, 0, 0, 0, 0]
    pcts = histo.percentiles(histo.decode(state["latency"]["response"]), [50.0, 99.0])
    plan = state["plan"]
    duration = plan["duration_s"]
    return LiveStats(
        elapsed_s=time.time() - state["started_at"],
        duration_s=duration,
        target=0.0,
        sent=counters["sent"],
        completed=counters["completed"],
        errors=counters["errors"],
        dropped=counters["dropped_late"] + counters["dropped_max_in_flight"],
        in_flight=state["in_flight"],
        sent_rate=last[1] / width,
        completed_rate=last[2] / width,
        p50_us=pcts[50.0],
        p99_us=pcts[99.0],
    )


def run_local_shards(
    plan: Plan,
    shards: int,
    *,
    run_id: str | None = None,
    sink: RunSink | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run `plan` split across `shards` processes and return the merged final state."""
    sink = sink or NullSink()
    ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (rich, sink) that fork would copy badly
    out = ctx.Queue()
    stop, go = ctx.Event(), ctx.Event()
    start = ctx.Value("d", 0.0)
    children = [
        ctx.Process(target=_child, args=(plan, i, shards, run_id, out, stop, go, start), daemon=True)
        for i in range(shards)
    ]
    for child in children:
        child.start()
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        _wait_ready(out, children, shards)
        start.value = time.time() + START_DELAY_S
        sink.start(
            RunMeta(
                run_id=run_id,
                shard_index=0,
                shards=1,
                plan=plan.to_dict(),
                started_at=start.value,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        go.set()
        final = _collect(out, children, shards, sink, stop, on_progress)
    finally:
        stop.set()
        signal.signal(signal.SIGINT, previous)
        for child in children:
            child.join(timeout=plan.timeout_s + 5)
            if child.is_alive():
                child.terminate()
    if interrupted:
        final["stop_reason"], final["message"] = "interrupted", "interrupted by a signal"
    sink.finish(final)
    return final


def _wait_ready(out: Any, children: list[Any], shards: int) -> None:
    ready: set[int] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(ready) < shards:
        try:
            kind, index, payload = out.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise DriverError("shard processes did not start in time") from None
        if kind == "error":
            raise DriverError(payload)
        if kind == "ready":
            ready.add(index)


def _collect(
    out: Any,
    children: list[Any],
    shards: int,
    sink: RunSink,
    stop: Event,
    on_progress: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    latest: dict[int, dict[str, Any]] = {}
    finals: dict[int, dict[str, Any]] = {}
    errors: list[str] = []
    next_report = time.monotonic() + 1.0
    while len(finals) + len(errors) < shards:
        try:
            kind, index, payload = out.get(timeout=0.1)
        except queue.Empty:
            if not any(child.is_alive() for child in children) and out.empty():
                break  # a child died without reporting: merge what we have
        else:
            if kind == "progress":
                latest[index] = payload
            elif kind == "final":
                finals[index] = latest[index] = payload
            elif kind == "error":
                errors.append(payload)
                stop.set()
        if time.monotonic() >= next_report and latest:
            next_report += math.ceil(time.monotonic() - next_report) or 1.0
            merged = merge(list(latest.values()))
            if on_progress is not None:
                on_progress(merged)
            sink.progress(merged)
            if sink.should_stop():
                stop.set()
    if errors and not finals:
        raise DriverError("; ".join(dict.fromkeys(errors)))
    final = merge([finals.get(i) or latest[i] for i in sorted(set(finals) | set(latest))])
    if errors:
        final["message"] = "; ".join(filter(None, [final.get("message"), *dict.fromkeys(errors)]))
    return final
