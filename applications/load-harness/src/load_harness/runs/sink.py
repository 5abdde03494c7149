"""The store-backed RunSink: each shard writes its cumulative state to its own row about once a second, reads
the run's stop flag, and the last shard to finish freezes the merged summary. Registered with the driver engine
on import, so `load-harness drive --run-id X` needs no other wiring."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from load_harness.driver.sink import RunMeta, register_sink_factory
from load_harness.driver.summary import merge, summarize
from load_harness.store import runs as run_store
from load_harness.store.engine import get_engine

log = logging.getLogger(__name__)


def merged_summary(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The one function that turns shard states into a run's figures (live view and frozen summary alike)."""
    return summarize(merge(states))


class StoreSink:
    def __init__(self, engine: Engine, run_id: str, shard_index: int, shards: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.shard_index = shard_index
        self.shards = shards

    def start(self, meta: RunMeta) -> None:
        run_store.shard_started(self.engine, self.run_id, self.shard_index, meta["host"], meta["pid"])

    def progress(self, state: dict[str, Any]) -> None:
        run_store.shard_progress(self.engine, self.run_id, self.shard_index, state)

    def finish(self, state: dict[str, Any]) -> None:
        run_store.shard_progress(self.engine, self.run_id, self.shard_index, state, finished=True)
        run_store.finish_if_complete(self.engine, self.run_id, merged_summary)

    def should_stop(self) -> bool:
        return run_store.stop_requested(self.engine, self.run_id)


def _factory(run_id: str, shard_index: int, shards: int) -> StoreSink:
    if run_store.get(get_engine(), run_id) is None:
        raise LookupError(f"no run {run_id!r} in the store ({get_engine().url.render_as_string()})")
    return StoreSink(get_engine(), run_id, shard_index, shards)


register_sink_factory(_factory)
