"""The supervisor loop: claim this pod's new job rows, run them, enforce deadlines and stop requests, measure,
and write every outcome back to the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from load_harness.store import jobs as job_store
from load_harness.store import pods as pod_store
from load_harness.supervisor import processes
from load_harness.supervisor.processes import RunningJob
from load_harness.supervisor.runs import RunLauncher

log = logging.getLogger(__name__)

MEASURE_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 5.0


class Supervisor:
    def __init__(
        self,
        engine: Engine,
        pod: str,
        supervisor_id: str,
        clock: Callable[[], float] = time.time,
        start: Callable[[job_store.Job, float], RunningJob] = processes.start,
    ) -> None:
        self.engine = engine
        self.pod = pod
        self.supervisor_id = supervisor_id
        self.clock = clock
        self._start = start
        self.running: dict[str, RunningJob] = {}
        self.runs = RunLauncher(engine, pod, supervisor_id)
        self._last_measure = 0.0
        self._last_heartbeat = 0.0

    def tick(self) -> None:
        """One pass of the loop. Store errors are logged and retried on the next tick: jobs keep running."""
        try:
            self._start_claimed()
            self._stop_requested()
            self._finish_due()
            self.runs.tick()
            self._measure_and_heartbeat()
        except SQLAlchemyError as exc:
            log.warning("store unavailable, retrying: %s", exc.__class__.__name__)

    def _start_claimed(self) -> None:
        for job in job_store.claim(self.engine, self.pod, self.supervisor_id, clock=self.clock):
            try:
                self.running[job.id] = self._start(job, self.clock())
                log.info("job started", extra={"job_id": job.id, "kind": job.kind})
            except (OSError, ValueError) as exc:
                job_store.finish(self.engine, job.id, "failed", None, None, error=str(exc), clock=self.clock)

    def _stop_requested(self) -> None:
        for job_id in job_store.stop_requested_ids(self.engine, self.supervisor_id):
            self._end(job_id, "stopped")

    def _finish_due(self) -> None:
        now = self.clock()
        for job_id, running in list(self.running.items()):
            if now >= running.job.deadline_at:
                self._end(job_id, "completed")
            elif running.failed():
                self._end(job_id, "failed", error="a job process exited early (killed, or out of memory)")

    def _measure_and_heartbeat(self) -> None:
        now = self.clock()
        if now - self._last_measure >= MEASURE_EVERY_S:
            self._last_measure = now
            for job_id, running in self.running.items():
                cpu, rss = running.measure()
                job_store.record(self.engine, job_id, round(cpu, 3), rss)
        if now - self._last_heartbeat >= HEARTBEAT_EVERY_S:
            self._last_heartbeat = now
            pod_store.heartbeat(self.engine, self.pod, now)
            self.runs.sweep_stale()
            # A web worker that died during /load/memory/sync freed its memory; free its share of the budget too.
            reaped = job_store.reap_syncs(self.engine, self.pod, clock=self.clock)
            if reaped:
                log.warning("reaped %d memory sync reservation(s) of dead web workers", reaped)

    def _end(self, job_id: str, status: str, error: str | None = None) -> None:
        running = self.running.pop(job_id, None)
        if running is None:
            # Claimed by us but not running (start failed): nothing to stop, only the row to close.
            job_store.finish(self.engine, job_id, status, None, None, error=error, clock=self.clock)
            return
        cpu, rss = running.measure()
        running.stop()
        job_store.finish(self.engine, job_id, status, round(cpu, 3), rss, error=error, clock=self.clock)
        log.info("job ended", extra={"job_id": job_id, "status": status, "cpu_seconds": round(cpu, 3)})

    def shutdown(self) -> None:
        """Stop every job and record it as stopped (SIGTERM path). Stops all processes first, then writes,
        so a slow store cannot keep burners alive. Driver shards get a graceful stop of their own."""
        measured = {job_id: running.measure() for job_id, running in self.running.items()}
        for running in self.running.values():
            running.stop_event.set()
        for running in self.running.values():
            running.stop()
        for job_id, (cpu, rss) in measured.items():
            try:
                job_store.finish(self.engine, job_id, "stopped", round(cpu, 3), rss, clock=self.clock)
            except SQLAlchemyError as exc:
                log.error("could not record job %s as stopped: %s", job_id, exc)
        self.running.clear()
        try:
            self.runs.shutdown()
        except SQLAlchemyError as exc:
            log.error("could not record runs as interrupted: %s", exc)
