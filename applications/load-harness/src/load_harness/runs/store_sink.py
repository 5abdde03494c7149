"""Driver runs kept in the store: the sink each shard of a stored run reports to, and the CLI's stored runs.

Each shard writes its cumulative state to its own row about once a second and reads the run's stop flag; the last
shard to finish freezes the merged summary on the run row. The CLI creates this sink explicitly for `--run-id`
(an Indexed Job's pod, a shard the supervisor launched) and for `--save`; the repository is the JSON edge."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from load_harness.driver.plan import Plan
from load_harness.driver.state import DriverState, RunMeta
from load_harness.runs import repository as run_store
from load_harness.runs.model import RunOptions, RunOrigin
from load_harness.store.engine import get_engine


class StoreSink:
    def __init__(self, engine: Engine, run_id: str, shard_index: int, shards: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.shard_index = shard_index
        self.shards = shards

    @classmethod
    def for_run(cls, run_id: str, shard_index: int, shards: int) -> StoreSink:
        """The sink of a run that must exist in the store named by DATABASE_URL."""
        engine = get_engine()
        if run_store.get(engine, run_id) is None:
            raise LookupError(f"no run {run_id!r} in the store ({engine.url.render_as_string()})")
        return cls(engine, run_id, shard_index, shards)

    def start(self, meta: RunMeta) -> None:
        run_store.shard_started(self.engine, self.run_id, self.shard_index, meta.host, meta.pid)

    def progress(self, state: DriverState) -> None:
        run_store.shard_progress(self.engine, self.run_id, self.shard_index, state)

    def finish(self, state: DriverState) -> None:
        run_store.shard_progress(self.engine, self.run_id, self.shard_index, state, finished=True)
        run_store.finish_if_complete(self.engine, self.run_id)

    def should_stop(self) -> bool:
        return run_store.stop_requested(self.engine, self.run_id)


def stored_plan(run_id: str) -> tuple[Plan, list[str]] | None:
    """The plan and thresholds of a stored run, or None when there is no such run."""
    run = run_store.get(get_engine(), run_id)
    if run is None:
        return None
    return Plan.from_record(run.plan), list(run.options.thresholds)


def create_cli_run(plan: Plan, shards: int, thresholds: list[str]) -> str:
    """`drive --save`: record a run started from the command line, so the dashboard and the API show it."""
    run = run_store.create(
        get_engine(),
        target=plan.url,
        plan=plan.to_record(),
        options=RunOptions(thresholds=thresholds, placement="cli"),
        shards=shards,
        source=RunOrigin.CLI,
        pod=None,
    )
    return run.id
