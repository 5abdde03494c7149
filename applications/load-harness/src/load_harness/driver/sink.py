"""Where a run reports to: the `RunSink` protocol. The engine knows nothing about databases.

Call order, all from one background thread of the driver process (never the event loop, so a slow sink cannot
disturb pacing), in this order:

1. `start(meta)` once, before the first request.
2. `progress(state)` about once a second with the cumulative `DriverState` (driver/state.py); a call is
   skipped, not queued, while the previous one is still running. `should_stop()` is called right after each
   `progress`; returning True ends the send window gracefully (in-flight requests still complete and count).
3. `finish(state)` once with the final state, whatever ended the run (duration, --requests, stop, Ctrl-C, abort).

`progress` and `should_stop` failures are reported once on stderr and otherwise ignored: losing a progress write
must not end a load test. `start` and `finish` failures propagate.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from load_harness.driver.state import DriverState, RunMeta


@runtime_checkable
class RunSink(Protocol):
    def start(self, meta: RunMeta) -> None: ...

    def progress(self, state: DriverState) -> None: ...

    def finish(self, state: DriverState) -> None: ...

    def should_stop(self) -> bool: ...


class NullSink:
    """The default sink: reports nowhere, never asks to stop."""

    def start(self, meta: RunMeta) -> None:
        return None

    def progress(self, state: DriverState) -> None:
        return None

    def finish(self, state: DriverState) -> None:
        return None

    def should_stop(self) -> bool:
        return False


class TeeSink:
    """Reports to several sinks (a shard of a stored run that also streams to its launcher); asks to stop when
    any of them does."""

    def __init__(self, *sinks: RunSink) -> None:
        self.sinks = sinks

    def start(self, meta: RunMeta) -> None:
        for sink in self.sinks:
            sink.start(meta)

    def progress(self, state: DriverState) -> None:
        for sink in self.sinks:
            sink.progress(state)

    def finish(self, state: DriverState) -> None:
        for sink in self.sinks:
            sink.finish(state)

    def should_stop(self) -> bool:
        return any(sink.should_stop() for sink in self.sinks)
