"""Driver shards of runs started through the API: the supervisor launches them as child processes (each one
`load-harness drive --run-id ID --shard-index I --shards N`, the same command an Indexed Job runs), reaps them,
and closes runs whose processes died without reporting."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from load_harness.store import runs as run_store
from load_harness.workloads.lifeline import set_parent_death_signal

log = logging.getLogger(__name__)
STOP_GRACE_S = 3.0


def shard_command(run_id: str, index: int, shards: int) -> list[str]:
    return [
        sys.executable, "-m", "load_harness", "drive",
        "--run-id", run_id, "--shard-index", str(index), "--shards", str(shards), "--json",
    ]  # fmt: skip


@dataclass
class LaunchedRun:
    run_id: str
    processes: list[subprocess.Popen[bytes]]

    def exit_codes(self) -> list[int | None]:
        return [p.poll() for p in self.processes]


class RunLauncher:
    def __init__(self, engine: Engine, pod: str, supervisor_id: str) -> None:
        self.engine = engine
        self.pod = pod
        self.supervisor_id = supervisor_id
        self.launched: dict[str, LaunchedRun] = {}

    def tick(self) -> None:
        for run in run_store.claim(self.engine, self.pod, self.supervisor_id):
            processes = [
                subprocess.Popen(
                    shard_command(run.id, index, run.shards),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=set_parent_death_signal,  # the supervisor is single-threaded
                )
                for index in range(run.shards)
            ]
            self.launched[run.id] = LaunchedRun(run.id, processes)
            log.info("run started", extra={"run_id": run.id, "shards": run.shards})
        self._reap()

    def _reap(self) -> None:
        for run_id, launched in list(self.launched.items()):
            codes = launched.exit_codes()
            if any(code is None for code in codes):
                continue
            del self.launched[run_id]
            run = run_store.get(self.engine, run_id)
            if run is not None and run.active:
                # Every process exited, yet the run is open: a shard died before it could report.
                failed = [code for code in codes if code not in (0, 99)]
                run_store.fail(self.engine, run_id, "failed", f"driver shard(s) exited with {failed or codes}")

    def sweep_stale(self) -> None:
        for run_id in run_store.stale_runs(self.engine):
            run_store.fail(self.engine, run_id, "interrupted", "no shard reported for 30 s; its process is gone")

    def shutdown(self) -> None:
        """SIGINT lets each shard stop sending, write its final state and close the run as stopped."""
        processes = [p for launched in self.launched.values() for p in launched.processes if p.poll() is None]
        for proc in processes:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.05, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
        for run_id in self.launched:
            run_store.fail(self.engine, run_id, "interrupted", "the server shut down during the run")
        self.launched.clear()
