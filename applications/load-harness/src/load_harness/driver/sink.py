"""Where a run reports to: the `RunSink` protocol. The engine knows nothing about databases.

Call order, all from one background thread of the driver process (never the event loop, so a slow sink cannot
disturb pacing), in this order:

1. `start(meta)` once, before the first request.
2. `progress(state)` about once a second with the cumulative state (summary.py documents the format); a call is
   skipped, not queued, while the previous one is still running. `should_stop()` is called right after each
   `progress`; returning True ends the send window gracefully (in-flight requests still complete and count).
3. `finish(state)` once with the final state, whatever ended the run (duration, --requests, stop, Ctrl-C, abort).

`progress` and `should_stop` failures are reported once on stderr and otherwise ignored: losing a progress write
must not end a load test. `start` and `finish` failures propagate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict, runtime_checkable


class RunMeta(TypedDict):
    run_id: str | None
    shard_index: int  # which share of the run this process drives
    shards: int  # how many shares the run was split into
    plan: dict[str, Any]  # Plan.to_dict() of the whole run (targets before splitting)
    started_at: float  # epoch seconds of the first scheduled send
    host: str
    pid: int


@runtime_checkable
class RunSink(Protocol):
    def start(self, meta: RunMeta) -> None: ...

    def progress(self, state: dict[str, Any]) -> None: ...

    def finish(self, state: dict[str, Any]) -> None: ...

    def should_stop(self) -> bool: ...


class NullSink:
    """The default sink: reports nowhere, never asks to stop."""

    def start(self, meta: RunMeta) -> None:
        return None

    def progress(self, state: dict[str, Any]) -> None:
        return None

    def finish(self, state: dict[str, Any]) -> None:
        return None

    def should_stop(self) -> bool:
        return False


# The CLI asks this factory for a sink when --run-id is given; the store-backed implementation registers itself
# here so that the engine never imports the store.
SinkFactory = Callable[[str, int, int], RunSink]  # (run_id, shard_index, shards) -> sink
_factory: SinkFactory | None = None


def register_sink_factory(factory: SinkFactory | None) -> None:
    global _factory
    _factory = factory


def sink_for_run(run_id: str, shard_index: int, shards: int) -> RunSink:
    if _factory is None:
        raise LookupError("--run-id needs a run store, and none is registered (register_sink_factory)")
    return _factory(run_id, shard_index, shards)
