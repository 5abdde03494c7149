"""The one way shards are launched: N processes, each `load-harness drive --shard-index I --shards N`.

The same command serves every way a run is split:
- `drive --shards N` and `drive --save --shards N` start them here with `stream=True`: each child says it is
  ready on stdout, gets the plan and a common start instant on stdin (so their phase-shifted arrivals
  interleave), and streams its cumulative state back once a second as JSON lines; the parent merges the streams
  with `summary.merge`, the path a store uses to merge pods.
- a run started through the API: the supervisor starts them with `run_id` and `stream=False`; each child reads the
  plan from the store and reports there (runs/store_sink.py).
- an Indexed Job: Kubernetes runs the same command with `--run-id` on each pod.

Every child gets PR_SET_PDEATHSIG, so shards never outlive their launcher. Ctrl-C reaches children through the
terminal's process group as well as through `interrupt()`; either way a child stops sending, drains and reports
its final state.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Literal

from pydantic import BaseModel

from load_harness.driver import histo
from load_harness.driver.client import DriverError
from load_harness.driver.plan import Plan, PlanRecord
from load_harness.driver.runner import LiveStats
from load_harness.driver.state import DriverState, RunMeta, StopReason
from load_harness.driver.summary import merge
from load_harness.workloads.lifeline import set_parent_death_signal

START_DELAY_S = 0.2  # from "all ready" to the common start: time for the go line to reach every child
READY_TIMEOUT_S = 60.0  # a busy machine may take seconds to start N interpreters
STOP_GRACE_S = 3.0
STREAM_FLAG = "--stream"  # hidden CLI flag: the stdin/stdout protocol below


def shard_command(index: int, shards: int, *, run_id: str | None = None, stream: bool = False) -> list[str]:
    """The command of shard `index`: what the supervisor, `drive --shards` and an Indexed Job's pods run."""
    command = [sys.executable, "-m", "load_harness", "drive", "--shard-index", str(index), "--shards", str(shards)]
    if run_id is not None:
        command += ["--run-id", run_id]
    return [*command, STREAM_FLAG] if stream else [*command, "--json"]


# -- the stream protocol: one JSON object per line ---------------------------------------------------------------


class Go(BaseModel):
    """Parent → child, once every child is ready."""

    plan: PlanRecord  # the whole run's plan; the child takes its share
    start_at: float  # epoch seconds of the common first send


class Message(BaseModel):
    """Child → parent."""

    kind: Literal["ready", "progress", "final", "error"]
    state: DriverState | None = None
    error: str | None = None


class StreamSink:
    """A child's sink in stream mode: its states go to stdout, one line each."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        line = message.model_dump_json() + "\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()

    def send_error(self, error: str) -> None:
        self.send(Message(kind="error", error=error))

    def start(self, meta: RunMeta) -> None:
        return None

    def progress(self, state: DriverState) -> None:
        self.send(Message(kind="progress", state=state))

    def finish(self, state: DriverState) -> None:
        self.send(Message(kind="final", state=state))

    def should_stop(self) -> bool:
        return False


def await_go(sink: StreamSink, source: IO[str] | None = None) -> Go:
    """Child side: say ready, then wait for the plan and the start instant."""
    sink.send(Message(kind="ready"))
    line = (source or sys.stdin).readline()
    if not line:
        raise DriverError("the launcher went away before the run started")
    return Go.model_validate_json(line)


# -- the parent side ----------------------------------------------------------------------------------------------


class ShardProcesses:
    """N shard processes of one run. `stream=True` follows them over pipes; `stream=False` leaves reporting to the
    store (the children need `run_id`)."""

    def __init__(self, shards: int, *, run_id: str | None = None, stream: bool = True) -> None:
        if not stream and run_id is None:
            raise ValueError("shards that do not stream must report to a stored run")
        self.shards = shards
        self.run_id = run_id
        self.stream = stream
        self.processes: list[subprocess.Popen[str]] = []
        self._messages: queue.Queue[tuple[int, Message | None]] = queue.Queue()

    def start(self) -> None:
        pipe = subprocess.PIPE if self.stream else subprocess.DEVNULL
        for index in range(self.shards):
            process = subprocess.Popen(
                shard_command(index, self.shards, run_id=self.run_id, stream=self.stream),
                stdin=pipe,
                stdout=pipe,
                stderr=None if self.stream else subprocess.DEVNULL,  # the CLI's shards show errors on its terminal
                text=True,
                preexec_fn=set_parent_death_signal,  # callers are single-threaded when they launch
            )
            self.processes.append(process)
            if self.stream:
                threading.Thread(target=self._read, args=(index, process), daemon=True).start()

    def _read(self, index: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                message = Message.model_validate_json(line)
            except ValueError as exc:
                if not line.startswith('{"kind"'):
                    continue  # not a protocol line (a stray print): ignored
                message = Message(kind="error", error=f"shard {index} sent a report that does not validate: {exc}")
            self._messages.put((index, message))
        self._messages.put((index, None))  # end of this child's stream

    def exit_codes(self) -> list[int | None]:
        return [process.poll() for process in self.processes]

    def running(self) -> bool:
        return any(code is None for code in self.exit_codes())

    def interrupt(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGINT: each shard stops sending, reports its final state and exits; killed after `grace_s`."""
        ShardProcesses.interrupt_all([self], grace_s)

    @staticmethod
    def interrupt_all(groups: list[ShardProcesses], grace_s: float) -> None:
        """Interrupt several runs' shards at once, so that they drain in parallel within one grace period."""
        processes = [process for group in groups for process in group.processes]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace_s
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.05, deadline - time.monotonic()))
            if process.poll() is None:
                process.kill()
                process.wait()

    def run(self, plan: Plan, on_state: Callable[[DriverState], None] | None = None) -> DriverState:
        """Stream mode: start the shards together on `plan`, follow them, and return the merged final state."""
        assert self.stream
        self.start()
        try:
            self._begin(plan)
            return self._follow(plan, on_state)
        except KeyboardInterrupt:  # before the run began: nothing to report
            self.interrupt(plan.timeout_s + STOP_GRACE_S)
            raise
        finally:
            for process in self.processes:
                if process.poll() is None:
                    process.kill()
                process.wait()

    def _begin(self, plan: Plan) -> None:
        ready: set[int] = set()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(ready) < self.shards:
            index, message = self._next(deadline)
            if message is None or message.kind == "error":
                raise DriverError(message.error if message and message.error else f"shard {index} did not start")
            if message.kind == "ready":
                ready.add(index)
        line = Go(plan=plan.to_record(), start_at=time.time() + START_DELAY_S).model_dump_json() + "\n"
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(line)
            process.stdin.flush()

    def _next(self, deadline: float) -> tuple[int, Message | None]:
        try:
            return self._messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise DriverError("shard processes did not start in time") from None

    def _follow(self, plan: Plan, on_state: Callable[[DriverState], None] | None) -> DriverState:
        latest: dict[int, DriverState] = {}
        finals: dict[int, DriverState] = {}
        errors: list[str] = []
        ended: set[int] = set()
        interrupted = False
        while len(ended) < self.shards:
            try:
                index, message = self._messages.get(timeout=plan.timeout_s + 60)
            except queue.Empty:
                break  # every child is silent for longer than any request may take: merge what we have
            except KeyboardInterrupt:
                interrupted = True
                self.interrupt(plan.timeout_s + STOP_GRACE_S)  # time to drain what is in flight
                continue
            if message is None:
                ended.add(index)
            elif message.kind == "error" and message.error:
                errors.append(message.error)
            elif message.state is not None:
                latest[index] = message.state
                if message.kind == "final":
                    finals[index] = message.state
                elif on_state is not None and len(latest) == self.shards:
                    on_state(merge(list(latest.values())))
        if not latest:
            codes = self.exit_codes()
            raise DriverError("; ".join(dict.fromkeys(errors)) or f"no shard reported (exit codes {codes})")
        final = merge([finals.get(i) or latest[i] for i in sorted(latest)])
        problems = list(dict.fromkeys(errors))
        if len(finals) < self.shards:
            problems.append(f"{self.shards - len(finals)} shard(s) ended without a final report")
        if problems:
            final.message = "; ".join(filter(None, [final.message, *problems]))
        if interrupted:
            final.stop_reason, final.message = StopReason.INTERRUPTED, "interrupted by a signal"
        return final


def live_from_state(state: DriverState) -> LiveStats:
    """Live-view numbers from a (merged) state, for runs whose counters live in other processes."""
    counters = state.counters
    points = state.series.points
    width = state.series.interval_s
    last = points[-1] if points else [0, 0, 0, 0, 0, 0]
    pcts = histo.percentiles(histo.decode(state.latency.response), [50.0, 99.0])
    return LiveStats(
        elapsed_s=time.time() - state.started_at,
        duration_s=state.plan.duration_s,
        target=0.0,
        sent=counters.sent,
        completed=counters.completed,
        errors=counters.errors,
        dropped=counters.total_dropped(),
        in_flight=state.in_flight,
        sent_rate=last[1] / width,
        completed_rate=last[2] / width,
        p50_us=pcts[50.0],
        p99_us=pcts[99.0],
    )
