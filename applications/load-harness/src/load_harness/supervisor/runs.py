"""Driver shards of runs started through the API: the supervisor launches them with the driver's one shard
launcher (each shard `load-harness drive --run-id ID --shard-index I --shards N`, the command an Indexed Job
runs), reaps them, and closes runs whose processes died without reporting."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from load_harness.driver.launcher import STOP_GRACE_S, ShardProcesses
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunStatus

log = logging.getLogger(__name__)


class RunLauncher:
    def __init__(self, engine: Engine, pod: str, supervisor_id: str) -> None:
        self.engine = engine
        self.pod = pod
        self.supervisor_id = supervisor_id
        self.launched: dict[str, ShardProcesses] = {}

    def tick(self) -> None:
        for run in run_store.claim(self.engine, self.pod, self.supervisor_id):
            shards = ShardProcesses(run.shards, run_id=run.id, stream=False)
            shards.start()  # the supervisor is single-threaded, so the parent-death signal is safe to set
            self.launched[run.id] = shards
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
                run_store.fail(self.engine, run_id, RunStatus.FAILED, f"driver shard(s) exited with {failed or codes}")

    def sweep_stale(self) -> None:
        for run_id in run_store.stale_runs(self.engine):
            run_store.fail(
                self.engine, run_id, RunStatus.INTERRUPTED, "no shard reported for 30 s; its process is gone"
            )

    def shutdown(self) -> None:
        """SIGINT lets each shard stop sending, write its final state and close the run as stopped."""
        ShardProcesses.interrupt_all(list(self.launched.values()), STOP_GRACE_S)
        for run_id in self.launched:
            run_store.fail(self.engine, run_id, RunStatus.INTERRUPTED, "the server shut down during the run")
        self.launched.clear()
