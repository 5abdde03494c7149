"""The asyncio run loop: paces requests (open loop) or keeps N in flight (closed loop), then drains.

Open loop: a scheduler walks the plan's exact arrival times. Every due arrival enters a small backlog and is sent
as soon as the in-flight cap allows; its latency counts from its scheduled time, so a stalled target or a lagging
driver shows up in the corrected histogram (no coordinated omission). The backlog is bounded (`max_burst`): after
a stall the driver sends at most that many requests at once to catch up, and arrivals that do not fit are counted
as dropped (late, or at the in-flight cap), reported, never silently skipped.

Closed loop: `concurrency` request chains, each sending the next request when the previous completes; latency is
service time. Stages change the number of chains every 20 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from load_harness.driver.client import Client, Pending, build_target
from load_harness.driver.plan import Plan
from load_harness.driver.recorder import Recorder
from load_harness.driver.sink import NullSink, RunSink
from load_harness.driver.state import Connections, DriverState, RunMeta, ShardSet, StopReason

# asyncio timers wake late: epoll's millisecond timeout is rounded up, and an idle VM adds up to ~2 ms more (measured
# p99 2.5 ms at 100 req/s). At sub-millisecond service times that lag would dominate the corrected latency. So the
# scheduler wakes 2 ms early and sends what is due within those 2 ms; such a request's latency counts from its actual
# send (never from a later scheduled time). The rate is unaffected: only the phase of single sends shifts.
EARLY_S = 0.002
LATE_S = 0.010  # a send more than 10 ms after its scheduled time counts as late (it still counts, corrected)
ABORT_AFTER = 20  # connect failures in a row, before any response, that mean "unreachable"
CONTROL_INTERVAL_S = 0.02
MAX_SLEEP_S = 0.1  # the scheduler wakes at least this often, so stops are prompt even at low rates


@dataclass
class LiveStats:
    """What the live view shows, once a second."""

    elapsed_s: float
    duration_s: float | None
    target: float
    sent: int
    completed: int
    errors: int
    dropped: int
    in_flight: int
    sent_rate: float  # last second
    completed_rate: float  # last second
    p50_us: int  # cumulative, response time
    p99_us: int


class Runner:
    def __init__(
        self,
        plan: Plan,
        *,
        sink: RunSink | None = None,
        run_id: str | None = None,
        on_second: Callable[[LiveStats], None] | None = None,
        start_at: float | None = None,
        abort_after: int = ABORT_AFTER,
    ) -> None:
        self.plan = plan
        self.sink: RunSink = sink or NullSink()
        self.run_id = run_id
        self.on_second = on_second
        self.start_at = start_at  # epoch seconds: shards started together begin their schedules together
        self.abort_after = abort_after
        self.open_loop = plan.mode == "open"
        # The cap protects this process (file descriptors, memory): each shard takes its share of the total.
        self.max_in_flight = max(1, math.ceil(plan.max_in_flight / plan.shards))
        self.rec = Recorder(self.open_loop)
        self.in_flight = 0
        self.slots = 0
        self.target_slots = 0
        self.sending = False
        self.stop_reason: StopReason | None = None
        self.message: str | None = None
        self.backlog: deque[float] = deque()
        self.started_at = 0.0
        self._t0 = 0.0
        self._send_end: float | None = None
        self._connect_streak = 0
        self._reachable = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None
        self._send_done = asyncio.Event()
        self._drained = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-sink")
        self._sink_busy: Future[None] | None = None
        self._sink_stop = False
        self._sink_warned = False

    # -- control ----------------------------------------------------------------------------------------------

    def request_stop(self, reason: StopReason = StopReason.STOPPED, message: str | None = None) -> None:
        """End the send window now; in-flight requests still complete. Safe to call from the loop thread."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.message = message
        self._end_sending()

    def _end_sending(self) -> None:
        if self.sending:
            self.sending = False
            self._send_end = min(self._now(), self.plan.duration_s)
            # Arrivals still waiting when the run is stopped are withdrawn, not dropped: nobody owes them a send.
            self.rec.scheduled -= len(self.backlog)
            self.backlog.clear()
        self._send_done.set()
        if self.in_flight == 0:
            self._drained.set()

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time() - self._t0

    # -- the run ----------------------------------------------------------------------------------------------

    async def run(self) -> DriverState:
        """Run the plan to the end and return the final state."""
        self._loop = loop = asyncio.get_running_loop()
        self._send_done = asyncio.Event()
        self._drained = asyncio.Event()
        plan = self.plan
        target = build_target(plan.url, plan.method, plan.headers, plan.body)
        self._client = client = Client(target, plan.timeout_s, self._on_done, insecure=plan.insecure)
        try:
            await client.start()
            await client.warm(self._warm_connections())
            self.started_at = self.start_at or time.time()
            await loop.run_in_executor(self._executor, self.sink.start, self._meta())
            if self.start_at is not None:
                await asyncio.sleep(max(0.0, self.start_at - time.time()))
            self.started_at = time.time()
            self._t0 = loop.time()
            self.sending = True
            ticker = loop.create_task(self._ticker())
            pacer = loop.create_task(self._open_loop() if self.open_loop else self._closed_loop())
            try:
                await self._send_done.wait()
                # Drain: every request sent gets its answer or its timeout (the sweeper fires those).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), plan.timeout_s + 1.0)
            finally:
                pacer.cancel()
                ticker.cancel()
            if self.rec.second_has_data():  # the ticker may already have closed the last whole second
                self.rec.roll_second(int(self.started_at + math.floor(self._now())))
            state = self.state(finished=True)
            await loop.run_in_executor(self._executor, self.sink.finish, state)
            return state
        finally:
            await client.close()
            self._executor.shutdown(wait=False)

    def _warm_connections(self) -> int:
        """Connections to open up front: the starting concurrency, or 10 ms worth of the starting rate."""
        plan = self.plan
        wanted = math.ceil(plan.rate_at(0.0) * 0.01) if self.open_loop else plan.concurrency_at(0.0)
        return max(0, min(wanted, self.max_in_flight, 1000))

    def _meta(self) -> RunMeta:
        return RunMeta(
            run_id=self.run_id,
            shard_index=self.plan.shard_index,
            shards=self.plan.shards,
            plan=self.plan.to_record(),
            started_at=self.started_at,
            host=socket.gethostname(),
            pid=os.getpid(),
        )

    def state(self, finished: bool = False) -> DriverState:
        """The cumulative, mergeable state of this process's share of the run."""
        client = self._client
        elapsed = self._send_end if self._send_end is not None else (self._now() if self._t0 else 0.0)
        return DriverState(
            run_id=self.run_id,
            shards=ShardSet(count=self.plan.shards, indices=[self.plan.shard_index]),
            plan=self.plan.to_record(),
            started_at=self.started_at,
            updated_at=time.time(),
            duration_s=elapsed,
            finished=finished,
            stop_reason=(self.stop_reason or StopReason.COMPLETED) if finished else self.stop_reason,
            message=self.message,
            in_flight=self.in_flight,
            connections=Connections(
                opened=client.connects if client else 0, reconnects=client.reconnects if client else 0
            ),
            **dict(self.rec.measurements()),
        )

    # -- open loop --------------------------------------------------------------------------------------------

    def _burst_cap(self, t: float) -> int:
        if self.plan.max_burst is not None:
            return self.plan.max_burst
        return max(10, math.ceil(self.plan.rate_at(t) * 0.01))

    async def _open_loop(self) -> None:
        plan, rec, backlog = self.plan, self.rec, self.backlog
        limit = plan.duration_s
        max_requests = plan.shard_requests
        arrivals = plan.arrival_offsets()
        nxt = next(arrivals, None)
        while self.sending:
            now = self._now()
            if nxt is None or nxt >= limit:
                if now >= limit:
                    break
                await asyncio.sleep(min(limit - now, MAX_SLEEP_S))  # a zero-rate stage: nothing to send
                continue
            if nxt > now + EARLY_S:
                await asyncio.sleep(min(nxt - now - EARLY_S, MAX_SLEEP_S))
                continue
            cap = self._burst_cap(now)
            t0 = self._t0
            horizon = now + EARLY_S
            while nxt is not None and nxt <= horizon and nxt < limit:
                if max_requests is not None and rec.scheduled >= max_requests:
                    break
                rec.scheduled += 1
                if len(backlog) < cap:
                    backlog.append(t0 + nxt)
                elif self.in_flight >= self.max_in_flight:
                    rec.dropped_max_in_flight += 1
                else:
                    rec.dropped_late += 1
                nxt = next(arrivals, None)
            self._send_backlog()
            if max_requests is not None and rec.scheduled >= max_requests:
                self._stop_when_drained(StopReason.REQUESTS)
                return
        self._stop_when_drained(StopReason.COMPLETED)

    def _send_backlog(self) -> None:
        backlog, cap = self.backlog, self.max_in_flight
        while backlog and self.in_flight < cap:
            self._dispatch(backlog.popleft())

    def _stop_when_drained(self, reason: StopReason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        # Backlogged arrivals are still owed a send: leave the window open until they are out (or time out).
        if not self.backlog:
            self._end_sending()

    # -- closed loop ------------------------------------------------------------------------------------------

    async def _closed_loop(self) -> None:
        plan = self.plan
        limit = plan.duration_s
        max_requests = plan.shard_requests
        while self.sending:
            now = self._now()
            if now >= limit:
                self.request_stop(StopReason.COMPLETED)
                return
            self.target_slots = plan.concurrency_at(now)
            loop_now = now + self._t0
            while self.slots < self.target_slots and (max_requests is None or self.rec.sent < max_requests):
                self.slots += 1
                self._dispatch(loop_now)
            await asyncio.sleep(min(CONTROL_INTERVAL_S, limit - now))

    # -- per request ------------------------------------------------------------------------------------------

    def _dispatch(self, scheduled: float) -> None:
        pending = Pending(scheduled)
        self.in_flight += 1
        assert self._client is not None
        self._client.dispatch(pending)
        self.rec.on_sent(pending.sent - scheduled > LATE_S)

    def _on_done(
        self, pending: Pending, status: int, pod: str | None, error: str | None, detail: str | None, end: float
    ) -> None:
        self.in_flight -= 1
        rec = self.rec
        if status:
            rec.response_received(pending.scheduled, pending.sent, end, status, pod)
            self._reachable = True
        else:
            rec.failure(pending.scheduled, pending.sent, end, error or "other", detail)
            if error != "connect":
                self._reachable = True
            elif not self._reachable:
                self._connect_streak += 1
                if self._connect_streak >= self.abort_after:
                    target = self.plan.url
                    self.request_stop(
                        StopReason.ABORTED,
                        f"target unreachable: the first {self._connect_streak} requests to {target} all failed to "
                        f"connect ({detail}); is the server running and the URL right?",
                    )
        if self.open_loop:
            if self.backlog:
                self._send_backlog()
                if not self.backlog and self.stop_reason is not None:
                    self._end_sending()
        elif (
            self.sending
            and self.slots <= self.target_slots
            and (self.plan.shard_requests is None or rec.sent < self.plan.shard_requests)
        ):
            self._dispatch(end)
        else:
            self.slots -= 1
            if self.sending and self.plan.shard_requests is not None and rec.sent >= self.plan.shard_requests:
                if self.stop_reason is None:
                    self.stop_reason = StopReason.REQUESTS
                if self.in_flight == 0:
                    self._end_sending()
        if self.in_flight == 0 and not self.sending:
            self._drained.set()

    # -- once a second ----------------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        tick = 1
        while True:
            await asyncio.sleep(max(0.0, tick - self._now()))
            self.rec.roll_second(int(self.started_at + tick - 1))
            tick = max(tick + 1, math.floor(self._now()) + 1)
            if self.on_second is not None:
                self.on_second(self.live())
            self._report_progress()
            if self._sink_stop and self.sending:
                self.request_stop(StopReason.STOPPED, "stopped by the run's sink (stop requested)")

    def live(self) -> LiveStats:
        rec = self.rec
        last = rec.series.points[-1] if rec.series.points else [0, 0, 0, 0, 0, 0]
        p50, p99 = rec.live()
        width = rec.series.interval
        duration = self.plan.duration_s
        now = self._now()
        return LiveStats(
            elapsed_s=now,
            duration_s=None if math.isinf(duration) else duration,
            target=self.plan.total_target_at(min(now, duration)),
            sent=rec.sent,
            completed=rec.completed,
            errors=rec.errors,
            dropped=rec.dropped_late + rec.dropped_max_in_flight,
            in_flight=self.in_flight,
            sent_rate=last[1] / width,
            completed_rate=last[2] / width,
            p50_us=p50,
            p99_us=p99,
        )

    def _report_progress(self) -> None:
        if isinstance(self.sink, NullSink) or (self._sink_busy is not None and not self._sink_busy.done()):
            return  # a slow sink skips a beat rather than queueing states
        self._sink_busy = self._executor.submit(self._progress_in_thread, self.state())

    def _progress_in_thread(self, state: DriverState) -> None:
        try:
            self.sink.progress(state)
            self._sink_stop = bool(self.sink.should_stop())
        except Exception as exc:  # a failing progress write must not end the load test
            if not self._sink_warned:
                self._sink_warned = True
                print(f"warning: run sink progress failed: {exc!r}", file=sys.stderr)
